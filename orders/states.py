"""Order and resource states and order types: the exact strings on the wire."""

from django.db import models


class OrderState(models.TextChoices):
    PENDING_CONSUMER = "pending-consumer"
    PENDING_PROVIDER = "pending-provider"
    PENDING_PROJECT = "pending-project"
    PENDING_START_DATE = "pending-start-date"
    EXECUTING = "executing"
    DONE = "done"
    ERRED = "erred"
    CANCELED = "canceled"
    REJECTED = "rejected"


S = OrderState
PENDING_STATES = (S.PENDING_CONSUMER, S.PENDING_PROVIDER, S.PENDING_PROJECT, S.PENDING_START_DATE)
NON_TERMINAL_STATES = (*PENDING_STATES, S.EXECUTING)
TERMINAL_STATES = (S.DONE, S.CANCELED, S.REJECTED)  # erred is terminal unless retried
# Orders of a resource in these states block another order for it ("one order at a time").
ACTIVE_STATES = (*PENDING_STATES, S.EXECUTING)


class OrderType(models.TextChoices):
    CREATE = "Create"
    UPDATE = "Update"
    TERMINATE = "Terminate"
    RESTORE = "Restore"


class ResourceState(models.TextChoices):
    CREATING = "Creating"
    OK = "OK"
    ERRED = "Erred"
    UPDATING = "Updating"
    TERMINATING = "Terminating"
    TERMINATED = "Terminated"


# The resource state an order of each type puts its resource in while it is being processed.
RESOURCE_STATE_WHILE_PROCESSING = {
    OrderType.CREATE: ResourceState.CREATING,
    OrderType.RESTORE: ResourceState.CREATING,
    OrderType.UPDATE: ResourceState.UPDATING,
    OrderType.TERMINATE: ResourceState.TERMINATING,
}
