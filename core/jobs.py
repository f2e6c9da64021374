"""Jobs: long work on a snapshotted selection, run by a worker in rate-capped chunks (DESIGN §7, STYLE 23).

A job is created with its items (the selection, fixed at creation so the run applies exactly what was
previewed). `job_run_chunk` processes the next chunk of pending items with the handler registered for the
job's kind, spacing them out so the job keeps under its rate caps (overall, and per item group, e.g. per
offering), and says how long to wait before the next chunk. Each item is handled and its outcome recorded
in one transaction (the item row locked), so a worker that dies mid-chunk leaves its handled items done
and the rest pending for the next run, and no item is ever handled twice. The job's counters are recounted
from the items after each chunk; pause and cancel take effect before the next paced item or chunk.
"""

from __future__ import annotations

import datetime
import math
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from core.errors import Conflict
from core.models import Job, JobItem

J = Job.States
PENDING, SUCCEEDED, SKIPPED = JobItem.Outcomes.PENDING, JobItem.Outcomes.SUCCEEDED, JobItem.Outcomes.SKIPPED


@dataclass(frozen=True)
class ItemResult:
    succeeded: bool
    reason: str = ""  # a coded reason for a skip (not_erred, not_permitted, …)
    detail: str = ""


ItemHandler = Callable[[Job, JobItem], ItemResult]
_HANDLERS: dict[str, ItemHandler] = {}


class JobStateConflict(Conflict):
    code = "invalid_job_state"


@dataclass(frozen=True)
class Selected:
    """One object of a new job's selection."""

    subject_id: int
    subject_uuid: uuid.UUID
    group: str = ""
    version: int | None = None


def register_job_kind(kind: str, handler: ItemHandler) -> None:
    """Declare how items of jobs of `kind` are handled (apps register theirs when Django starts)."""
    _HANDLERS[kind] = handler


def _option(name: str) -> Any:
    return settings.MARKETPLACE[name]


def job_create(
    *,
    kind: str,
    selection: Iterable[Selected],
    created_by: Any = None,
    reason: str = "",
    params: dict | None = None,
    idempotency_key: str = "",
    request_fingerprint: str = "",
    rate_per_second: float | None = None,
    summary: dict | None = None,
) -> Job:
    """Store a queued job and its items (call inside a transaction; dispatch the run after commit)."""
    job = Job.objects.create(
        kind=kind,
        created_by=created_by if getattr(created_by, "pk", None) else None,
        reason=reason,
        params=params or {},
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        rate_per_second=rate_per_second,
        summary=summary or {},
    )
    items = [
        JobItem(job=job, subject_id=s.subject_id, subject_uuid=s.subject_uuid, group=s.group, version=s.version)
        for s in selection
    ]
    JobItem.objects.bulk_create(items, batch_size=2000)
    job.total = len(items)
    job.save(update_fields=["total", "modified"])
    return job


def _locked(job: Job | int) -> Job:
    return Job.objects.select_for_update().get(pk=job if isinstance(job, int) else job.pk)


def _recount(job: Job) -> int:
    """Set the job's counters from its items (the items are the truth: a worker killed in the middle of a
    chunk leaves handled items behind without having counted them). Returns how many are still pending."""
    counts = JobItem.objects.filter(job=job).aggregate(
        succeeded=Count("pk", filter=Q(outcome=SUCCEEDED)),
        skipped=Count("pk", filter=Q(outcome=SKIPPED)),
        pending=Count("pk", filter=Q(outcome=PENDING)),
    )
    job.succeeded, job.skipped = counts["succeeded"], counts["skipped"]
    job.processed = job.succeeded + job.skipped
    return counts["pending"]


def job_pause(*, job: Job | int) -> Job:
    """Stop after the chunk in flight; resume continues with the items still pending."""
    with transaction.atomic():
        locked = _locked(job)
        if locked.state not in (J.QUEUED, J.RUNNING):
            raise JobStateConflict(f"Cannot pause a job that is {locked.state}; it must be queued or running.")
        locked.state = J.PAUSED
        locked.save(update_fields=["state", "modified"])
    return locked


def job_resume(*, job: Job | int) -> Job:
    """Continue a paused job (the caller dispatches its run after commit)."""
    with transaction.atomic():
        locked = _locked(job)
        if locked.state != J.PAUSED:
            raise JobStateConflict(f"Cannot resume a job that is {locked.state}; it must be paused.")
        locked.state = J.RUNNING if locked.started_at else J.QUEUED
        locked.heartbeat_at = timezone.now()
        locked.save(update_fields=["state", "heartbeat_at", "modified"])
    return locked


def job_cancel(*, job: Job | int) -> Job:
    """Stop for good: items not yet handled are reported as skipped (canceled)."""
    with transaction.atomic():
        locked = _locked(job)
        if locked.state in Job.FINAL_STATES:
            raise JobStateConflict(f"Cannot cancel a job that is {locked.state}.")
        JobItem.objects.filter(job=locked, outcome=PENDING).update(
            outcome=SKIPPED, reason="canceled", processed_at=timezone.now()
        )
        _recount(locked)
        locked.state, locked.finished_at = J.CANCELED, timezone.now()
        locked.save(update_fields=["state", "finished_at", "succeeded", "skipped", "processed", "modified"])
    return locked


def job_fail(*, job: Job | int, error: str) -> None:
    """The run crashed on something no handler expected: stop the job and keep the error for staff."""
    Job.objects.filter(pk=job if isinstance(job, int) else job.pk).exclude(state__in=Job.FINAL_STATES).update(
        state=J.FAILED, error=error[:5000], finished_at=timezone.now()
    )


def _choose(job: Job, window: float, *, paced: bool) -> list[JobItem]:
    """The next pending items, at most rate × window in all and group_rate × window per group."""
    rate = job.rate_per_second if paced else None
    limit = max(1, math.floor(rate * window)) if rate else _option("JOB_CHUNK_SIZE")
    group_rates: dict[str, float] = (job.params.get("group_rates") or {}) if paced else {}
    pending = JobItem.objects.filter(job=job, outcome=PENDING).order_by("id")
    capped = {group: max(1, math.floor(cap * window)) for group, cap in group_rates.items() if cap}
    if not capped:
        return list(pending[:limit])
    # in selection order, each capped group (e.g. an offering with its own rate) limited to its share,
    # so a long run of one slow offering's items does not hold up the others
    chosen = list(pending.exclude(group__in=list(capped))[:limit])
    for group, share in capped.items():
        chosen.extend(pending.filter(group=group)[:share])
    return sorted(chosen, key=lambda item: item.pk)[:limit]


def _schedule(job: Job, chosen: list[JobItem]) -> tuple[list[tuple[float, JobItem]], float]:
    """When each item of the chunk may start (seconds after the chunk starts) and when the chunk's budget
    ends, so that item k of a job starts no earlier than k / rate, and item k of a group no earlier than
    k / group_rate: the cap holds over any stretch of time, not only on average over a chunk."""
    rate = job.rate_per_second
    group_rates: dict[str, float] = job.params.get("group_rates") or {}
    queues: dict[str, list[JobItem]] = {}
    for item in chosen:
        queues.setdefault(item.group, []).append(item)
    next_any, next_in = 0.0, dict.fromkeys(queues, 0.0)
    plan: list[tuple[float, JobItem]] = []
    while queues:
        # the group whose next item may start first (ties: the lowest id, i.e. selection order)
        group = min(queues, key=lambda g: (max(next_any, next_in[g]), queues[g][0].pk))
        item = queues[group].pop(0)
        if not queues[group]:
            del queues[group]
        at = max(next_any, next_in[group])
        plan.append((at, item))
        next_any = at + 1 / rate if rate else at
        next_in[group] = at + 1 / group_rates[group] if group_rates.get(group) else at
    return plan, max([next_any, *next_in.values()])


def _still_running(job_id: int) -> bool:
    return Job.objects.filter(pk=job_id, state=J.RUNNING).exists()


def _handle_item(job: Job, item: JobItem, handler: ItemHandler) -> bool | None:
    """Handle one item and record its outcome in one transaction, the item row locked meanwhile.

    A worker killed in between leaves either both (e.g. the order retried and the item succeeded) or
    neither (the item still pending, handled by the next run). An item no longer pending (a cancel, or a
    second runner of the same job that got there first) is left alone: None. Else whether it succeeded.
    """
    with transaction.atomic():
        # no ordering: JobItem's default ordering would join the job row and FOR UPDATE would lock it too
        mine = JobItem.objects.select_for_update(of=("self",)).filter(pk=item.pk, outcome=PENDING).order_by()
        if not mine.values_list("pk")[:1]:
            return None
        result = handler(job, item)
        JobItem.objects.filter(pk=item.pk).update(
            outcome=SUCCEEDED if result.succeeded else SKIPPED,
            reason=result.reason,
            detail=result.detail[:2000],
            processed_at=timezone.now(),
        )
    return result.succeeded


def job_claim_runner(job_id: int) -> str:
    """Make a new run the job's only runner: a run started earlier (a resumed job's old next-chunk message,
    a slow worker the stalled-job sweep gave up on) stops at its next chunk instead of doubling the rate."""
    token = uuid.uuid4().hex
    Job.objects.filter(pk=job_id).update(runner=token)
    return token


def job_run_chunk(job_id: int, *, window: float | None = None, paced: bool = True, runner: str = "") -> float | None:
    """Handle the next chunk of a job. Returns seconds to wait before the next chunk, None when done/stopped.

    Paced (the default), the chunk holds at most rate × window items and spaces them out as the rate caps
    ask (overall and per group), sleeping between items; the returned wait completes the chunk's budget.
    A pause or cancel is noticed before each paced item and after the chunk. Unpaced (small jobs run in
    the request), it handles JOB_CHUNK_SIZE items back to back. A `runner` token (job_claim_runner) that
    is no longer the job's stops the run: another run owns the job now.
    """
    window = window or _option("JOB_WINDOW_SECONDS")
    with transaction.atomic():
        job = _locked(job_id)
        if job.state not in (J.QUEUED, J.RUNNING) or (runner and job.runner != runner):
            return None
        now = timezone.now()
        if job.state == J.QUEUED:
            job.state, job.started_at = J.RUNNING, now
        job.heartbeat_at = now
        job.save(update_fields=["state", "started_at", "heartbeat_at", "modified"])
    handler = _HANDLERS.get(job.kind)
    if handler is None:
        raise LookupError(f"No handler registered for jobs of kind {job.kind!r} (register_job_kind).")
    chosen = _choose(job, window, paced=paced)
    plan, budget = _schedule(job, chosen) if paced else ([(0.0, item) for item in chosen], 0.0)
    started = time.monotonic()
    for at, item in plan:
        delay = started + at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
            if not _still_running(job_id):  # paused or canceled meanwhile: the rest stays pending
                break
        _handle_item(job, item, handler)
    with transaction.atomic():
        job = _locked(job_id)
        pending = _recount(job)
        job.heartbeat_at = timezone.now()
        finished = job.state == J.RUNNING and not pending
        if finished:
            job.state, job.finished_at = J.DONE, timezone.now()
        job.save(
            update_fields=["processed", "succeeded", "skipped", "heartbeat_at", "state", "finished_at", "modified"]
        )
        if finished or job.state != J.RUNNING:
            return None
    return max(0.0, budget - (time.monotonic() - started))


def job_run_inline(job: Job) -> Job:
    """Run a small job to the end in the calling process, ignoring the rate caps (small selections, benchmarks)."""
    while job_run_chunk(job.pk, paced=False) is not None:
        pass
    job.refresh_from_db()
    return job


def jobs_stalled(*, limit: int = 100) -> list[int]:
    """Queued or running jobs no worker has advanced for a while (a lost message, a killed worker)."""
    cutoff = timezone.now() - datetime.timedelta(seconds=_option("JOB_STALLED_AFTER_SECONDS"))
    stale = Job.objects.filter(state__in=(J.QUEUED, J.RUNNING), modified__lt=cutoff)
    return list(stale.order_by("modified").values_list("pk", flat=True)[:limit])


def job_touch(job_id: int) -> None:
    """Mark a stalled job as handed out again, so the next sweep waits another period."""
    Job.objects.filter(pk=job_id).update(modified=timezone.now())


def job_report(job: Job) -> dict[str, Any]:
    """The per-item report: what succeeded and what was skipped, with the coded reasons."""
    items = job.items.exclude(outcome=PENDING).order_by("id").values_list("subject_uuid", "outcome", "reason")
    done = [u.hex for u, outcome, _ in items if outcome == SUCCEEDED]
    skipped = [{"uuid": u.hex, "reason": reason} for u, outcome, reason in items if outcome == SKIPPED]
    return {"succeeded": done, "skipped": skipped}
