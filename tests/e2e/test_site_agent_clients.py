"""The real waldur-site-agent 1.0.7 with each published waldur-api-client (8.1.2, which it pins, and 8.1.3):
a full order cycle of Create, Update and Terminate logging no error and no 404 (offering users included),
and the identity list parsed whichever optional fields the identities were registered with."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from offerings.models import AgentIdentity, OfferingUser
from orders import services
from tests.e2e.client_versions import API_CLIENT_VERSIONS, client_env, imported_version
from tests.e2e.site_agent import agent_config, require_backend, run_cycle
from tests.e2e.test_site_agent import fetch, place, provisioned_resource
from tests.factories import token_for

pytestmark = [pytest.mark.e2e]

IDENTITY_LIST = Path(__file__).with_name("identity_list.py")
HTTP_404 = re.compile(r"status code: 404|Not [Ff]ound|\b404\b")


@pytest.fixture(params=API_CLIENT_VERSIONS, ids=lambda v: f"waldur-api-client-{v}")
def client_version(request) -> tuple[str, dict[str, str]]:
    env = client_env(request.param)
    assert imported_version(env) == request.param  # the child processes really run this version
    return request.param, env


def test_agent_takes_create_update_and_terminate_orders_to_done_with_each_client_version(
    live_server, live_world, client_version, tmp_path
):
    require_backend("mock")
    version, env = client_version
    world, owner = live_world, live_world.user("consumer_owner")
    member = world.user("project_member")
    OfferingUser.objects.create(offering=world.slurm, user=member, username="member01", state="OK")
    create = place(world, owner, "alloc-create")
    update = services.resource_update_limits(
        actor=owner, resource=provisioned_resource(world, owner, "alloc-update"), limits={"cpu": 42}
    )
    terminate = services.resource_terminate(actor=owner, resource=provisioned_resource(world, owner, "alloc-gone"))
    config = agent_config(
        api_url=f"{live_server.url}/api/", token=token_for(world.user("offering_manager")),
        offering_uuid=world.slurm.uuid.hex, backend="mock",
    )  # fmt: skip

    result = run_cycle(config, tmp_path, env)

    assert result.errors == [], result.output[-4000:]
    assert [w for w in result.warnings if "404" in w or "offering-users" in w] == [], result.warnings
    assert not HTTP_404.search(result.output), HTTP_404.search(result.output).group(0)
    create, update, terminate = fetch(create), fetch(update), fetch(terminate)
    assert (create.state, create.resource.state, create.resource.limits) == ("done", "OK", {"cpu": 1000, "mem": 2048})
    assert create.resource.backend_id
    assert (update.state, update.resource.state, update.resource.limits["cpu"]) == ("done", "OK", 42)
    assert (terminate.state, terminate.resource.state) == ("done", "Terminated")
    identity = AgentIdentity.objects.get(offering=world.slurm)
    reported = {d["package"]: d["version"] for d in identity.dependencies}
    assert reported.get("waldur-api-client", version) == version


def register(live_server, user, body: dict) -> dict:
    response = httpx.post(
        f"{live_server.url}/api/marketplace-site-agent-identities/", json=body,
        headers={"Authorization": f"Token {token_for(user)}"}, timeout=30,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()


def test_identity_list_parses_with_each_client_version_whatever_optional_fields_were_registered(
    live_server, live_world, client_version
):
    version, env = client_version
    world, manager = live_world, live_world.user("offering_manager")
    offering = world.slurm.uuid.hex
    bare = register(live_server, manager, {"offering": offering, "name": "bare-agent"})
    register(live_server, manager, {"offering": offering, "name": "versioned-agent", "version": "1.0.7"})
    register(
        live_server, manager,
        {
            "offering": offering, "name": "full-agent", "version": "1.0.7",
            "dependencies": [{"package": "waldur-api-client", "version": version}],
            "config_file_path": "/etc/agent.yaml", "config_file_content": "offerings: []",
            "last_restarted": "2030-01-02T03:04:05+00:00",
        },
    )  # fmt: skip
    assert "last_restarted" not in bare and bare["compatibility"]["status"] == "unknown"  # never a null datetime

    process = subprocess.run(
        [sys.executable, str(IDENTITY_LIST), live_server.url, token_for(manager), offering],
        capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )  # fmt: skip

    assert process.returncode == 0, process.stderr[-3000:]
    parsed = json.loads(process.stdout)
    assert parsed["version"] == version
    assert sorted((i["name"], i["compatibility"], i["last_restarted"]) for i in parsed["identities"]) == [
        ("bare-agent", "unknown", False),
        ("full-agent", "compatible", True),
        ("versioned-agent", "compatible", False),
    ]
