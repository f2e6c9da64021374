"""What a provider (or its automation: python-waldur-client playbooks, site agents) does to a resource
directly, and what a consumer edits on it without an order. Same shape as every write: right (403) →
lock → state (409) → save."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction

from orders.exceptions import ActionNotPermitted, ResourceStateConflict
from orders.models import Order, Resource
from orders.services import validation as v
from orders.services.create import _order_on_resource
from orders.services.resource_effects import lock_resource, move_resource
from orders.states import OrderType
from orders.states import ResourceState as R
from permissions import policies

REPORT_KEY = "report"  # a provider's report is kept in the resource's backend metadata under this key


def _require(allowed: bool) -> None:
    if not allowed:
        raise ActionNotPermitted()


def resource_terminate_by_provider(*, actor: Any, resource: Resource, attributes: dict | None = None) -> Order:
    """The provider asks to terminate a resource of its offering: a Terminate order, routed like any other
    (the consumer side reviews it unless the author may approve there)."""
    _require(policies.can_terminate_resource_as_provider(actor, resource))
    return _order_on_resource(
        actor=actor, resource=resource, order_type=OrderType.TERMINATE, allowed=(R.OK, R.ERRED),
        attributes=v.validate_attributes(attributes), plan=resource.plan,
    )  # fmt: skip


def resource_set_backend_metadata(*, actor: Any, resource: Resource, backend_metadata: dict) -> Resource:
    """Replace what the provider records about its backend object (the report is kept)."""
    _require(policies.can_set_resource_backend_id(actor, resource))
    metadata = v.validate_attributes(backend_metadata)
    with transaction.atomic():
        locked = lock_resource(resource)
        report = locked.backend_metadata.get(REPORT_KEY)
        locked.backend_metadata = {**metadata, **({REPORT_KEY: report} if report is not None else {})}
        locked.save(update_fields=["backend_metadata", "modified"])
    return locked


def resource_submit_report(*, actor: Any, resource: Resource, report: list[dict]) -> Resource:
    """The provider's report to the consumer (sections with a header and a body)."""
    _require(policies.can_set_resource_backend_id(actor, resource))
    with transaction.atomic():
        locked = lock_resource(resource)
        locked.backend_metadata = {**locked.backend_metadata, REPORT_KEY: report}
        locked.save(update_fields=["backend_metadata", "modified"])
    return locked


def _set_state(*, actor: Any, resource: Resource, method: str, **kwargs: Any) -> Resource:
    _require(policies.can_set_resource_state_as_provider(actor, resource))
    with transaction.atomic():
        locked = lock_resource(resource)
        if locked.state != R.TERMINATED and locked.orders.filter(state="executing").exists():
            raise ResourceStateConflict("An order of this resource is being processed; finish that order instead.")
        move_resource(locked, method, **kwargs)  # Terminated resources stay so (409)
        locked.save()
    return locked


def resource_set_as_ok(*, actor: Any, resource: Resource) -> Resource:
    """The provider reports the resource healthy again (clears its error)."""
    return _set_state(actor=actor, resource=resource, method="set_ok")


def resource_set_as_erred(
    *, actor: Any, resource: Resource, error_message: str = "", error_traceback: str = ""
) -> Resource:
    """The provider reports the resource broken on its side."""
    return _set_state(
        actor=actor, resource=resource, method="set_erred", message=error_message, traceback=error_traceback
    )


def resource_refresh_last_sync(*, actor: Any, resource: Resource) -> Resource:
    """The provider's automation says it has just synchronised the resource (its `modified` moves)."""
    _require(policies.can_set_resource_backend_id(actor, resource))
    with transaction.atomic():
        locked = lock_resource(resource)
        locked.save(update_fields=["modified"])
    return locked


def resource_update_details(
    *,
    actor: Any,
    resource: Resource,
    side: str,
    name: str | None = None,
    end_date: datetime.date | None = None,
    set_end_date: bool = False,
) -> Resource:
    """Rename a resource or change its end date (PATCH): the consumer who may change its limits, or the
    provider who manages it. No order: nothing is provisioned."""
    if side == "provider":
        _require(policies.can_set_resource_backend_id(actor, resource))
    else:
        _require(policies.can_update_resource_limits(actor, resource))
    with transaction.atomic():
        locked = lock_resource(resource)
        if locked.state == R.TERMINATED:
            raise ResourceStateConflict("A terminated resource cannot be changed.")
        fields = ["modified"]
        if name is not None:
            locked.name = name
            fields.append("name")
        if set_end_date:
            locked.end_date = end_date
            fields.append("end_date")
        locked.save(update_fields=fields)
    return locked


def resource_update_options(*, actor: Any, resource: Resource, options: dict) -> Resource:
    """The consumer changes the resource's options (kept in its attributes under `options`); options
    configure nothing that is provisioned here, so no order is placed."""
    _require(policies.can_update_resource_limits(actor, resource))
    options = v.validate_attributes(options)
    with transaction.atomic():
        locked = lock_resource(resource)
        if locked.state == R.TERMINATED:
            raise ResourceStateConflict("A terminated resource cannot be changed.")
        locked.attributes = {**locked.attributes, "options": options}
        locked.save(update_fields=["attributes", "modified"])
    return locked
