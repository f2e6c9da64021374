"""API tokens with an optional lifetime (core/api/authentication.py), rotating a site agent's token from the
admin (offerings/agent_tokens.py), and an agent's configuration text with its credentials masked."""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from offerings import agent_services
from offerings.agent_config import mask_config_text
from tests.factories import token_for

ME = "/api/users/me/"
AGENT_CONFIG = """offerings:
  - name: "Demo SLURM cluster"
    waldur_api_url: "https://marketplace.example.org/api/"
    waldur_api_token: "0123456789abcdef0123456789abcdef01234567"
    waldur_offering_uuid: "d3b07384d113edec49eaa6238ad5ff00"
    stomp_ws_password: hunter2
    backend_settings:
      database: postgres://slurm:dbpass@db.example:5432/slurm
      private_key: |
        -----BEGIN KEY-----
        c2VjcmV0
        -----END KEY-----
      default_account: root
"""


def age_token(user, hours: float) -> str:
    key = token_for(user)
    Token.objects.filter(key=key).update(created=timezone.now() - datetime.timedelta(hours=hours))
    return key


def test_a_token_older_than_the_lifetime_is_refused_with_401(world, api, settings):
    settings.TOKEN_TTL_HOURS = 24
    key = age_token(world.user("project_member"), hours=25)

    response = api.get(ME, HTTP_AUTHORIZATION=f"Token {key}")

    assert response.status_code == 401
    assert response.json()["detail"] == "Token has expired."


def test_a_token_within_the_lifetime_works(world, api, settings):
    settings.TOKEN_TTL_HOURS = 24
    key = age_token(world.user("project_member"), hours=23)

    assert api.get(ME, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_without_a_lifetime_tokens_never_expire(world, api, settings):
    settings.TOKEN_TTL_HOURS = None
    key = age_token(world.user("project_member"), hours=24 * 365 * 5)

    assert api.get(ME, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


@pytest.fixture
def agent(world):
    identity, _ = agent_services.agent_identity_register(
        actor=world.user("offering_manager"), offering=world.slurm, name="agent-hpc", version="1.0.7",
        config_file_path="/etc/waldur/config.yaml", config_file_content=AGENT_CONFIG,
    )  # fmt: skip
    return identity


def test_staff_rotate_an_agents_token_in_the_admin_and_the_old_one_stops_working(client, world, api, agent):
    manager = world.user("offering_manager")
    old_key = token_for(manager)
    client.force_login(world.user("staff"))

    response = client.post(
        reverse("admin:offerings_agentidentity_changelist"),
        {"action": "rotate_token", "_selected_action": [agent.pk]},
    )

    assert response.status_code == 302
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    new_key = Token.objects.get(user=manager).key
    assert new_key != old_key and new_key in message and manager.username in message
    assert api.get(ME, HTTP_AUTHORIZATION=f"Token {old_key}").status_code == 401
    assert api.get(ME, HTTP_AUTHORIZATION=f"Token {new_key}").status_code == 200


def test_a_rotated_token_starts_a_new_lifetime(client, world, api, agent, settings):
    settings.TOKEN_TTL_HOURS = 24
    age_token(world.user("offering_manager"), hours=48)
    client.force_login(world.user("staff"))

    client.post(
        reverse("admin:offerings_agentidentity_changelist"), {"action": "rotate_token", "_selected_action": [agent.pk]}
    )

    new_key = Token.objects.get(user=world.user("offering_manager")).key
    assert api.get(ME, HTTP_AUTHORIZATION=f"Token {new_key}").status_code == 200


def test_an_agents_configuration_is_served_with_its_credentials_masked(world, api, agent):
    for user in ("offering_manager", "provider_owner", "staff"):
        response = api.as_user(world.user(user)).get(f"/api/marketplace-site-agent-identities/{agent.uuid.hex}/")

        assert response.status_code == 200, user
        content = response.json()["config_file_content"]
        for secret in ("0123456789abcdef0123456789abcdef01234567", "hunter2", "dbpass", "c2VjcmV0", "BEGIN KEY"):
            assert secret not in content, (user, secret)
        assert 'waldur_api_url: "https://marketplace.example.org/api/"' in content
        assert "default_account: root" in content and "postgres://slurm:********@db.example" in content


def test_masking_keeps_the_shape_of_the_configuration():
    masked = mask_config_text(AGENT_CONFIG)

    assert masked.count("\n") == AGENT_CONFIG.count("\n")
    assert re.search(r"^    waldur_api_token: \*{8}$", masked, flags=re.MULTILINE)
    assert 'waldur_offering_uuid: "d3b07384d113edec49eaa6238ad5ff00"' in masked
    assert mask_config_text("") == "" and mask_config_text(None) == ""
