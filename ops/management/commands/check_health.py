"""`manage.py check_health ready|beat|worker`: the readiness report, or one heartbeat's, as JSON on stdout;
exit status 0 when healthy, 1 when not (docker-compose healthchecks, README "Monitoring")."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from core import heartbeats
from ops.health import EMBEDDED, OK, embedded, heartbeat_checks, readiness


class Command(BaseCommand):
    help = "Print the readiness report (ready) or one heartbeat's freshness (beat, worker); exit 1 when unhealthy."

    def add_arguments(self, parser) -> None:
        parser.add_argument("component", choices=["ready", heartbeats.BEAT, heartbeats.WORKER])

    def handle(self, *args, component: str, **options) -> None:
        if component == "ready":
            report = readiness()
        elif embedded():
            report = {"status": EMBEDDED}
        else:
            report = heartbeat_checks(heartbeats.heartbeats_seen())[component]
        self.stdout.write(json.dumps(report))
        if report["status"] not in (OK, EMBEDDED):
            raise CommandError(f"{component} is not healthy")
