"""Every write to orders and resources. Interfaces (API, admin, tasks, commands) call these only."""

from orders.services.base import order_locked_for_write
from orders.services.create import (
    order_create,
    resource_switch_plan,
    resource_terminate,
    resource_update_limits,
)
from orders.services.details import (
    order_delete_attachment,
    order_set_attachment,
    order_set_backend_id,
    order_set_consumer_info,
    order_set_provider_info,
    order_update,
    resource_set_backend_id,
    resource_set_limits,
)
from orders.services.lifecycle import (
    order_cancel,
    order_delete,
    order_release_project,
    order_release_start_date,
    order_unlink,
)
from orders.services.provisioning import (
    order_retry,
    order_set_state_done,
    order_set_state_erred,
    order_set_state_executing,
)
from orders.services.review import (
    order_approve_by_consumer,
    order_approve_by_provider,
    order_reject_by_consumer,
    order_reject_by_provider,
)

__all__ = [
    "order_approve_by_consumer",
    "order_approve_by_provider",
    "order_cancel",
    "order_create",
    "order_delete",
    "order_delete_attachment",
    "order_locked_for_write",
    "order_reject_by_consumer",
    "order_reject_by_provider",
    "order_release_project",
    "order_release_start_date",
    "order_retry",
    "order_set_attachment",
    "order_set_backend_id",
    "order_set_consumer_info",
    "order_set_provider_info",
    "order_set_state_done",
    "order_set_state_erred",
    "order_set_state_executing",
    "order_unlink",
    "order_update",
    "resource_set_backend_id",
    "resource_set_limits",
    "resource_switch_plan",
    "resource_terminate",
    "resource_update_limits",
]
