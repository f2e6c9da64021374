"""Every "may user X do Y to Z" rule, once. Views, admin, services and available_transitions call these.

Policies answer about rights only; whether the order's state or offering type allows the action is the
services' business (409/405). Orders and resources are duck-typed: they carry project/offering ids and
the customers behind them (select_related in selectors), so no query is made here.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from permissions.constants import Permission as P
from permissions.roles import Scope, grants_of


def is_staff(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def is_support(user) -> bool:
    """Support users read everything and change nothing (flag on the user's marketplace profile)."""
    if user is None or not user.is_authenticated:
        return False
    # a missing profile raises RelatedObjectDoesNotExist, an AttributeError; Django caches the miss
    return bool(getattr(getattr(user, "marketplace_profile", None), "is_support", False))


def sees_everything(user) -> bool:
    return is_staff(user) or is_support(user)


def consumer_chain(obj: Any) -> list[Scope]:
    """The consumer-side scopes of an order or resource: its project, then the project's customer."""
    return [("project", obj.project_id), ("customer", obj.project.customer_id)]


def provider_chain(obj: Any) -> list[Scope]:
    """The provider-side scopes: the offering, then the provider organisation."""
    return [("offering", obj.offering_id), ("customer", obj.offering.customer_id)]


def project_chain(project: Any) -> list[Scope]:
    return [("project", project.pk), ("customer", project.customer_id)]


def offering_chain(offering: Any) -> list[Scope]:
    return [("offering", offering.pk), ("customer", offering.customer_id)]


def has_consumer_permission(user, permission: str, obj: Any) -> bool:
    return is_staff(user) or grants_of(user).has(permission, consumer_chain(obj))


def has_provider_permission(user, permission: str, obj: Any) -> bool:
    return is_staff(user) or grants_of(user).has(permission, provider_chain(obj))


def is_author(user, order: Any) -> bool:
    return user is not None and user.is_authenticated and order.created_by_id == user.pk


# --- orders -------------------------------------------------------------------------------------


def can_create_order(user, project: Any) -> bool:
    """Place an order in a project: ORDER.CREATE on the project or its organisation."""
    return is_staff(user) or grants_of(user).has(P.ORDER_CREATE, project_chain(project))


def can_approve_order_as_consumer(user, order: Any) -> bool:
    """Consumer approval: ORDER.APPROVE on the order's project or its organisation."""
    return has_consumer_permission(user, P.ORDER_APPROVE, order)


def can_reject_order_as_consumer(user, order: Any) -> bool:
    """Consumer rejection: a consumer approver, a holder of ORDER.REJECT there, or the author."""
    return (
        has_consumer_permission(user, P.ORDER_APPROVE, order)
        or has_consumer_permission(user, P.ORDER_REJECT, order)
        or is_author(user, order)
    )


def can_approve_order_as_provider(user, order: Any) -> bool:
    """Provider approval: ORDER.APPROVE on the offering or the provider organisation."""
    return has_provider_permission(user, P.ORDER_APPROVE, order)


def can_reject_order_as_provider(user, order: Any) -> bool:
    """Provider rejection: ORDER.REJECT on the offering or the provider organisation."""
    return has_provider_permission(user, P.ORDER_REJECT, order)


def can_drive_order_provisioning(user, order: Any) -> bool:
    """set_state_executing/done/erred: the provider side's ORDER.APPROVE (people and site agents)."""
    return has_provider_permission(user, P.ORDER_APPROVE, order)


def can_retry_order(user, order: Any) -> bool:
    """Retry an erred order (seed 000): staff, provider owners, offering managers (ORDER.RETRY)."""
    return has_provider_permission(user, P.ORDER_RETRY, order)


def can_retry_orders_of_offering(user, offering: Any) -> bool:
    """The same right for every order of one offering (bulk resubmit previews group by offering)."""
    return is_staff(user) or grants_of(user).has(P.ORDER_RETRY, offering_chain(offering))


def can_retry_orders_somewhere(user, offerings: Any) -> bool:
    """Bulk resubmit at all: staff, or the retry right on at least one of `offerings` (a queryset; one
    query). Consumer roles, service managers and owners of organisations without offerings hold it nowhere."""
    if is_staff(user):
        return True
    grants = grants_of(user)
    own, providers = grants.scope_ids(P.ORDER_RETRY, "offering"), grants.scope_ids(P.ORDER_RETRY, "customer")
    if not (own or providers):
        return False
    return offerings.filter(Q(id__in=own) | Q(customer_id__in=providers)).exists()


def can_manage_job(user, job: Any) -> bool:
    """Pause, resume or cancel a job (a bulk resubmit): staff, or the user who started it."""
    if is_staff(user):
        return True
    return bool(user is not None and user.is_authenticated and user.is_active and job.created_by_id == user.pk)


def can_cancel_order(user, order: Any) -> bool:
    """Cancel: ORDER.CANCEL on the order's project or its organisation (the consumer side)."""
    return has_consumer_permission(user, P.ORDER_CANCEL, order)


def can_destroy_order(user, order: Any) -> bool:
    """Delete a pending order: ORDER.DESTROY on the order's project or its organisation."""
    return has_consumer_permission(user, P.ORDER_DESTROY, order)


def can_release_order(user, order: Any) -> bool:
    """Move on an order waiting for a date before the periodic sweep does: staff only."""
    return is_staff(user)


def can_unlink_order(user, order: Any) -> bool:
    """Remove the order row without touching the backend: staff only."""
    return is_staff(user)


def can_update_order(user, order: Any) -> bool:
    """Change limits, attributes or start date of a pending order: its author or a consumer approver."""
    return is_author(user, order) or has_consumer_permission(user, P.ORDER_APPROVE, order)


def can_manage_order_attachment(user, order: Any) -> bool:
    """Upload or remove the purchase order: the author or anyone who may create orders in the project."""
    return is_author(user, order) or has_consumer_permission(user, P.ORDER_CREATE, order)


def can_set_order_consumer_info(user, order: Any) -> bool:
    """The consumer's message: the author or a consumer approver (ORDER.APPROVE on the project chain)."""
    return is_author(user, order) or has_consumer_permission(user, P.ORDER_APPROVE, order)


def can_set_order_provider_info(user, order: Any) -> bool:
    """The provider's message: ORDER.APPROVE on the offering or the provider organisation."""
    return has_provider_permission(user, P.ORDER_APPROVE, order)


def can_set_order_backend_id(user, order: Any) -> bool:
    """The provider's id for the order: RESOURCE.SET_BACKEND_ID on the offering or the provider organisation."""
    return has_provider_permission(user, P.RESOURCE_SET_BACKEND_ID, order)


# --- resources ----------------------------------------------------------------------------------


def can_terminate_resource(user, resource: Any) -> bool:
    """The consumer asks to terminate a resource: whoever holds the resource-terminate right on its project or
    organisation, and platform staff."""
    return has_consumer_permission(user, P.RESOURCE_TERMINATE, resource)


def can_switch_resource_plan(user, resource: Any) -> bool:
    """The consumer moves a resource to another plan: whoever holds the set-plan right on its project or
    organisation, and platform staff."""
    return has_consumer_permission(user, P.RESOURCE_SET_PLAN, resource)


def can_update_resource_limits(user, resource: Any) -> bool:
    """The consumer changes a resource's limits or options: whoever holds the set-limits right on its project or
    organisation, and platform staff."""
    return has_consumer_permission(user, P.RESOURCE_SET_LIMITS, resource)


def can_set_resource_backend_id(user, resource: Any) -> bool:
    """The provider's side records backend facts about a resource: whoever holds the set-backend-id right on its
    offering or provider organisation, and platform staff."""
    return has_provider_permission(user, P.RESOURCE_SET_BACKEND_ID, resource)


def can_terminate_resource_as_provider(user, resource: Any) -> bool:
    """The provider asks to terminate a resource of its offering: whoever may approve its orders there."""
    return has_provider_permission(user, P.ORDER_APPROVE, resource)


def can_set_resource_state_as_provider(user, resource: Any) -> bool:
    """The provider marks a resource erred or OK on its side (python-waldur-client set_as_erred/set_as_ok)."""
    return has_provider_permission(user, P.ORDER_APPROVE, resource) or has_provider_permission(
        user, P.RESOURCE_SET_BACKEND_ID, resource
    )


def can_set_resource_limits_as_provider(user, resource: Any) -> bool:
    """The provider reports the limits it provisioned (site agents do after create)."""
    return has_provider_permission(user, P.ORDER_APPROVE, resource) or has_provider_permission(
        user, P.RESOURCE_SET_BACKEND_ID, resource
    )


# --- offerings and agents -----------------------------------------------------------------------


def can_see_provider_consumers(user, provider: Any) -> bool:
    """Who consumes a provider's offerings (projects and their people): the provider organisation's
    people who see its orders, staff and support."""
    return sees_everything(user) or grants_of(user).has(P.ORDER_LIST, [("customer", provider.customer_id)])


def can_manage_offering(user, offering: Any) -> bool:
    """Provider-side management of an offering (agent registration, provider views)."""
    return is_staff(user) or grants_of(user).has(P.ORDER_APPROVE, offering_chain(offering))


def can_see_offering_as_provider(user, offering: Any) -> bool:
    return sees_everything(user) or grants_of(user).has(P.ORDER_LIST, offering_chain(offering))


def can_see_offering_internals(user, offering: Any) -> bool:
    """The offering's internal plugin options (fulfilment URL, probes): its provider's staff, platform staff."""
    return can_see_offering_as_provider(user, offering)
