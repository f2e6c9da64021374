"""End-to-end fixtures: a live HTTP server on 127.0.0.1 and the real published clients against it."""

from __future__ import annotations

import pytest
from waldur_api_client import AuthenticatedClient

from tests.conftest import build_world
from tests.factories import token_for


@pytest.fixture
def live_world(transactional_db):
    return build_world()


@pytest.fixture
def client_for(live_server):
    """client_for(user) → a waldur_api_client.AuthenticatedClient speaking HTTP to the live server."""
    opened: list[AuthenticatedClient] = []

    def make(user) -> AuthenticatedClient:
        client = AuthenticatedClient(base_url=live_server.url, token=token_for(user), timeout=30.0)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.get_httpx_client().close()
