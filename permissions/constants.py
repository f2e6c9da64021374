"""Names of roles and permissions. Grants (which role holds which permission) are data, see models."""

from django.db import models


class RoleName(models.TextChoices):
    CUSTOMER_OWNER = "CUSTOMER.OWNER", "Organisation owner"
    CUSTOMER_MANAGER = "CUSTOMER.MANAGER", "Service manager"
    CUSTOMER_SUPPORT = "CUSTOMER.SUPPORT", "Organisation support"
    PROJECT_ADMIN = "PROJECT.ADMIN", "Project administrator"
    PROJECT_MANAGER = "PROJECT.MANAGER", "Project manager"
    PROJECT_MEMBER = "PROJECT.MEMBER", "Project member"
    OFFERING_MANAGER = "OFFERING.MANAGER", "Offering manager"


class Permission(models.TextChoices):
    ORDER_LIST = "ORDER.LIST"
    ORDER_CREATE = "ORDER.CREATE"
    ORDER_APPROVE = "ORDER.APPROVE"
    ORDER_APPROVE_PRIVATE = "ORDER.APPROVE_PRIVATE"
    ORDER_REJECT = "ORDER.REJECT"
    ORDER_DESTROY = "ORDER.DESTROY"
    ORDER_CANCEL = "ORDER.CANCEL"
    ORDER_RETRY = "ORDER.RETRY"
    RESOURCE_TERMINATE = "RESOURCE.TERMINATE"
    RESOURCE_SET_PLAN = "RESOURCE.SET_PLAN"
    RESOURCE_SET_LIMITS = "RESOURCE.SET_LIMITS"
    RESOURCE_SET_BACKEND_ID = "RESOURCE.SET_BACKEND_ID"


# The scope kind each role is granted on.
ROLE_SCOPE = {
    RoleName.CUSTOMER_OWNER: "customer",
    RoleName.CUSTOMER_MANAGER: "customer",
    RoleName.CUSTOMER_SUPPORT: "customer",
    RoleName.PROJECT_ADMIN: "project",
    RoleName.PROJECT_MANAGER: "project",
    RoleName.PROJECT_MEMBER: "project",
    RoleName.OFFERING_MANAGER: "offering",
}

_P = Permission
_PROJECT_ADMIN_GRANTS = [
    _P.ORDER_LIST, _P.ORDER_CREATE, _P.ORDER_APPROVE_PRIVATE, _P.ORDER_DESTROY, _P.ORDER_CANCEL,
    _P.RESOURCE_TERMINATE, _P.RESOURCE_SET_PLAN, _P.RESOURCE_SET_LIMITS,
]  # fmt: skip

# Seeded by a data migration; staff edit them in the admin afterwards. ORDER.RETRY follows seed 000:
# staff, owners of the provider organisation and offering managers may retry erred orders.
DEFAULT_GRANTS: dict[str, list[str]] = {
    RoleName.CUSTOMER_OWNER: [
        _P.ORDER_LIST, _P.ORDER_CREATE, _P.ORDER_APPROVE, _P.ORDER_APPROVE_PRIVATE, _P.ORDER_REJECT,
        _P.ORDER_DESTROY, _P.ORDER_CANCEL, _P.ORDER_RETRY, _P.RESOURCE_TERMINATE, _P.RESOURCE_SET_PLAN,
        _P.RESOURCE_SET_LIMITS, _P.RESOURCE_SET_BACKEND_ID,
    ],
    RoleName.CUSTOMER_MANAGER: [_P.ORDER_LIST, _P.ORDER_APPROVE, _P.ORDER_REJECT],
    RoleName.CUSTOMER_SUPPORT: [_P.ORDER_LIST],
    RoleName.PROJECT_ADMIN: _PROJECT_ADMIN_GRANTS,
    RoleName.PROJECT_MANAGER: _PROJECT_ADMIN_GRANTS,
    RoleName.PROJECT_MEMBER: [_P.ORDER_LIST, _P.ORDER_CREATE],
    RoleName.OFFERING_MANAGER: [
        _P.ORDER_LIST, _P.ORDER_APPROVE, _P.ORDER_REJECT, _P.ORDER_RETRY, _P.RESOURCE_SET_BACKEND_ID,
    ],
}  # fmt: skip
