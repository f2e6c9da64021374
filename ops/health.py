"""Health endpoints for load balancers and orchestrators (README "Monitoring"); unauthenticated, so they say
which check failed and how, never where (no URLs, hosts or error messages).

- GET /health/live: the process answers. No I/O. Always 200 {"status": "ok"}.
- GET /health/ready: 200 when every check passes, else 503; each check has its own entry in "checks":
  database (a query), broker (a ping with HEALTH_BROKER_TIMEOUT_SECONDS), worker and beat (their heartbeat
  rows are younger than HEALTH_STALE_AFTER_SECONDS, core/heartbeats.py). In the embedded mode (eager tasks,
  memory:// broker) there is no broker, worker or beat: those checks report "embedded" and pass.

ProbeMiddleware answers both paths first in the middleware chain: a load balancer probes by address (no
Host that ALLOWED_HOSTS knows) and over plain HTTP (no HTTPS redirect), and a probe is not request traffic
for the latency histogram.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

import redis
from celery import current_app
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from kombu import Connection

from core import heartbeats

OK, FAIL, EMBEDDED = "ok", "fail", "embedded"
LIVE_PATH, READY_PATH = "/health/live", "/health/ready"


def embedded() -> bool:
    conf = current_app.conf
    return bool(conf.task_always_eager) or str(conf.broker_url or "").startswith("memory://")


def _timed(check: Callable[[], dict]) -> dict:
    started = time.monotonic()
    try:
        result = check()
    except Exception as exc:  # a probe reports any failure of a dependency as that check failing
        result = {"status": FAIL, "error": type(exc).__name__}
    result.setdefault("ms", round((time.monotonic() - started) * 1000, 1))
    return result


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"status": OK}


def check_broker() -> dict:
    if embedded():
        return {"status": EMBEDDED}
    url = str(current_app.conf.broker_url)
    timeout = settings.HEALTH_BROKER_TIMEOUT_SECONDS
    if urlsplit(url).scheme in ("redis", "rediss"):
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
    else:
        with Connection(url, connect_timeout=timeout) as conn:
            conn.connect()
    return {"status": OK}


def heartbeat_checks(seen: dict, *, now=None) -> dict[str, dict]:
    """worker and beat entries from the heartbeat rows (name → seen_at): fresh → ok, else fail with the age."""
    now = now or timezone.now()
    limit = settings.HEALTH_STALE_AFTER_SECONDS
    checks = {}
    for name in (heartbeats.WORKER, heartbeats.BEAT):
        seen_at = seen.get(name)
        if seen_at is None:
            checks[name] = {"status": FAIL, "detail": "never seen"}
            continue
        age = max(0.0, (now - seen_at).total_seconds())
        status = OK if age <= limit else FAIL
        checks[name] = {"status": status, "seen_seconds_ago": round(age, 1), "stale_after_seconds": limit}
    return checks


def readiness() -> dict:
    """Every check with its status; "status" is ok only when all pass."""
    checks = {"database": _timed(check_database), "broker": _timed(check_broker)}
    if embedded():
        checks.update({heartbeats.WORKER: {"status": EMBEDDED}, heartbeats.BEAT: {"status": EMBEDDED}})
    elif checks["database"]["status"] != OK:
        checks.update({name: {"status": FAIL, "detail": "database unavailable"} for name in ("worker", "beat")})
    else:
        try:
            checks.update(heartbeat_checks(heartbeats.heartbeats_seen()))
        except DatabaseError as exc:
            failed = {"status": FAIL, "error": type(exc).__name__}
            checks.update({heartbeats.WORKER: failed, heartbeats.BEAT: dict(failed)})
    ready = all(check["status"] in (OK, EMBEDDED) for check in checks.values())
    return {"status": OK if ready else FAIL, "checks": checks}


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


def live(request: HttpRequest) -> HttpResponse:
    return _no_store(JsonResponse({"status": OK}))


def ready(request: HttpRequest) -> HttpResponse:
    report = readiness()
    return _no_store(JsonResponse(report, status=200 if report["status"] == OK else 503))


PROBES = {LIVE_PATH: live, READY_PATH: ready}


class ProbeMiddleware:
    """Answers GET/HEAD on the probe paths before anything else runs (see the module docstring)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info.rstrip("/") or "/")
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)
