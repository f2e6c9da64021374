"""Jobs: long work on a snapshotted selection, run by a worker in rate-capped chunks (DESIGN §7, STYLE 23).

A job is created with its items (the selection, fixed at creation so the run applies exactly what was
previewed). `job_run_chunk` processes the next chunk of pending items with the handler registered for the
job's kind and says how long to wait before the next chunk so the job keeps under its rate cap (overall
and per item group, e.g. per offering). Each item is handled in its own transaction by the handler; the
job row is only touched between chunks, so pause and cancel take effect within one chunk and a worker
that dies loses at most the chunk in flight, which the next run picks up again (items still pending).
"""

from __future__ import annotations

import datetime
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
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
        left = JobItem.objects.filter(job=locked, outcome=PENDING).update(
            outcome=SKIPPED, reason="canceled", processed_at=timezone.now()
        )
        locked.state, locked.finished_at = J.CANCELED, timezone.now()
        locked.skipped += left
        locked.processed += left
        locked.save(update_fields=["state", "finished_at", "skipped", "processed", "modified"])
    return locked


def job_fail(*, job: Job | int, error: str) -> None:
    """The run crashed on something no handler expected: stop the job and keep the error for staff."""
    Job.objects.filter(pk=job if isinstance(job, int) else job.pk).exclude(state__in=Job.FINAL_STATES).update(
        state=J.FAILED, error=error[:5000], finished_at=timezone.now()
    )


def _choose(job: Job, window: float) -> list[JobItem]:
    """The next pending items, at most rate × window in all and group_rate × window per group."""
    rate = job.rate_per_second
    limit = max(1, math.floor(rate * window)) if rate else _option("JOB_CHUNK_SIZE")
    group_rates: dict[str, float] = job.params.get("group_rates") or {}
    candidates = JobItem.objects.filter(job=job, outcome=PENDING).order_by("id")[: limit * 4]
    chosen: list[JobItem] = []
    per_group: Counter[str] = Counter()
    for item in candidates:
        cap = group_rates.get(item.group)
        if cap and per_group[item.group] >= max(1, math.floor(cap * window)):
            continue
        per_group[item.group] += 1
        chosen.append(item)
        if len(chosen) >= limit:
            break
    return chosen


def _pace(job: Job, chosen: list[JobItem], elapsed: float, window: float) -> float:
    """Seconds to wait so that the chunk took at least as long as the rate caps allow."""
    needed = len(chosen) / job.rate_per_second if job.rate_per_second else 0.0
    group_rates: dict[str, float] = job.params.get("group_rates") or {}
    for group, count in Counter(i.group for i in chosen).items():
        if group_rates.get(group):
            needed = max(needed, count / group_rates[group])
    return max(0.0, min(needed, window * 4) - elapsed)


def job_run_chunk(job_id: int, *, window: float | None = None) -> float | None:
    """Handle the next chunk of a job. Returns seconds to wait before the next chunk, None when done/stopped."""
    window = window or _option("JOB_WINDOW_SECONDS")
    with transaction.atomic():
        job = _locked(job_id)
        if job.state not in (J.QUEUED, J.RUNNING):
            return None
        now = timezone.now()
        if job.state == J.QUEUED:
            job.state, job.started_at = J.RUNNING, now
        job.heartbeat_at = now
        job.save(update_fields=["state", "started_at", "heartbeat_at", "modified"])
    handler = _HANDLERS[job.kind]
    chosen = _choose(job, window)
    started = time.monotonic()
    processed = succeeded = skipped = 0
    for item in chosen:
        result = handler(job, item)
        outcome = SUCCEEDED if result.succeeded else SKIPPED
        fields = {"outcome": outcome, "reason": result.reason, "detail": result.detail[:2000]}
        fields["processed_at"] = timezone.now()
        if JobItem.objects.filter(pk=item.pk, outcome=PENDING).update(**fields):
            processed, succeeded, skipped = (
                processed + 1,
                succeeded + result.succeeded,
                skipped + (not result.succeeded),
            )
        else:  # canceled while in flight: cancel counted it as skipped; record what really happened
            JobItem.objects.filter(pk=item.pk).update(**fields)
            succeeded, skipped = succeeded + result.succeeded, skipped - result.succeeded
    with transaction.atomic():
        job = _locked(job_id)
        job.processed = F("processed") + processed
        job.succeeded = F("succeeded") + succeeded
        job.skipped = F("skipped") + skipped
        job.heartbeat_at = timezone.now()
        finished = job.state == J.RUNNING and not JobItem.objects.filter(job=job, outcome=PENDING).exists()
        if finished:
            job.state, job.finished_at = J.DONE, timezone.now()
        job.save(
            update_fields=["processed", "succeeded", "skipped", "heartbeat_at", "state", "finished_at", "modified"]
        )
        if finished or job.state != J.RUNNING:
            return None
    job.refresh_from_db(fields=["processed", "succeeded", "skipped"])
    return _pace(job, chosen, time.monotonic() - started, window)


def job_run_inline(job: Job) -> Job:
    """Run a small job to the end in the calling process, ignoring the rate cap (small selections)."""
    while job_run_chunk(job.pk, window=_option("JOB_WINDOW_SECONDS")) is not None:
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
