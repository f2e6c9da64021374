"""Orders, the resources they act on, and the order's event history.

FSM transitions here only change state and a few fields (reviewers, timestamps, errors); no I/O, no
saves, no permission checks (STYLE.md 3). Services in orders/services/ call them.
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition

from core.api.json_values import attributes_problem, text_problem
from core.models import TimeStamped
from offerings.models import Offering, Plan
from orders.attachments import attachment_upload_to, message_upload_to
from orders.states import NON_TERMINAL_STATES, OrderState, OrderType, ResourceState
from permissions.models import Project

S = OrderState
R = ResourceState
_ALL_BUT_TERMINATED = [R.CREATING, R.OK, R.ERRED, R.UPDATING, R.TERMINATING]
# the largest limit: exact in every JSON client (2^53 - 1), and small enough for a cost estimate
MAX_LIMIT = 2**53 - 1


def _validate_dict(value) -> None:
    """Attributes: a JSON object PostgreSQL can store, within the size and key caps (API_LIMITS)."""
    if (problem := attributes_problem(value)) is not None:
        raise ValidationError(problem)


def validate_limits(value) -> None:
    """Limits are a JSON object of component type → integer from 0 to MAX_LIMIT."""
    if not isinstance(value, dict):
        raise ValidationError("Must be a JSON object.")
    for key, amount in value.items():
        if (problem := text_problem(key)) is not None:
            raise ValidationError(f"Component type {key!r}: {problem}")
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ValidationError(f"Limit of {key!r} must be an integer.")
        if amount < 0:
            raise ValidationError(f"Limit of {key!r} must not be negative.")
        if amount > MAX_LIMIT:
            raise ValidationError(f"Limit of {key!r} must be at most {MAX_LIMIT}.")


class ProtectedStateMixin:
    """full_clean() re-assigns every field, which a protected FSM field refuses: leave state out."""

    def clean_fields(self, exclude=None) -> None:
        super().clean_fields(exclude={*(exclude or ()), "state"})


class Resource(ProtectedStateMixin, FSMModelMixin, TimeStamped):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=150, blank=True)
    slug = models.SlugField(max_length=150, blank=True)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="resources")
    offering = models.ForeignKey(Offering, on_delete=models.PROTECT, related_name="resources")
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="resources")
    limits = models.JSONField(default=dict, blank=True, validators=[validate_limits])
    attributes = models.JSONField(default=dict, blank=True, validators=[_validate_dict])
    backend_id = models.CharField(max_length=255, blank=True)
    backend_metadata = models.JSONField(default=dict, blank=True)
    end_date = models.DateField(null=True, blank=True)
    state = FSMField(default=R.CREATING, choices=R.choices, protected=True, db_index=True)
    error_message = models.TextField(blank=True)
    error_traceback = models.TextField(blank=True)

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["created", "id"])]  # the default ordering: page keys, index-only

    def __str__(self) -> str:
        return self.name or self.uuid.hex

    @transition(field=state, source=[R.CREATING, R.ERRED, R.TERMINATED], target=R.CREATING)
    def set_creating(self) -> None:
        self.error_message = self.error_traceback = ""

    @transition(field=state, source=[R.OK, R.ERRED, R.UPDATING], target=R.UPDATING)
    def set_updating(self) -> None:
        self.error_message = self.error_traceback = ""

    @transition(field=state, source=[R.OK, R.ERRED, R.UPDATING, R.TERMINATING], target=R.TERMINATING)
    def set_terminating(self) -> None:
        self.error_message = self.error_traceback = ""

    @transition(field=state, source=_ALL_BUT_TERMINATED, target=R.OK)
    def set_ok(self) -> None:
        self.error_message = self.error_traceback = ""

    @transition(field=state, source=_ALL_BUT_TERMINATED, target=R.ERRED)
    def set_erred(self, message: str = "", traceback: str = "") -> None:
        self.error_message, self.error_traceback = message, traceback

    @transition(field=state, source=[*_ALL_BUT_TERMINATED, R.TERMINATED], target=R.TERMINATED)
    def set_terminated(self) -> None:
        pass


class Order(ProtectedStateMixin, FSMModelMixin, TimeStamped):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=20, choices=OrderType.choices, default=OrderType.CREATE, db_index=True)
    state = FSMField(default=S.PENDING_CONSUMER, choices=S.choices, protected=True, db_index=True)
    offering = models.ForeignKey(Offering, on_delete=models.PROTECT, related_name="orders")
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    old_plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="orders")
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="orders")
    attributes = models.JSONField(default=dict, blank=True, validators=[_validate_dict])
    limits = models.JSONField(default=dict, blank=True, validators=[validate_limits])
    cost = models.DecimalField(max_digits=22, decimal_places=10, null=True, blank=True)
    old_cost = models.DecimalField(max_digits=22, decimal_places=10, null=True, blank=True)
    output = models.TextField(blank=True)
    output_updated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    consumer_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    consumer_reviewed_at = models.DateTimeField(null=True, blank=True)
    provider_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    provider_reviewed_at = models.DateTimeField(null=True, blank=True)
    callback_url = models.URLField(max_length=500, null=True, blank=True)
    termination_comment = models.CharField(max_length=255, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    start_date = models.DateField(null=True, blank=True, help_text="Delays processing until this date.")
    request_comment = models.CharField(max_length=255, blank=True)
    attachment = models.FileField(upload_to=attachment_upload_to, max_length=255, null=True, blank=True)
    provider_message = models.TextField(blank=True)
    provider_message_url = models.URLField(blank=True)
    provider_message_attachment = models.FileField(upload_to=message_upload_to, max_length=255, null=True, blank=True)
    provider_message_updated_at = models.DateTimeField(null=True, blank=True)
    consumer_message = models.TextField(blank=True)
    consumer_message_attachment = models.FileField(upload_to=message_upload_to, max_length=255, null=True, blank=True)
    consumer_message_updated_at = models.DateTimeField(null=True, blank=True)
    consumer_rejection_comment = models.TextField(blank=True)
    provider_rejection_comment = models.TextField(blank=True)
    backend_id = models.CharField(max_length=255, blank=True)
    slug = models.SlugField(max_length=150, blank=True)
    error_message = models.TextField(blank=True)
    error_traceback = models.TextField(blank=True)
    error_updated_at = models.DateTimeField(null=True, blank=True)
    error_is_transient = models.BooleanField(
        default=False, help_text="The last failure was a transient backend error (outage, timeout)."
    )
    attempt = models.PositiveIntegerField(default=1, help_text="1 + the number of retries.")
    state_entered_at = models.DateTimeField(
        null=True, blank=True, help_text="When the order entered its current state (stuck sweep, ages)."
    )
    stuck_since = models.DateTimeField(
        null=True, blank=True, help_text="Set by the stuck sweep when the order outstayed its type's stuck_after."
    )
    # The hand-off to workers (DESIGN §7). A task claims (processing_attempt, lease) before calling the
    # backend, so two deliveries of the same attempt never call it at the same time; the reconciler
    # re-sends an executing order of an automated type whose processing_due_at has passed.
    processing_attempt = models.PositiveIntegerField(null=True, blank=True, editable=False)
    processing_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    processing_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    processing_retries = models.PositiveIntegerField(
        default=0, editable=False, help_text="Transient failures of the current attempt (bounded)."
    )
    auto_resubmits = models.PositiveIntegerField(
        default=0, editable=False, help_text="Times automatic recovery resubmitted it (bounded by a setting)."
    )

    class Meta:
        ordering = ["created", "id"]
        indexes = [
            models.Index(fields=["state", "-created"]),
            models.Index(fields=["created", "id"]),  # the default ordering: page keys, index-only
            # the site agent's poll: offering_id = X AND state IN (...) ORDER BY created, id, index-only
            models.Index(fields=["offering", "state", "created", "id"]),
            # ... with several states (pending-provider and executing): the offering's orders in order, their
            # state and project in the index (index-only; the filter needs no row), so a page reads about
            # page size / share of those states entries whatever the number of orders. Not a partial index:
            # the prepared statement's generic plan cannot prove a predicate from parameters.
            models.Index(fields=["offering", "created", "id", "state", "project"], name="orders_order_offering_walk"),
            models.Index(fields=["state", "processing_due_at"]),  # the reconciler's sweep
            models.Index(fields=["state", "state_entered_at"]),  # the stuck sweep, oldest-waiting ages
            models.Index(fields=["state", "error_updated_at"]),  # failed orders, newest failure first
        ]

    def __str__(self) -> str:
        return f"{self.type} order {self.uuid.hex} ({self.state})"

    # --- review ---------------------------------------------------------------------------------

    @transition(
        field=state,
        source=S.PENDING_CONSUMER,
        target=RETURN_VALUE(S.PENDING_PROJECT, S.PENDING_PROVIDER, S.PENDING_START_DATE, S.EXECUTING),
    )
    def approve_by_consumer(self, *, user, route: str) -> str:
        self.consumer_reviewed_by, self.consumer_reviewed_at = user, timezone.now()
        return route

    @transition(field=state, source=S.PENDING_CONSUMER, target=S.REJECTED)
    def reject_by_consumer(self, *, user, comment: str = "") -> None:
        self.consumer_reviewed_by, self.consumer_reviewed_at = user, timezone.now()
        self.consumer_rejection_comment = comment
        self.completed_at = timezone.now()

    @transition(field=state, source=S.PENDING_PROVIDER, target=RETURN_VALUE(S.PENDING_START_DATE, S.EXECUTING))
    def approve_by_provider(self, *, user, route: str) -> str:
        self.provider_reviewed_by, self.provider_reviewed_at = user, timezone.now()
        return route

    @transition(field=state, source=S.PENDING_PROVIDER, target=S.REJECTED)
    def reject_by_provider(self, *, user, comment: str = "") -> None:
        self.provider_reviewed_by, self.provider_reviewed_at = user, timezone.now()
        self.provider_rejection_comment = comment
        self.completed_at = timezone.now()

    # --- scheduling -----------------------------------------------------------------------------

    @transition(
        field=state,
        source=S.PENDING_PROJECT,
        target=RETURN_VALUE(S.PENDING_PROVIDER, S.PENDING_START_DATE, S.EXECUTING),
    )
    def release_project(self, *, route: str) -> str:
        return route

    @transition(field=state, source=S.PENDING_START_DATE, target=S.EXECUTING)
    def release_start_date(self) -> None:
        pass

    # --- provisioning ---------------------------------------------------------------------------

    @transition(field=state, source=[S.PENDING_CONSUMER, S.PENDING_PROVIDER, S.ERRED], target=S.EXECUTING)
    def set_state_executing(self) -> None:
        if self.state == S.ERRED:  # taken up again after a failure: a new attempt, like retry
            self._start_new_attempt()
        self.completed_at = None

    @transition(field=state, source=S.EXECUTING, target=S.DONE)
    def set_state_done(self) -> None:
        self.completed_at = timezone.now()

    @transition(field=state, source=[*NON_TERMINAL_STATES, S.ERRED], target=S.ERRED)
    def set_state_erred(self, *, message: str = "", traceback: str = "", transient: bool = False) -> None:
        self.error_message, self.error_traceback = message, traceback
        self.error_is_transient = transient
        self.error_updated_at = self.completed_at = timezone.now()

    @transition(field=state, source=S.ERRED, target=S.EXECUTING)
    def retry(self) -> None:
        self._start_new_attempt()

    def _start_new_attempt(self) -> None:
        """Clear the last failure (seed 000) and count the attempt; stale task messages then skip."""
        self.error_message = self.error_traceback = ""
        self.error_is_transient = False
        self.error_updated_at = timezone.now()
        self.completed_at = None
        self.attempt += 1

    @transition(
        field=state,
        source=[S.PENDING_CONSUMER, S.PENDING_PROVIDER, S.PENDING_START_DATE, S.EXECUTING],
        target=S.CANCELED,
    )
    def cancel(self, *, comment: str = "") -> None:
        self.termination_comment = comment[:255]
        self.completed_at = timezone.now()


class FailedOrder(Order):
    """Erred orders, as staff see them on the admin's Failed orders page (a proxy: same table, same rows)."""

    class Meta:
        proxy = True
        verbose_name = "failed order"
        verbose_name_plural = "failed orders"


class OrderEvent(models.Model):
    """One entry of an order's history: a transition, a retry, a message; who, when, from, to."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=50)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_state = models.CharField(max_length=30, blank=True)
    to_state = models.CharField(max_length=30, blank=True)
    message = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.from_state} → {self.to_state}"


class OrderCount(models.Model):
    """How many orders each (offering, project, state) holds: PostgreSQL triggers on orders_order append
    signed deltas, compaction (orders/counts.py) sums them to about one row per group. No unique key, so
    concurrent writers never wait on a shared counter row; a count is SUM(n) over the matching rows.

    The foreign keys carry the names of Order's, so the order list's visibility and filters apply as they
    are; no database constraint: delta rows may outlive their offering or project until compaction."""

    offering = models.ForeignKey(
        Offering, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    project = models.ForeignKey(
        Project, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    state = models.CharField(max_length=50, choices=S.choices)
    n = models.BigIntegerField()

    class Meta:
        db_table = "orders_order_count"
        # every column: counts are index-only scans, whatever dead space a bulk load left in the table
        indexes = [models.Index(fields=["offering", "state", "project", "n"], name="orders_order_count_groups")]

    def __str__(self) -> str:
        return f"{self.n:+d} orders ({self.offering_id}, {self.project_id}, {self.state})"
