"""`manage.py resubmit_failed_orders`: resubmit erred orders for provisioning in bulk (seed 003, issue item 6).

The selection uses the order list's filters (orders.filters.OrderFilter, built from the options), so the
CLI and `POST /api/marketplace-orders/bulk_retry/` select the same orders for the same filters: the erred
orders matching them, or, with --uuids-file, the listed orders whatever their state (those not erred are
reported as skipped). The run goes through the one batch executor as a Job (visible in the admin), run
here chunk by chunk at the job's rate with a progress bar, then a summary table.

Who: by default a system run (actor None, like automatic recovery): the retry policy is not checked, every
offering's orders may be resubmitted (the offering type must still support retry). With --as-user USERNAME
the run is that person's: only the orders they may see are selected, each is checked against their right,
and the job and the retry events name them.

Exit status: 0 when every selected order was resubmitted (or nothing matched, or a dry run), 1 when any
was skipped (or the run was declined or interrupted), 2 on bad usage.
"""

from __future__ import annotations

import datetime
import sys
import time
import uuid
from collections import Counter
from functools import reduce
from operator import or_
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import QuerySet
from django.http import QueryDict
from tqdm import tqdm

from core import jobs
from core.models import Job, JobItem
from offerings.models import Offering
from orders import selectors
from orders.filters import OrderFilter
from orders.models import Order
from orders.services import batch
from orders.states import OrderState, OrderType

USAGE = 2  # exit status of bad usage (argparse's too)
TYPES = {t.value.lower(): t.value for t in OrderType}


def order_type(value: str) -> str:
    try:
        return TYPES[value.strip().lower()]
    except KeyError:
        raise ValueError(value) from None


order_type.__name__ = "order type"  # argparse names the converter in its message


def positive_rate(value: str) -> float:
    rate = float(value)
    if not rate > 0 or rate == float("inf"):
        raise ValueError(value)
    return rate


positive_rate.__name__ = "rate"


def read_uuids(path: str) -> list[uuid.UUID]:
    """One uuid per line (hex or dashed); blank lines and # comments are ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"--uuids-file: cannot read {path}: {exc}", returncode=USAGE) from None
    found: list[uuid.UUID] = []
    for number, line in enumerate(text.splitlines(), start=1):
        value = line.split("#", 1)[0].strip()
        if not value:
            continue
        compact = value.replace("-", "")
        try:
            if len(compact) != 32 or (len(value) != 32 and len(value) != 36):
                raise ValueError(value)
            found.append(uuid.UUID(compact))
        except ValueError:
            raise CommandError(
                f"--uuids-file {path}, line {number}: {value!r} is not a uuid (32 hex digits, dashes allowed).",
                returncode=USAGE,
            ) from None
    return list(dict.fromkeys(found))


class Command(BaseCommand):
    help = (
        "Resubmit erred orders for provisioning in bulk, selected with the order list's filters (or a file of "
        "uuids), rate-capped, with a progress bar and a summary. Without --as-user it runs as the system: the "
        "retry policy is not checked. Exit status: 0 all resubmitted, 1 some skipped, 2 bad usage."
    )

    def add_arguments(self, parser) -> None:
        select = parser.add_argument_group("selection (the order list's filters; all given must match)")
        select.add_argument(
            "--failed-after",
            metavar="WHEN",
            help="Last erred at or after: a date (midnight "
            "UTC) or an ISO 8601 date-time, with an offset (2026-11-20T08:00+01:00) or UTC.",
        )
        select.add_argument("--failed-before", metavar="WHEN", help="Last erred at or before (same forms).")
        select.add_argument(
            "--offering",
            metavar="UUID",
            action="append",
            default=[],
            help="Orders of this offering (repeatable: any of them).",
        )
        select.add_argument("--provider", metavar="UUID", help="Orders of offerings of this provider organisation.")
        select.add_argument(
            "--type",
            metavar="TYPE",
            type=order_type,
            action="append",
            default=[],
            help="Create, Update, Terminate or Restore (repeatable: any of them).",
        )
        select.add_argument("--error-contains", metavar="TEXT", help="Substring of the error message (any case).")
        transient = select.add_mutually_exclusive_group()
        transient.add_argument(
            "--transient",
            dest="transient",
            action="store_const",
            const=True,
            help="Only orders whose last failure was transient (an outage).",
        )
        transient.add_argument(
            "--no-transient",
            dest="transient",
            action="store_const",
            const=False,
            help="Only orders whose last failure was not transient.",
        )
        select.add_argument(
            "--uuids-file",
            metavar="PATH",
            help="Only these orders: one uuid per line (hex or "
            "dashed, # comments); listed orders that are not erred are reported as skipped.",
        )
        run = parser.add_argument_group("run")
        run.add_argument(
            "--dry-run",
            action="store_true",
            help="Show what would be resubmitted (counts by offering and error), change nothing.",
        )
        run.add_argument(
            "--rate",
            type=positive_rate,
            metavar="PER_SECOND",
            help="At most this many orders per second (default: the BULK_RETRY_RATE setting); an offering's "
            "resubmit_rate option caps its own orders too.",
        )
        run.add_argument("--reason", default="", help="Why: stored on the job and in each order's retry event.")
        run.add_argument("--yes", action="store_true", help="Do not ask for confirmation (needed without a terminal).")
        run.add_argument("--as-user", metavar="USERNAME", help="Run as this user: their visibility and retry right "
                         "apply. Default: the system (the retry policy is not checked).")  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        actor = self.actor(options["as_user"])
        orders = self.selection(actor, options)
        preview = batch.retry_preview(actor=actor, orders=orders)
        self.print_preview(preview, dry_run=options["dry_run"])
        if options["dry_run"] or not preview["matched"]:
            return
        if not options["yes"]:
            self.confirm(len(preview["retried"]), preview["matched"])
        rate = options["rate"] or settings.MARKETPLACE["BULK_RETRY_RATE"]
        job, _ = batch.bulk_retry_start(
            actor=actor,
            orders=orders,
            reason=options["reason"],
            params={"source": "cli", "options": self.described(options)},
            rate_per_second=rate,
            caller_runs=True,
        )
        self.stdout.write(f"Job {job.uuid.hex}: {job.total} orders at most {rate:g} per second.")
        self.run(job)
        job.refresh_from_db()
        self.print_summary(job)
        if job.state != Job.States.DONE or job.skipped:
            raise CommandError(
                f"{job.skipped} of {job.total} selected orders were not resubmitted (job {job.uuid.hex}).",
                returncode=1,
            )

    # --- selection ------------------------------------------------------------------------------------

    def actor(self, username: str | None):
        if not username:
            return None
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"--as-user: no active user {username!r}.", returncode=USAGE)
        return user

    def selection(self, actor, options: dict[str, Any]) -> QuerySet[Order]:
        """The orders the options select, through the order list's FilterSet (as the API's bulk_retry)."""
        data = QueryDict(mutable=True)
        for option, name in (
            ("failed_after", "failed_after"),
            ("failed_before", "failed_before"),
            ("provider", "provider_uuid"),
            ("error_contains", "error_contains"),
        ):
            if options[option] not in (None, ""):
                data[name] = options[option]
        if options["type"]:
            data.setlist("type", options["type"])
        if options["transient"] is not None:
            data["error_is_transient"] = "true" if options["transient"] else "false"
        base = selectors.order_list_for(actor, joins=()) if actor is not None else Order.objects.all()
        filtersets = [self.filterset(data, offering, base) for offering in options["offering"] or [None]]
        orders = reduce(or_, (fs.qs for fs in filtersets))
        if options["uuids_file"]:
            return orders.filter(uuid__in=read_uuids(options["uuids_file"]))
        return orders.filter(state=OrderState.ERRED)

    def filterset(self, data: QueryDict, offering: str | None, base: QuerySet[Order]) -> OrderFilter:
        data = data.copy()
        if offering is not None:
            data["offering_uuid"] = offering
        filterset = OrderFilter(data=data, queryset=base)
        if not filterset.is_valid():
            names = {"offering_uuid": "offering", "provider_uuid": "provider", "error_is_transient": "transient"}
            problems = "; ".join(
                f"--{names.get(field, field).replace('_', '-')} {data.get(field)!r}: {' '.join(errors)}"
                for field, errors in filterset.errors.items()
            )
            raise CommandError(problems, returncode=USAGE)
        return filterset

    @staticmethod
    def described(options: dict[str, Any]) -> dict[str, Any]:
        keys = ("failed_after", "failed_before", "offering", "provider", "type", "error_contains", "transient",
                "uuids_file", "as_user")  # fmt: skip
        return {key: options[key] for key in keys if options[key] not in (None, "", [])}

    # --- confirmation and run -------------------------------------------------------------------------

    def confirm(self, count: int, matched: int) -> None:
        if not sys.stdin.isatty():
            raise CommandError(
                f"Refusing to resubmit {count} orders without confirmation: stdin is not a terminal. "
                "Pass --yes to confirm, or --dry-run to only look.",
                returncode=USAGE,
            )
        skipped = f" ({matched - count} of the {matched} selected would be skipped)" if matched != count else ""
        answer = input(f"Resubmit {count} orders{skipped}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise CommandError("Nothing was resubmitted.", returncode=1)

    def run(self, job: Job) -> None:
        """Chunk after chunk in this process, sleeping as the rate cap asks; Ctrl-C cancels the rest."""
        stream = getattr(self.stderr, "_out", sys.stderr)
        with tqdm(total=job.total, unit="order", file=stream, dynamic_ncols=True, mininterval=0.5) as bar:
            try:
                runner = jobs.job_claim_runner(job.pk)
                while (wait := jobs.job_run_chunk(job.pk, runner=runner)) is not None:
                    self.advance(bar, job)
                    time.sleep(wait)
            except KeyboardInterrupt:
                jobs.job_cancel(job=job.pk)
                self.stderr.write("Interrupted: the orders not reached yet are reported as skipped (canceled).")
            self.advance(bar, job)

    @staticmethod
    def advance(bar: tqdm, job: Job) -> None:
        job.refresh_from_db(fields=["processed", "succeeded", "skipped"])
        bar.set_postfix(resubmitted=job.succeeded, skipped=job.skipped, refresh=False)
        bar.update(job.processed - bar.n)

    # --- output ---------------------------------------------------------------------------------------

    def table(self, header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in row) for row in rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        for n, row in enumerate(cells):
            self.stdout.write(
                "  "
                + "  ".join(
                    c.ljust(w) if i == 0 else c.rjust(w) if c.isdigit() else c.ljust(w)
                    for i, (c, w) in enumerate(zip(row, widths, strict=True))
                ).rstrip()
            )
            if n == 0:
                self.stdout.write("  " + "  ".join("-" * w for w in widths))

    def print_preview(self, preview: dict[str, Any], *, dry_run: bool) -> None:
        would = "Would resubmit" if dry_run else "To resubmit"
        self.stdout.write(
            f"Matched {preview['matched']} orders. {would}: {len(preview['retried'])}. "
            f"{'Would skip' if dry_run else 'To skip'}: {len(preview['skipped'])}."
        )
        if not preview["matched"]:
            self.stdout.write("No orders match: nothing to resubmit.")
            return
        if preview["by_offering"]:
            self.stdout.write("\nBy offering:")
            self.table(("offering", "uuid", "orders"),
                       [(g["name"], g["offering_uuid"], g["count"]) for g in preview["by_offering"]])  # fmt: skip
        if preview["by_error"]:
            names = {g["offering_uuid"]: g["name"] for g in preview["by_offering"]}
            self.stdout.write("\nBy error:")
            self.table(("error", "offering", "orders"),
                       [(g["error"], names.get(g["offering_uuid"], g["offering_uuid"]), g["count"])
                        for g in preview["by_error"]])  # fmt: skip
        if preview["skipped_by_reason"]:
            self.stdout.write("\nSkipped:")
            self.table(("reason", "orders", "why"),
                       [(reason, count, batch.SKIP_REASONS.get(reason, ""))
                        for reason, count in sorted(preview["skipped_by_reason"].items())])  # fmt: skip

    def print_summary(self, job: Job) -> None:
        rows = list(JobItem.objects.filter(job=job).values_list("group", "outcome", "reason"))
        reasons = Counter(reason for _, outcome, reason in rows if outcome == JobItem.Outcomes.SKIPPED)
        per_group: dict[str, Counter[str]] = {}
        for group, outcome, _ in rows:
            per_group.setdefault(group, Counter())[outcome] += 1
        names = dict(Offering.objects.filter(uuid__in=[g for g in per_group if g]).values_list("uuid", "name"))
        names = {u.hex: name for u, name in names.items()}
        took = (job.finished_at - job.started_at) if job.finished_at and job.started_at else datetime.timedelta()
        self.stdout.write(f"\nJob {job.uuid.hex} {job.state} in {took.total_seconds():.1f} s.")
        self.table(("outcome", "orders"), [("resubmitted", job.succeeded), ("skipped", job.skipped)])
        if reasons:
            self.stdout.write("\nSkipped by reason:")
            self.table(("reason", "orders", "why"),
                       [(r, n, batch.SKIP_REASONS.get(r, "")) for r, n in sorted(reasons.items())])  # fmt: skip
        self.stdout.write("\nBy offering:")
        self.table(
            ("offering", "uuid", "resubmitted", "skipped"),
            [(names.get(g, "?"), g, c[JobItem.Outcomes.SUCCEEDED], c[JobItem.Outcomes.SKIPPED])
             for g, c in sorted(per_group.items(), key=lambda kv: names.get(kv[0], ""))],
        )  # fmt: skip
