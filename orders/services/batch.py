"""The one batch executor (DESIGN §7, seed 003): apply the retry action to a selection of orders.

Each order is retried in its own transaction through the retry service, which re-checks the caller's
right, the offering type and the state; the outcome of each is reported as retried or skipped with a
coded reason. The selection is snapshotted into a core Job when the run starts, so the run applies
exactly the previewed set; small selections run in the calling process, larger ones in a worker, rate-capped
overall and per offering. The API, the admin's Failed orders page, the CLI, the stuck sweep and automatic
recovery all come through here.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from core import jobs
from core.errors import Conflict
from core.models import Job, JobItem
from offerings.models import Offering
from offerings.registry import get_offering_type, type_supports
from orders import dispatch
from orders.error_groups import error_group
from orders.exceptions import ActionNotPermitted, OfferingTypeNotSupported, OrderNotFound, OrderStateConflict
from orders.models import Order
from orders.services.provisioning import OrderChanged, order_retry
from orders.states import OrderState as S
from permissions import policies

BULK_RETRY = "bulk_retry"

# Coded reasons an order of a selection is not retried; the text is what people read.
SKIP_REASONS = {
    "not_erred": "The order is not erred (any more).",
    "not_permitted": "You may not retry orders of this offering.",
    "type_not_supported": "Orders of this offering type cannot be retried.",
    "changed": "The order was retried or changed by someone else after it was selected.",
    "not_found": "The order no longer exists.",
    "attempt_limit": "Automatic recovery already resubmitted it as often as allowed.",
    "canceled": "The job was canceled before it reached the order.",
}


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was used for a different request."


def _system_refusal(order_id: int, automatic: bool) -> str:
    """What the retry service does not check for the system actor (None): the offering type's support of
    retry and, for automatic recovery, the bound on automatic attempts. "" when nothing stands in the way."""
    row = Order.objects.filter(pk=order_id).values_list("offering__type", "auto_resubmits").first()
    if row is None:
        return "not_found"
    type_name, auto_resubmits = row
    spec = get_offering_type(type_name)
    if spec is None or not spec.supports("retry"):
        return "type_not_supported"
    if automatic and auto_resubmits >= settings.MARKETPLACE["AUTO_RESUBMIT_MAX_ATTEMPTS"]:
        return "attempt_limit"
    return ""


def retry_one(
    *, order_id: int, actor: Any, reason: str = "", expected_attempt: int | None = None, job: Job | None = None
) -> jobs.ItemResult:
    """Retry one order of a selection; a refusal becomes a coded skip, never an exception.

    A person's right and the type's support are checked by the retry service under the row lock; for the
    system (actor None: automatic recovery, the CLI without --as-user) the type and the automatic-attempt
    bound are checked here.
    """
    automatic = bool(job and job.params.get("automatic"))
    if actor is None or automatic:
        refusal = _system_refusal(order_id, automatic)
        if refusal:
            return jobs.ItemResult(False, refusal)
    try:
        order_retry(
            order=order_id,
            actor=actor,
            reason=reason,
            expected_attempt=expected_attempt,
            job_uuid=job.uuid.hex if job else "",
            automatic=automatic,
        )
    except OrderNotFound:
        return jobs.ItemResult(False, "not_found")
    except ActionNotPermitted:
        return jobs.ItemResult(False, "not_permitted")
    except OfferingTypeNotSupported:
        return jobs.ItemResult(False, "type_not_supported")
    except OrderChanged:
        return jobs.ItemResult(False, "changed")
    except OrderStateConflict as exc:
        return jobs.ItemResult(False, "not_erred", exc.message)
    return jobs.ItemResult(True)


def _handle(job: Job, item: JobItem) -> jobs.ItemResult:
    return retry_one(
        order_id=item.subject_id, actor=job.created_by, reason=job.reason, expected_attempt=item.version, job=job
    )


jobs.register_job_kind(BULK_RETRY, _handle)


# --- preview --------------------------------------------------------------------------------------------


def _offering_verdicts(actor: Any, offering_ids: set[int]) -> dict[int, str]:
    """Per offering: "" when its erred orders may be retried by `actor`, else the coded reason."""
    verdicts = {}
    for offering in Offering.objects.filter(pk__in=offering_ids).only("id", "customer_id", "type"):
        if actor is not None and not policies.can_retry_orders_of_offering(actor, offering):
            verdicts[offering.pk] = "not_permitted"
        elif not type_supports(offering, "retry"):
            verdicts[offering.pk] = "type_not_supported"
        else:
            verdicts[offering.pk] = ""
    return verdicts


def retry_preview(*, actor: Any, orders: QuerySet[Order]) -> dict[str, Any]:
    """What a run over `orders` would do now, with counts by offering and by error group (no change made).

    A constant number of queries: rights and type support are decided per offering, not per order.
    """
    rows = list(
        orders.values_list(
            "pk", "uuid", "offering_id", "offering__uuid", "offering__name", "state", "error_message"
        ).order_by("-error_updated_at", "-pk")
    )
    verdicts = _offering_verdicts(actor, {row[2] for row in rows})
    retried, skipped = [], []
    by_offering: dict[str, dict[str, Any]] = {}
    by_error: Counter[tuple[str, str]] = Counter()
    for _pk, uuid, offering_id, offering_uuid, offering_name, state, error in rows:
        reason = verdicts[offering_id] or ("" if state == S.ERRED else "not_erred")
        if reason:
            skipped.append({"uuid": uuid.hex, "reason": reason})
            continue
        retried.append(uuid.hex)
        group = by_offering.setdefault(offering_uuid.hex, {"offering_uuid": offering_uuid.hex, "name": offering_name})
        group["count"] = group.get("count", 0) + 1
        by_error[(offering_uuid.hex, error_group(error))] += 1
    return {
        "dry_run": True,
        "matched": len(rows),
        "retried": retried,
        "skipped": skipped,
        "by_offering": sorted(by_offering.values(), key=lambda g: (-g["count"], g["name"])),
        "by_error": [
            {"offering_uuid": offering, "error": error, "count": count}
            for (offering, error), count in sorted(by_error.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "skipped_by_reason": dict(Counter(s["reason"] for s in skipped)),
    }


# --- runs -----------------------------------------------------------------------------------------------


def request_fingerprint(*, query: dict[str, list[str]], body: dict[str, Any]) -> str:
    """A digest of what was asked (filters and body), to tell a repeated request from a different one."""
    canonical = json.dumps({"query": {k: sorted(v) for k, v in sorted(query.items())}, "body": body}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _existing(actor: Any, key: str, fingerprint: str) -> Job | None:
    if not key:
        return None
    job = Job.objects.filter(created_by=actor if getattr(actor, "pk", None) else None, kind=BULK_RETRY).filter(
        idempotency_key=key
    )
    found = job.first()
    if found is not None and found.request_fingerprint != fingerprint:
        raise IdempotencyConflict()
    return found


def _group_rates(offering_ids: set[int]) -> dict[str, float]:
    """Per-offering rate caps (plugin option resubmit_rate, orders per second), keyed by offering uuid."""
    rates = {}
    for offering in Offering.objects.filter(pk__in=offering_ids).only("uuid", "plugin_options"):
        rate = (offering.plugin_options or {}).get("resubmit_rate")
        if isinstance(rate, int | float) and not isinstance(rate, bool) and rate > 0:
            rates[offering.uuid.hex] = float(rate)
    return rates


def bulk_retry_start(
    *,
    actor: Any,
    orders: QuerySet[Order],
    reason: str = "",
    params: dict[str, Any] | None = None,
    idempotency_key: str = "",
    fingerprint: str = "",
    rate_per_second: float | None = None,
    automatic: bool = False,
    run_inline_up_to: int | None = None,
    caller_runs: bool = False,
) -> tuple[Job, bool]:
    """Snapshot the selection as a job and run it: in this process when it is small, else in a worker;
    with `caller_runs` neither: the caller runs it (the CLI, chunk by chunk at the job's rate).

    Returns (job, created). The same Idempotency-Key with the same request returns the first job.
    """
    existing = _existing(actor, idempotency_key, fingerprint)
    if existing is not None:
        return existing, False
    rows = list(orders.order_by("pk").values_list("pk", "uuid", "offering_id", "offering__uuid", "attempt"))
    selection = [jobs.Selected(pk, uuid, offering_uuid.hex, attempt) for pk, uuid, _, offering_uuid, attempt in rows]
    summary = {"by_offering": dict(Counter(s.group for s in selection))}
    inline_limit = settings.MARKETPLACE["BULK_RETRY_SYNC_LIMIT"] if run_inline_up_to is None else run_inline_up_to
    try:
        with transaction.atomic():
            job = jobs.job_create(
                kind=BULK_RETRY,
                selection=selection,
                created_by=actor,
                reason=reason,
                params={
                    **(params or {}),
                    "automatic": automatic,
                    "group_rates": _group_rates({row[2] for row in rows}),
                },
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
                rate_per_second=rate_per_second or settings.MARKETPLACE["BULK_RETRY_RATE"],
                summary=summary,
            )
            if len(selection) > inline_limit and not caller_runs:
                dispatch.enqueue_job(job_id=job.pk)
    except IntegrityError:  # the same key raced in from a parallel request: answer with that one's job
        existing = _existing(actor, idempotency_key, fingerprint)
        if existing is None:
            raise
        return existing, False
    if len(selection) <= inline_limit and not caller_runs:
        job = jobs.job_run_inline(job)
    return job, True


def bulk_retry_report(job: Job) -> dict[str, Any]:
    """The report of a run in the bulk endpoint's shape (DESIGN §7)."""
    report = jobs.job_report(job)
    return {"dry_run": False, "matched": job.total, "retried": report["succeeded"], "skipped": report["skipped"]}


def orders_by_error_group(orders: QuerySet[Order]) -> dict[str, list[int]]:
    """Ids of `orders` per error group (the Failed orders page filters by group)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for pk, message in orders.values_list("pk", "error_message"):
        groups[error_group(message)].append(pk)
    return dict(groups)


def error_group_counts(orders: QuerySet[Order]) -> list[tuple[str, int]]:
    """(group, count) of `orders`, most frequent first."""
    counts = Counter(error_group(m) for m in orders.values_list("error_message", flat=True))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


__all__ = [
    "BULK_RETRY",
    "SKIP_REASONS",
    "IdempotencyConflict",
    "bulk_retry_report",
    "bulk_retry_start",
    "error_group_counts",
    "orders_by_error_group",
    "request_fingerprint",
    "retry_one",
    "retry_preview",
]
