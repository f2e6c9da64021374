"""schemathesis over every operation of /api/schema/, as platform staff and as a project member: the live
server answers only documented status codes, with bodies and content types that conform to the schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api import make_order, ok_resource
from tests.conftest import World, build_world
from tests.factories import token_for

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")

# Left out, and why:
# - the attachment download (`/attachments/{field}/{name}`) answers a file whose name only an order's
#   `attachment` link gives; generated names are always a 404, so fuzzing it checks nothing. Its codes and
#   content are tested in tests/api/test_attachment_download.py.
EXCLUDED_PATHS = r"/attachments/"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
CALLERS = ("staff", "project_member")
UUID_PARAMETERS = ("uuid", "offering_uuid", "order_uuid", "plan_uuid")


def real_uuids(world: World) -> list[str]:
    """The uuids of the world's objects (and a few orders and a resource), so that about half of the
    generated `{uuid}` paths reach a real object rather than a 404."""
    orders = [make_order(world, state) for state in ("pending-consumer", "executing", "done")]
    objects = [
        *orders, ok_resource(world), world.customer, world.project, world.provider, world.service_provider,
        world.basic, world.slurm, world.webhook, *world.plans.values(),
    ]  # fmt: skip
    return [obj.uuid.hex for obj in objects]


def config(uuids: list[str]) -> str:
    """A schemathesis.toml drawing path uuids from `uuids` with probability 0.5."""
    lines = ["[dictionaries.uuids]", f"values = {json.dumps(uuids)}", "", "[parameters]"]
    lines += [f'"path.{name}" = {{ dictionary = "uuids", probability = 0.5 }}' for name in UUID_PARAMETERS]
    return "\n".join(lines) + "\n"


@pytest.mark.e2e
@pytest.mark.parametrize("caller", CALLERS)
def test_schemathesis_finds_no_server_error_or_schema_mismatch_on_any_operation(
    caller, live_server, transactional_db, tmp_path
):
    world = build_world()
    (tmp_path / "schemathesis.toml").write_text(config(real_uuids(world)))
    token = token_for(world.user(caller))
    command = [
        str(SCHEMATHESIS), "run", f"{live_server.url}/api/schema/",
        "-H", f"Authorization: Token {token}",
        "--exclude-path-regex", EXCLUDED_PATHS,
        "--checks", CHECKS,
        "--max-examples", "5", "--seed", "1", "--no-color", "--workers", "1",
        "--phases", "examples,fuzzing", "--request-timeout", "20", "--generation-database", "none",
    ]  # fmt: skip

    # run in a scratch directory: schemathesis keeps a cache in ./.schemathesis
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)

    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
