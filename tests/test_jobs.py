"""The job runner (core/jobs.py) with a job kind of its own: snapshots, chunks, rate caps overall and per
group, pause / resume / cancel with consistent counts, a worker killed mid-chunk, the stalled-job sweep and
failures. The bulk resubmit handler on real orders is in tests/test_batch.py."""

from __future__ import annotations

import datetime
import time
import uuid

import pytest
from django.utils import timezone

from core import jobs
from core.models import Job, JobItem
from tasks.jobs import run_job

KIND = "test_record"


class Recorder:
    """The handler of KIND jobs: records which subject it handled and when (time.monotonic()).

    Subjects listed in `skip` are skipped with reason "odd"; `on_call` (subject_id → callable) runs an
    action while that subject is handled, as an operator or a crash would at that moment.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[int, float]] = []
        self.skip: set[int] = set()
        self.on_call: dict[int, object] = {}

    def __call__(self, job: Job, item: JobItem) -> jobs.ItemResult:
        self.calls.append((item.subject_id, time.monotonic()))
        action = self.on_call.get(item.subject_id)
        if action is not None:
            action()
        if item.subject_id in self.skip:
            return jobs.ItemResult(False, "odd", f"subject {item.subject_id} is odd")
        return jobs.ItemResult(True)

    @property
    def subjects(self) -> list[int]:
        return [subject for subject, _ in self.calls]


@pytest.fixture
def recorder():
    handler = Recorder()
    jobs.register_job_kind(KIND, handler)
    return handler


@pytest.fixture
def options(settings):
    def change(**values):
        settings.MARKETPLACE = {**settings.MARKETPLACE, **values}

    return change


def make_job(n: int, *, groups: list[str] | None = None, rate: float | None = None, **extra) -> Job:
    selection = [
        jobs.Selected(subject_id=i, subject_uuid=uuid.UUID(int=i), group=(groups or [""])[i % len(groups or [""])])
        for i in range(n)
    ]
    return jobs.job_create(kind=KIND, selection=selection, rate_per_second=rate, **extra)


def run_to_end(job: Job, *, limit: int = 100) -> list[float]:
    """Run chunk after chunk as the worker does, sleeping the waits asked for; returns the waits."""
    waits = []
    for _ in range(limit):
        wait = jobs.job_run_chunk(job.pk, window=1.0)
        if wait is None:
            return waits
        waits.append(wait)
        time.sleep(wait)
    raise AssertionError(f"job not finished after {limit} chunks")


def outcomes(job: Job) -> dict[int, tuple[str, str]]:
    return {i.subject_id: (i.outcome, i.reason) for i in job.items.all()}


def assert_counts_consistent(job: Job) -> None:
    job.refresh_from_db()
    items = list(job.items.all())
    assert job.total == len(items)
    assert job.succeeded == sum(i.outcome == "succeeded" for i in items)
    assert job.skipped == sum(i.outcome == "skipped" for i in items)
    assert job.processed == job.succeeded + job.skipped


# --- creating ------------------------------------------------------------------------------------------


def test_create_snapshots_exactly_the_selection(db, recorder):
    selection = [
        jobs.Selected(subject_id=7, subject_uuid=uuid.UUID(int=7), group="a", version=3),
        jobs.Selected(subject_id=9, subject_uuid=uuid.UUID(int=9), group="b", version=None),
    ]

    job = jobs.job_create(kind=KIND, selection=iter(selection), reason="after the outage", params={"x": 1})

    job.refresh_from_db()
    assert (job.state, job.total, job.processed, job.reason, job.params) == (
        "queued",
        2,
        0,
        "after the outage",
        {"x": 1},
    )
    assert [(i.subject_id, i.subject_uuid, i.group, i.version, i.outcome) for i in job.items.order_by("id")] == [
        (7, uuid.UUID(int=7), "a", 3, "pending"),
        (9, uuid.UUID(int=9), "b", None, "pending"),
    ]
    assert job.created_by is None  # a system job


def test_an_empty_selection_makes_a_job_that_finishes_at_once(db, recorder):
    job = make_job(0)

    assert jobs.job_run_chunk(job.pk) is None

    job.refresh_from_db()
    assert (job.state, job.total, job.processed) == ("done", 0, 0)
    assert job.finished_at is not None


# --- running -------------------------------------------------------------------------------------------


def test_an_uncapped_job_runs_in_chunks_of_the_configured_size_and_reports_each_item(db, recorder, options):
    options(JOB_CHUNK_SIZE=4)
    recorder.skip = {1, 5}
    job = make_job(10)

    first = jobs.job_run_chunk(job.pk)

    assert first == 0.0  # no cap: the next chunk may start at once
    assert recorder.subjects == [0, 1, 2, 3]
    job.refresh_from_db()
    assert (job.state, job.processed, job.succeeded, job.skipped) == ("running", 4, 3, 1)
    assert job.started_at is not None and job.finished_at is None

    run_to_end(job)

    assert recorder.subjects == list(range(10))
    job.refresh_from_db()
    assert (job.state, job.processed, job.succeeded, job.skipped) == ("done", 10, 8, 2)
    report = jobs.job_report(job)
    assert report["succeeded"] == [uuid.UUID(int=i).hex for i in (0, 2, 3, 4, 6, 7, 8, 9)]
    assert report["skipped"] == [{"uuid": uuid.UUID(int=i).hex, "reason": "odd"} for i in (1, 5)]
    assert JobItem.objects.get(job=job, subject_id=5).detail == "subject 5 is odd"


def test_the_overall_rate_cap_spaces_items_out_across_chunks(db, recorder):
    """30 items at 20/s: item k starts no earlier than k / 20 s after the run started, so the run takes
    at least 29 / 20 = 1.45 s; a chunk holds at most rate × window items (20)."""
    job = make_job(30, rate=20)
    started = time.monotonic()

    first_wait = jobs.job_run_chunk(job.pk, window=1.0)

    assert len(recorder.calls) == 20
    assert first_wait is not None and first_wait >= 0
    time.sleep(first_wait)
    assert jobs.job_run_chunk(job.pk, window=1.0) is None  # the last 10: done
    assert len(recorder.calls) == 30
    for k, (_, at) in enumerate(recorder.calls):
        assert at - started >= k / 20, f"item {k} started {at - started:.3f} s in, before {k / 20:.3f} s"
    assert recorder.calls[-1][1] - started >= 1.4


def test_a_group_rate_cap_limits_that_group_only(db, recorder):
    """Group "slow" at 10/s, group "fast" uncapped: the fast items all go in the first chunk, the slow
    ones 10 per chunk, each at least 1/10 s after the previous one."""
    job = make_job(30, groups=["slow", "fast"], params={"group_rates": {"slow": 10}})
    started = time.monotonic()

    first_wait = jobs.job_run_chunk(job.pk, window=1.0)

    handled = set(recorder.subjects)
    assert {i for i in range(30) if i % 2 == 1} <= handled  # every fast item
    assert len(handled - {i for i in range(30) if i % 2 == 1}) == 10  # 10 slow ones
    time.sleep(first_wait)
    assert jobs.job_run_chunk(job.pk, window=1.0) is None
    slow = [at for subject, at in recorder.calls if subject % 2 == 0]
    assert len(slow) == 15
    for k, at in enumerate(slow):
        assert at - started >= k / 10, f"slow item {k} started {at - started:.3f} s in, before {k / 10:.3f} s"
    job.refresh_from_db()
    assert (job.state, job.processed, job.succeeded) == ("done", 30, 30)


def test_a_small_job_run_inline_ignores_the_rate_cap(db, recorder):
    job = make_job(30, rate=1)

    jobs.job_run_inline(job)

    assert len(recorder.calls) == 30
    assert job.state == "done"
    assert recorder.calls[-1][1] - recorder.calls[0][1] < 5  # paced at 1/s it would take 29 s


def test_a_worker_killed_mid_chunk_leaves_the_rest_pending_and_the_next_run_finishes_it(db, recorder, options):
    options(JOB_CHUNK_SIZE=10)
    job = make_job(8)

    def crash():
        raise KeyboardInterrupt("worker killed")

    recorder.on_call[3] = crash
    with pytest.raises(KeyboardInterrupt):
        jobs.job_run_chunk(job.pk)

    assert outcomes(job) == {i: ("succeeded", "") if i < 3 else ("pending", "") for i in range(8)}
    job.refresh_from_db()
    assert job.state == "running"  # nothing noticed the crash: the stalled-job sweep will hand it out again

    del recorder.on_call[3]
    run_to_end(job)

    assert recorder.subjects == [0, 1, 2, 3, 3, 4, 5, 6, 7]  # item 3's first attempt was rolled back
    job.refresh_from_db()
    assert (job.state, job.total, job.processed, job.succeeded) == ("done", 8, 8, 8)


# --- pause, resume, cancel -----------------------------------------------------------------------------


def test_pause_takes_effect_after_the_chunk_in_flight_and_resume_continues(db, recorder, options):
    options(JOB_CHUNK_SIZE=5)
    job = make_job(12)
    recorder.on_call[1] = lambda: jobs.job_pause(job=job.pk)  # an operator pauses during the first chunk

    assert jobs.job_run_chunk(job.pk) is None  # the chunk finished; the job stops there

    job.refresh_from_db()
    assert (job.state, job.processed) == ("paused", 5)
    assert recorder.subjects == [0, 1, 2, 3, 4]
    assert jobs.job_run_chunk(job.pk) is None  # a run of a paused job (a late message) does nothing
    assert len(recorder.calls) == 5

    jobs.job_resume(job=job.pk)
    job.refresh_from_db()
    assert job.state == "running"
    run_to_end(job)

    assert recorder.subjects == list(range(12))
    job.refresh_from_db()
    assert (job.state, job.processed, job.succeeded) == ("done", 12, 12)


def test_a_paused_job_that_never_started_resumes_as_queued(db, recorder):
    job = make_job(3)

    jobs.job_pause(job=job)
    resumed = jobs.job_resume(job=job)

    assert resumed.state == "queued"


def test_pause_stops_a_paced_chunk_before_its_next_item(db, recorder):
    job = make_job(10, rate=20)
    recorder.on_call[2] = lambda: jobs.job_pause(job=job.pk)

    assert jobs.job_run_chunk(job.pk, window=1.0) is None

    assert recorder.subjects == [0, 1, 2]
    job.refresh_from_db()
    assert (job.state, job.processed) == ("paused", 3)


def test_cancel_reports_the_rest_as_skipped_and_counts_add_up(db, recorder, options):
    options(JOB_CHUNK_SIZE=5)
    recorder.skip = {2}
    job = make_job(12)
    jobs.job_run_chunk(job.pk)

    canceled = jobs.job_cancel(job=job.pk)

    assert canceled.state == "canceled" and canceled.finished_at is not None
    assert jobs.job_run_chunk(job.pk) is None  # a late message does nothing
    assert len(recorder.calls) == 5
    assert outcomes(job) == {
        **{i: ("succeeded", "") for i in (0, 1, 3, 4)},
        2: ("skipped", "odd"),
        **{i: ("skipped", "canceled") for i in range(5, 12)},
    }
    assert_counts_consistent(job)
    job.refresh_from_db()
    assert (job.total, job.processed, job.succeeded, job.skipped) == (12, 12, 4, 8)


def test_cancel_during_a_chunk_leaves_the_items_after_it_alone(db, recorder, options):
    options(JOB_CHUNK_SIZE=10)
    job = make_job(6)
    recorder.on_call[2] = lambda: jobs.job_cancel(job=job.pk)

    assert jobs.job_run_chunk(job.pk) is None

    assert recorder.subjects == [0, 1, 2]  # 3, 4, 5 were canceled before the runner reached them
    assert outcomes(job)[4] == ("skipped", "canceled")
    assert_counts_consistent(job)
    job.refresh_from_db()
    assert (job.state, job.processed) == ("canceled", 6)


@pytest.mark.parametrize(
    ("state", "verb"),
    [
        ("done", jobs.job_pause),
        ("canceled", jobs.job_pause),
        ("paused", jobs.job_pause),
        ("queued", jobs.job_resume),
        ("running", jobs.job_resume),
        ("done", jobs.job_resume),
        ("done", jobs.job_cancel),
        ("canceled", jobs.job_cancel),
        ("failed", jobs.job_cancel),
    ],
)
def test_a_verb_from_the_wrong_state_is_a_409_and_changes_nothing(db, recorder, state, verb):
    job = make_job(2)
    Job.objects.filter(pk=job.pk).update(state=state)

    with pytest.raises(jobs.JobStateConflict) as raised:
        verb(job=job.pk)

    assert raised.value.status_code == 409
    job.refresh_from_db()
    assert job.state == state
    assert job.items.filter(outcome="pending").count() == 2


def test_a_paused_or_queued_job_may_be_canceled(db, recorder):
    paused, queued = make_job(2), make_job(2)
    jobs.job_pause(job=paused)

    assert jobs.job_cancel(job=paused).state == "canceled"
    assert jobs.job_cancel(job=queued).state == "canceled"
    assert_counts_consistent(paused)


# --- failures and the stalled-job sweep ----------------------------------------------------------------


def test_job_fail_stops_an_active_job_and_keeps_the_error_but_leaves_a_finished_one(db, recorder):
    running, done = make_job(2), make_job(0)
    jobs.job_run_chunk(done.pk)

    jobs.job_fail(job=running.pk, error="ValueError: " + "x" * 6000)
    jobs.job_fail(job=done, error="late")

    running.refresh_from_db()
    done.refresh_from_db()
    assert running.state == "failed" and running.error.startswith("ValueError: ") and len(running.error) == 5000
    assert running.finished_at is not None
    assert (done.state, done.error) == ("done", "")


def test_a_crash_of_the_worker_task_fails_the_job(db, recorder):
    job = make_job(3)

    def broken():
        raise ValueError("handler bug")

    recorder.on_call[1] = broken

    result = run_job.apply(args=[job.pk])

    assert result.failed()
    job.refresh_from_db()
    assert job.state == "failed"
    assert job.error == "ValueError: handler bug"
    assert outcomes(job)[0] == ("succeeded", "")  # what was done before the crash stays done


def test_a_job_of_an_unknown_kind_fails_with_a_clear_error(db):
    job = jobs.job_create(kind="no_such_kind", selection=[jobs.Selected(1, uuid.UUID(int=1))])

    with pytest.raises(LookupError, match="no_such_kind"):
        jobs.job_run_chunk(job.pk)


def test_the_stalled_sweep_hands_out_queued_and_running_jobs_nobody_advanced(db, recorder, options):
    options(JOB_STALLED_AFTER_SECONDS=60)
    long_ago = timezone.now() - datetime.timedelta(minutes=5)
    jobs_by_name = {}
    for name, state, modified in (
        ("old queued", "queued", long_ago),
        ("old running", "running", long_ago + datetime.timedelta(seconds=1)),
        ("old paused", "paused", long_ago),
        ("old done", "done", long_ago),
        ("fresh running", "running", timezone.now()),
    ):
        job = make_job(1)
        Job.objects.filter(pk=job.pk).update(state=state, modified=modified)
        jobs_by_name[name] = job.pk

    stalled = jobs.jobs_stalled()

    assert stalled == [jobs_by_name["old queued"], jobs_by_name["old running"]]  # oldest first
    for job_id in stalled:
        jobs.job_touch(job_id)
    assert jobs.jobs_stalled() == []  # handed out: the next sweep waits another period


def test_the_stalled_sweep_task_resends_each_stalled_job(db, recorder, options, monkeypatch):
    from orders import dispatch
    from tasks.periodic import resume_stalled_jobs

    options(JOB_STALLED_AFTER_SECONDS=60)
    job = make_job(1)
    Job.objects.filter(pk=job.pk).update(modified=timezone.now() - datetime.timedelta(minutes=5))
    sent: list[int] = []
    monkeypatch.setattr(dispatch, "_send_job", sent.append)

    assert resume_stalled_jobs() == 1

    assert sent == [job.pk]
    assert jobs.jobs_stalled() == []


def test_the_worker_task_runs_a_job_chunk_after_chunk_to_the_end(db, recorder, options, monkeypatch):
    options(JOB_CHUNK_SIZE=2)
    monkeypatch.setitem(run_job.app.conf, "task_always_eager", True)
    job = make_job(5)

    result = run_job.apply(args=[job.pk])  # eager here: each next chunk it sends runs at once

    assert result.successful()
    assert recorder.subjects == [0, 1, 2, 3, 4]
    job.refresh_from_db()
    assert (job.state, job.processed) == ("done", 5)


def test_a_superseded_run_stops_at_its_next_chunk_so_one_job_never_runs_twice(db, recorder):
    job = make_job(3)
    first = jobs.job_claim_runner(job.pk)
    second = jobs.job_claim_runner(job.pk)  # e.g. a resume, or the stalled-job sweep handing it out again

    assert jobs.job_run_chunk(job.pk, runner=first, paced=False) is None
    assert recorder.subjects == []

    assert jobs.job_run_chunk(job.pk, runner=second, paced=False) is None  # one unpaced chunk finishes all
    job.refresh_from_db()
    assert (job.state, job.processed, recorder.subjects) == ("done", 3, [0, 1, 2])
