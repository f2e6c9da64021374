"""Heartbeats of the background components, as rows, so readiness needs no Celery remote-control round trip.

Beat publishes the task tasks.periodic.heartbeat every HEARTBEAT_INTERVAL_SECONDS; publishing it stamps
"beat" (a before_task_publish receiver in beat's own process), a worker running it stamps "worker", and a
worker stamps "worker" when it starts too. A fresh "worker" therefore proves a worker consumed the queue
lately; a fresh "beat" with a stale "worker" says the workers are down or behind, both stale say beat is.
Models are imported inside the functions: marketplace/celery.py connects the receivers before Django is set up.
"""

from __future__ import annotations

import datetime
import logging
import socket

from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

logger = logging.getLogger(__name__)

HEARTBEAT_TASK = "tasks.periodic.heartbeat"
BEAT, WORKER = "beat", "worker"


def heartbeat_record(name: str, *, hostname: str = "") -> None:
    """Stamp `name` as seen now."""
    from core.models import Heartbeat

    Heartbeat.objects.update_or_create(
        name=name, defaults={"seen_at": timezone.now(), "hostname": (hostname or socket.gethostname())[:255]}
    )


def heartbeats_seen() -> dict[str, datetime.datetime]:
    """name → when last seen."""
    from core.models import Heartbeat

    return dict(Heartbeat.objects.values_list("name", "seen_at"))


def _record_quietly(name: str, hostname: str = "") -> None:
    try:
        heartbeat_record(name, hostname=hostname)
    except DatabaseError as exc:  # never break publishing or a worker's start over a heartbeat
        logger.warning("heartbeat %s not recorded: %r", name, exc)


def on_task_publish(sender: str | None = None, **_: object) -> None:
    """before_task_publish: beat is sending the heartbeat task, so beat is alive."""
    if sender == HEARTBEAT_TASK:
        if not connection.in_atomic_block:  # beat serves no requests: drop a connection a database restart broke
            close_old_connections()
        _record_quietly(BEAT)


def on_worker_ready(sender=None, **_: object) -> None:
    """worker_ready: a worker that just started counts as seen."""
    _record_quietly(WORKER, hostname=getattr(sender, "hostname", "") or "")
