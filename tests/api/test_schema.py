"""The OpenAPI schema: valid, every answer of the order endpoints declared, Swagger UI served offline, and
the live server conforming to it under schemathesis."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from tests.api import make_order, order_url
from tests.conftest import build_world
from tests.factories import token_for

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")

# The status codes each order operation can answer, read off orders/views.py and its services by hand
# (401 for every operation: token auth). HEAD is served by the list view and is not an OpenAPI operation.
_ACT = {200, 400, 401, 403, 404, 409}
ORDER_OPERATIONS = {
    ("get", "/api/marketplace-orders/"): {200, 400, 401, 404},  # 404: page beyond the last
    ("post", "/api/marketplace-orders/"): {201, 400, 401, 403},
    ("get", "/api/marketplace-orders/{uuid}/"): {200, 401, 404},
    ("put", "/api/marketplace-orders/{uuid}/"): _ACT,
    ("patch", "/api/marketplace-orders/{uuid}/"): _ACT,
    ("delete", "/api/marketplace-orders/{uuid}/"): {204, 401, 403, 404, 409},
    ("post", "/api/marketplace-orders/{uuid}/approve_by_consumer/"): {200, 401, 403, 404, 409},
    ("post", "/api/marketplace-orders/{uuid}/approve_by_provider/"): _ACT,
    ("post", "/api/marketplace-orders/{uuid}/reject_by_consumer/"): _ACT,
    ("post", "/api/marketplace-orders/{uuid}/reject_by_provider/"): _ACT,
    ("post", "/api/marketplace-orders/{uuid}/set_state_executing/"): {200, 401, 403, 404, 405, 409},
    ("post", "/api/marketplace-orders/{uuid}/set_state_done/"): {200, 401, 403, 404, 405, 409},
    ("post", "/api/marketplace-orders/{uuid}/set_state_erred/"): _ACT | {405},
    ("post", "/api/marketplace-orders/{uuid}/retry/"): {200, 401, 403, 404, 405, 409},
    ("post", "/api/marketplace-orders/{uuid}/cancel/"): {202, 400, 401, 403, 404, 405, 409},
    ("post", "/api/marketplace-orders/{uuid}/unlink/"): {204, 401, 403, 404},
    ("post", "/api/marketplace-orders/{uuid}/set_backend_id/"): {200, 400, 401, 403, 404},
    ("post", "/api/marketplace-orders/{uuid}/update_attachment/"): _ACT,
    ("post", "/api/marketplace-orders/{uuid}/delete_attachment/"): {204, 400, 401, 403, 404, 409},
    ("post", "/api/marketplace-orders/{uuid}/set_consumer_info/"): _ACT,
    ("post", "/api/marketplace-orders/{uuid}/set_provider_info/"): _ACT,
    ("get", "/api/marketplace-orders/{uuid}/resource/"): {200, 401, 404},
    ("get", "/api/marketplace-orders/{uuid}/offering/"): {200, 401, 404},
    ("get", "/api/marketplace-orders/{uuid}/events/"): {200, 401, 404},
    ("post", "/api/marketplace-orders/bulk_retry/"): {200, 202, 400, 401, 403, 409},
}
_JOB_ACT = {200, 401, 403, 404, 409}
JOB_OPERATIONS = {
    ("get", "/api/marketplace-order-jobs/"): {200, 400, 401, 404},
    ("get", "/api/marketplace-order-jobs/{uuid}/"): {200, 401, 404},
    ("get", "/api/marketplace-order-jobs/{uuid}/report/"): {200, 400, 401, 404},
    ("post", "/api/marketplace-order-jobs/{uuid}/pause/"): _JOB_ACT,
    ("post", "/api/marketplace-order-jobs/{uuid}/resume/"): _JOB_ACT,
    ("post", "/api/marketplace-order-jobs/{uuid}/cancel/"): _JOB_ACT,
}
RESOURCE_LISTS = ("/api/marketplace-resources/", "/api/marketplace-provider-resources/")


@pytest.fixture(scope="module")
def schema() -> dict:
    out = io.StringIO()
    call_command("spectacular", "--format", "openapi", stdout=out)
    return yaml.safe_load(out.getvalue())


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def declared(schema: dict, method: str, path: str) -> set[int]:
    return {int(code) for code in schema["paths"][path][method]["responses"]}


def test_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert (tmp_path / "schema.yaml").stat().st_size > 0


def test_every_order_operation_is_in_the_schema(schema):
    served = {
        (method, path)
        for path, operations in schema["paths"].items()
        if path.startswith("/api/marketplace-orders/")
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }

    assert set(ORDER_OPERATIONS) <= served


@pytest.mark.parametrize("method, path", list(ORDER_OPERATIONS))
def test_order_operation_declares_401_and_every_code_it_can_answer(schema, method, path):
    codes = declared(schema, method, path)

    assert 401 in codes
    assert ORDER_OPERATIONS[(method, path)] - codes == set()


@pytest.mark.parametrize("method, path", list(JOB_OPERATIONS))
def test_job_operation_declares_401_and_every_code_it_can_answer(schema, method, path):
    assert JOB_OPERATIONS[(method, path)] - declared(schema, method, path) == set()


def test_bulk_retry_documents_the_order_filters_and_the_idempotency_key(schema):
    operation = schema["paths"]["/api/marketplace-orders/bulk_retry/"]["post"]
    parameters = {(p["in"], p["name"]) for p in operation["parameters"]}

    assert {("query", "failed_after"), ("query", "error_is_transient"), ("header", "Idempotency-Key")} <= parameters


@pytest.mark.parametrize("path", RESOURCE_LISTS)
def test_resource_lists_declare_the_404_of_a_page_beyond_the_last(schema, path):
    assert 404 in declared(schema, "get", path)


def test_cancel_declares_202_and_its_refusals(schema):
    assert declared(schema, "post", "/api/marketplace-orders/{uuid}/cancel/") >= {202, 401, 403, 404, 405, 409}


def test_list_is_declared_as_a_bare_array(schema):
    ok = schema["paths"]["/api/marketplace-orders/"]["get"]["responses"]["200"]["content"]["application/json"]

    assert resolve(schema, ok["schema"])["type"] == "array"


def test_swagger_ui_renders_with_local_assets(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert re.findall(r"""(?:src|href)=["']https?://""", page) == []
    assets = re.findall(r"""(?:src|href)=["'](/static/[^"']+)["']""", page)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        fetched = client.get(asset)
        assert fetched.status_code == 200, asset
        body = b"".join(fetched.streaming_content) if fetched.streaming else fetched.content
        assert body, asset


def test_events_answers_only_declared_codes_for_its_documented_parameters(schema, world, api):
    order = make_order(world, "executing")
    documented = {p["name"] for p in schema["paths"]["/api/marketplace-orders/{uuid}/events/"]["get"]["parameters"]}

    response = api.as_user(world.user("provider_owner")).get(order_url(order, "events"), {"type": "null"})

    assert "type" not in documented or response.status_code in declared(
        schema, "get", "/api/marketplace-orders/{uuid}/events/"
    )


def test_schema_endpoint_serves_the_schema(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert "/api/marketplace-orders/{uuid}/approve_by_provider/" in response.content.decode()


@pytest.mark.e2e
def test_schemathesis_finds_no_server_error_or_schema_mismatch_on_the_order_endpoints(
    live_server, transactional_db, tmp_path
):
    world = build_world()
    token = token_for(world.user("provider_owner"))
    command = [
        str(SCHEMATHESIS), "run", f"{live_server.url}/api/schema/",
        "-H", f"Authorization: Token {token}",
        "--include-path-regex", "/api/marketplace-orders/",
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        "--max-examples", "15", "--seed", "1", "--no-color", "--workers", "1",
        "--phases", "examples,coverage,fuzzing", "--request-timeout", "20", "--generation-database", "none",
    ]  # fmt: skip

    # run in a scratch directory: schemathesis keeps a cache in ./.schemathesis
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)

    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
