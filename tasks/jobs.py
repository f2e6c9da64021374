"""Celery task that runs jobs (bulk resubmit, automatic recovery) chunk by chunk. Thin: an id in.

Each run handles one chunk and hands the next one to the broker with the countdown the rate cap asks
for, so a worker restart loses at most the chunk in flight (its items stay pending) and the stalled-job
sweep (tasks.periodic.resume_stalled_jobs) sends the job out again.
"""

from celery import Task, shared_task

from core import jobs


class JobTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Something no handler expected: stop the job and keep the error for staff (not retried forever)."""
        if args:
            jobs.job_fail(job=args[0], error=f"{type(exc).__name__}: {exc}")


@shared_task(name="tasks.jobs.run_job", bind=True, base=JobTask, acks_late=True, reject_on_worker_lost=True)
def run_job(self, job_id: int) -> str:
    wait = jobs.job_run_chunk(job_id)
    if wait is None:
        return "stopped"
    self.apply_async(args=[job_id], countdown=wait)
    return f"next chunk in {wait:.2f} s"
