"""Every operation added for the published clients is in the OpenAPI schema with each code it can answer
(read off the views, their policies and services by hand; 401 everywhere but the public configuration)."""

from __future__ import annotations

import pytest

from tests.api.test_schema import declared, schema  # noqa: F401  (the module-scoped schema fixture)

_PROVIDER_RESOURCE = "/api/marketplace-provider-resources/{uuid}/"
_RESOURCE = "/api/marketplace-resources/{uuid}/"
COMPAT_OPERATIONS = {
    ("get", "/api/marketplace-offering-users/"): {200, 400, 401, 404},
    ("post", "/api/marketplace-offering-users/"): {201, 400, 401, 403},
    ("get", "/api/marketplace-offering-users/{uuid}/"): {200, 401, 404},
    ("delete", "/api/marketplace-offering-users/{uuid}/"): {204, 401, 403, 404},
    ("get", "/api/users/"): {200, 400, 401, 404},
    ("get", "/api/roles/"): {200, 400, 401, 404},
    ("get", "/api/roles/{name}/"): {200, 401, 404},
    ("get", "/api/configuration/"): {200},
    ("patch", _RESOURCE): {200, 400, 401, 403, 404, 409},
    ("get", _RESOURCE + "plan_periods/"): {200, 401, 404},
    ("post", _RESOURCE + "update_options/"): {200, 400, 401, 403, 404, 409},
    ("patch", _PROVIDER_RESOURCE): {200, 400, 401, 403, 404, 409},
    ("get", _PROVIDER_RESOURCE + "plan_periods/"): {200, 401, 404},
    ("post", _PROVIDER_RESOURCE + "terminate/"): {200, 400, 401, 403, 404, 409},
    ("post", _PROVIDER_RESOURCE + "set_backend_metadata/"): {200, 400, 401, 403, 404},
    ("post", _PROVIDER_RESOURCE + "set_as_erred/"): {200, 400, 401, 403, 404, 409},
    ("post", _PROVIDER_RESOURCE + "set_as_ok/"): {200, 401, 403, 404, 409},
    ("post", _PROVIDER_RESOURCE + "submit_report/"): {200, 400, 401, 403, 404},
    ("post", _PROVIDER_RESOURCE + "refresh_last_sync/"): {200, 401, 403, 404},
    ("get", "/api/marketplace-provider-offerings/{offering_uuid}/orders/"): {200, 400, 401, 404},
    ("get", "/api/marketplace-provider-offerings/{offering_uuid}/orders/{order_uuid}/"): {200, 401, 404},
    ("get", "/api/marketplace-orders/dashboard-my-orders/"): {200, 400, 401, 404},
    ("get", "/api/marketplace-service-providers/{uuid}/projects/"): {200, 401, 404},
    ("get", "/api/marketplace-service-providers/{uuid}/users/"): {200, 401, 404},
    ("get", "/api/marketplace-component-usages/"): {200, 401, 404},
}


@pytest.mark.parametrize("method, path", list(COMPAT_OPERATIONS))
def test_client_compatibility_operation_declares_every_code_it_can_answer(schema, method, path):  # noqa: F811
    assert COMPAT_OPERATIONS[(method, path)] - declared(schema, method, path) == set()


def test_identities_declare_their_compatibility_object(schema):  # noqa: F811
    identity = schema["components"]["schemas"]["AgentIdentity"]

    assert "compatibility" in identity["properties"] and "compatibility" in identity["required"]
