"""waldur-site-agent backends for our end-to-end tests.

The agent finds backends only through the `waldur_site_agent.backends` entry-point group, and its core
package registers none, so this package registers the MockBackend the agent ships (`mock`) and a variant
that fails to provision resources whose name starts with "fail-" (`mock-failing`).
"""

from waldur_site_agent.backend.exceptions import BackendError
from waldur_site_agent.testing.mock_backend import MockBackend

FAIL_PREFIX = "fail-"


class FailingMockBackend(MockBackend):
    def create_resource_with_id(self, waldur_resource, resource_backend_id, user_context=None):
        if str(waldur_resource.name).startswith(FAIL_PREFIX):
            raise BackendError(f"mock backend refuses to create {waldur_resource.name}")
        return super().create_resource_with_id(waldur_resource, resource_backend_id, user_context)


__all__ = ["FailingMockBackend", "MockBackend"]
