"""/health/live and /health/ready (issue 9): the broker checked against a real redis-server of the test's own
(stopped: 503, running: 200), heartbeat freshness, the embedded mode, and beat and a worker that really
stamp their heartbeats."""

from __future__ import annotations

import datetime
import json
import time

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from core import heartbeats
from core.logs import log_context
from core.models import Heartbeat
from marketplace.celery import app
from ops.health import heartbeat_checks
from tasks.periodic import heartbeat
from tests.brokers import CeleryStack, RedisServer, database_url, redis_server_installed, use_broker, wait_until
from tests.conftest import requires_postgres

needs_redis_server = pytest.mark.skipif(
    not redis_server_installed(), reason="needs redis-server on PATH (a broker of the test's own)"
)


def _stamp(name: str, seconds_ago: float = 0) -> None:
    Heartbeat.objects.update_or_create(
        name=name, defaults={"seen_at": timezone.now() - datetime.timedelta(seconds=seconds_ago)}
    )


@pytest.fixture
def broker(tmp_path):
    """A redis-server of the test's own as the Celery broker (tasks no longer eager)."""
    server = RedisServer(tmp_path, persistent=False)
    server.start()
    saved = use_broker(broker_url=server.url, task_always_eager=False)
    try:
        yield server
    finally:
        use_broker(**saved)
        server.stop()


# --- live ---------------------------------------------------------------------------------------------


def test_live_answers_200_without_touching_the_database_whatever_the_host(client):
    # no django_db mark: any database access here raises
    with override_settings(ALLOWED_HOSTS=["orders.example.org"]):
        response = client.get("/health/live", HTTP_HOST="10.0.0.5:8000")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_probes_are_not_redirected_to_https(client):
    with override_settings(SECURE_SSL_REDIRECT=True):
        assert client.get("/health/live").status_code == 200
        assert client.get("/api/version/").status_code == 301  # the rest of the site is


# --- ready: the embedded mode ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_ready_in_the_embedded_mode_checks_the_database_and_reports_the_rest_as_embedded(client):
    response = client.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert {name: body["checks"][name]["status"] for name in ("broker", "worker", "beat")} == dict.fromkeys(
        ("broker", "worker", "beat"), "embedded"
    )


# --- ready: a real broker --------------------------------------------------------------------------------


@pytest.mark.redis
@needs_redis_server
@pytest.mark.django_db
def test_ready_is_503_while_the_broker_is_stopped_and_200_once_it_runs_again(client, broker):
    _stamp(heartbeats.WORKER)
    _stamp(heartbeats.BEAT)

    running = client.get("/health/ready")
    assert running.status_code == 200, running.json()
    assert running.json()["checks"]["broker"]["status"] == "ok"

    broker.stop()
    started = time.monotonic()
    stopped = client.get("/health/ready")
    assert time.monotonic() - started < 5  # a short timeout, not a hanging probe
    assert stopped.status_code == 503
    body = stopped.json()
    assert body["status"] == "fail"
    assert body["checks"]["broker"]["status"] == "fail"
    assert body["checks"]["broker"]["error"]  # the kind of failure, never the broker's address
    assert str(broker.port) not in stopped.content.decode()
    assert {name: body["checks"][name]["status"] for name in ("database", "worker", "beat")} == dict.fromkeys(
        ("database", "worker", "beat"), "ok"
    )

    broker.start()  # the same port
    assert client.get("/health/ready").status_code == 200


@pytest.mark.redis
@needs_redis_server
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("worker_age", "beat_age", "failing"),
    [
        (10, 10, set()),
        (600, 10, {"worker"}),  # beat sends, nobody runs: the workers are down
        (600, 600, {"worker", "beat"}),  # beat stopped sending
        (89, 91, {"beat"}),  # at the edge of HEALTH_STALE_AFTER_SECONDS (90)
    ],
)
def test_ready_fails_with_the_age_of_a_stale_heartbeat(client, broker, worker_age, beat_age, failing):
    _stamp(heartbeats.WORKER, worker_age)
    _stamp(heartbeats.BEAT, beat_age)

    with override_settings(HEALTH_STALE_AFTER_SECONDS=90):
        response = client.get("/health/ready")

    assert response.status_code == (503 if failing else 200)
    checks = response.json()["checks"]
    assert {name for name, check in checks.items() if check["status"] != "ok"} == failing
    for name, age in (("worker", worker_age), ("beat", beat_age)):
        assert checks[name]["seen_seconds_ago"] == pytest.approx(age, abs=3)
        assert checks[name]["stale_after_seconds"] == 90


@pytest.mark.redis
@needs_redis_server
@pytest.mark.django_db
def test_ready_fails_when_no_worker_was_ever_seen(client, broker):
    _stamp(heartbeats.BEAT)

    response = client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == {"status": "fail", "detail": "never seen"}


def test_heartbeat_freshness_is_judged_against_the_stale_limit():
    now = timezone.now()
    seen = {"worker": now - datetime.timedelta(seconds=30), "beat": now + datetime.timedelta(seconds=2)}

    with override_settings(HEALTH_STALE_AFTER_SECONDS=29.5):
        checks = heartbeat_checks(seen, now=now)

    assert checks["worker"]["status"] == "fail"
    assert checks["beat"] == {"status": "ok", "seen_seconds_ago": 0.0, "stale_after_seconds": 29.5}  # clock skew


# --- who stamps the heartbeats ---------------------------------------------------------------------------


@pytest.mark.redis
@needs_redis_server
@pytest.mark.django_db
def test_publishing_the_heartbeat_task_stamps_beat_and_running_it_stamps_worker(broker):
    app.send_task(heartbeats.HEARTBEAT_TASK)
    app.send_task("tasks.periodic.release_pending_orders")

    assert set(heartbeats.heartbeats_seen()) == {"beat"}
    heartbeat.apply()
    seen = heartbeats.heartbeats_seen()
    assert set(seen) == {"beat", "worker"}
    assert timezone.now() - seen["worker"] < datetime.timedelta(seconds=5)


@pytest.mark.redis
@pytest.mark.postgres
@needs_redis_server
@requires_postgres  # beat and the worker write their heartbeats into the test database from other processes
def test_real_beat_and_worker_make_ready_pass_and_a_stopped_worker_makes_it_fail(
    client, transactional_db, broker, tmp_path
):
    stack = CeleryStack(tmp_path, broker.url, {
        "CELERY_TASK_ALWAYS_EAGER": "false", "DATABASE_URL": database_url(), "HEARTBEAT_INTERVAL_SECONDS": "1",
        "LOG_FORMAT": "json",
    })  # fmt: skip
    try:
        stack.beat()
        worker = stack.worker(concurrency=1)
        with override_settings(HEALTH_STALE_AFTER_SECONDS=3):
            wait_until(lambda: client.get("/health/ready").status_code == 200, seconds=30, what=stack.logs())
            stamped = Heartbeat.objects.get(name="worker").seen_at
            wait_until(
                lambda: Heartbeat.objects.get(name="worker").seen_at > stamped,  # by the periodic task, not the start
                seconds=15, what="a heartbeat run by the worker",
            )  # fmt: skip

            with log_context(request_id="req-from-web-1"):  # as if published while handling a request
                app.send_task(heartbeats.HEARTBEAT_TASK)
            line = wait_until(lambda: _json_line(worker, "req-from-web-1"), seconds=15, what="the task's log line")
            assert line["task_name"] == heartbeats.HEARTBEAT_TASK and line["task_id"]

            worker.stop()
            response = wait_until(
                lambda: (r := client.get("/health/ready")).status_code == 503 and r, seconds=15, what="stale worker"
            )
    finally:
        stack.stop()

    checks = response.json()["checks"]
    assert checks["worker"]["status"] == "fail"
    assert checks["beat"]["status"] == "ok"


def _json_line(worker, request_id: str) -> dict | None:
    """The worker's first JSON log line carrying `request_id` (LOG_FORMAT=json: every line is JSON)."""
    for text in worker.text().splitlines():
        if request_id in text:
            return json.loads(text)
    return None


# --- the command docker-compose's healthchecks run -------------------------------------------------------


@pytest.mark.redis
@needs_redis_server
@pytest.mark.django_db
def test_check_health_exits_non_zero_for_a_stale_beat_and_prints_the_detail(broker, capsys):
    _stamp(heartbeats.WORKER)
    _stamp(heartbeats.BEAT, 600)

    call_command("check_health", "worker")
    assert json.loads(capsys.readouterr().out)["status"] == "ok"
    with pytest.raises(CommandError, match="beat is not healthy"):
        call_command("check_health", "beat")
    assert json.loads(capsys.readouterr().out)["seen_seconds_ago"] >= 600
    with pytest.raises(CommandError, match="ready is not healthy"):
        call_command("check_health", "ready")
