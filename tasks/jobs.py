"""Celery task that runs jobs (bulk resubmit, automatic recovery) chunk by chunk. Thin: an id in.

Each run handles one chunk and hands the next one to the broker with the countdown the rate cap asks
for, so a worker restart loses at most the chunk in flight (its items stay pending) and the stalled-job
sweep (tasks.periodic.resume_stalled_jobs) sends the job out again. The same sweep covers a next chunk
that could not be published (the broker down at that moment): the job is not failed for it.
"""

import logging

from celery import Task, shared_task

from core import jobs
from orders import dispatch
from orders.services import batch  # noqa: F401 - registers the bulk_retry job kind in worker processes

logger = logging.getLogger(__name__)


class JobTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Something no handler expected: stop the job and keep the error for staff (not retried forever)."""
        if args:
            jobs.job_fail(job=args[0], error=f"{type(exc).__name__}: {exc}")


@shared_task(name="tasks.jobs.run_job", bind=True, base=JobTask, acks_late=True, reject_on_worker_lost=True)
def run_job(self, job_id: int, runner: str = "") -> str:
    """One chunk of the job; a message without a runner token starts a new run that supersedes the others."""
    runner = runner or jobs.job_claim_runner(job_id)
    wait = jobs.job_run_chunk(job_id, runner=runner)
    if wait is None:
        return "stopped"
    try:
        self.apply_async(args=[job_id, runner], countdown=wait, retry=True)
    except dispatch.publish_errors(
        self.app.conf.broker_url
    ) as exc:  # the job row keeps its pending items; the stalled sweep resends it
        logger.warning(
            "next chunk of job %s not handed to the broker (%r); the stalled-job sweep resends it", job_id, exc
        )
        return "next chunk left to the stalled-job sweep"
    return f"next chunk in {wait:.2f} s"
