"""Cost of a bulk resubmit through the batch executor at 1k and 10k erred orders, on PostgreSQL.

    .venv/bin/python bench/bulk_retry.py --database-url postgres://postgres@127.0.0.1:5432/mk_bench_bulk

For each size: wipes orders and jobs, seeds N erred webhook orders (with their resources) in bulk (COPY),
then resubmits all of them as a person would through the CLI or the API: bulk_retry_start snapshots the
selection as a Job, and the job runs in this process chunk after chunk with no rate cap (each order in its
own transaction through order_retry, with its event and resource change). The processing hand-off after
each commit goes to Celery's in-memory broker (nothing consumes it): the executor is measured, not the
webhook. SQL statements are counted with a connection.execute_wrapper (cheap, unlike capturing them).
Prints wall time, orders per second and queries per order side by side, and whether the 10k run took at
most 11 × the 1k run (linear). Not a test: see bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from datetime import timedelta

from _server import code_version, machine_info
from orders_api import ensure_database, setup_django

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mk_bench_bulk"
LINEAR_BOUND = 11  # the 10k run may take at most this many times the 1k run


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help=f"default {DEFAULT_DATABASE_URL}")
    parser.add_argument("--sizes", default="1000,10000", help="selection sizes, comma-separated (default 1000,10000)")
    parser.add_argument(
        "--as",
        dest="actor",
        choices=("staff", "system"),
        default="staff",
        help="who resubmits: a staff user (the API, the admin) or the system (CLI default, recovery)",
    )
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)  # fmt: skip


class QueryCounter:
    """Counts the statements sent through Django's connection (an execute_wrapper)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def wipe() -> None:
    import _seed
    from django.db import connection

    from core.models import Job, JobItem
    from orders.models import OrderEvent

    _seed.wipe_orders()
    tables = [m._meta.db_table for m in (JobItem, Job)]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    assert not OrderEvent.objects.exists()


def seed_erred(world, n: int, rng: random.Random) -> float:
    """N erred Create orders of the catalogue's webhook offerings, each with its resource (erred too)."""
    import _seed
    from django.core.management.color import no_style
    from django.db import connection, transaction
    from django.utils import timezone

    from orders.models import Order, Resource
    from orders.states import OrderState as S
    from orders.states import OrderType as T
    from orders.states import ResourceState as R

    started = time.perf_counter()
    webhooks = [o for o in world.offerings if o.type == "Marketplace.Webhook"]
    now = timezone.now()
    with transaction.atomic():
        for start in range(0, n, _seed.BATCH):
            resources, orders = [], []
            for i in range(start + 1, min(n, start + _seed.BATCH) + 1):
                offering, project = webhooks[i % len(webhooks)], world.projects[i % len(world.projects)]
                plan_id = world.plans[offering.pk][0].pk
                failed_at = now - timedelta(minutes=rng.randint(1, 120))
                author = world.owners[project.customer_id].pk
                resources.append({
                    "id": i, "uuid": uuid.UUID(int=rng.getrandbits(128), version=4), "created": failed_at,
                    "modified": failed_at, "name": f"resource-{i}", "slug": f"resource-{i}",
                    "project_id": project.pk, "offering_id": offering.pk, "plan_id": plan_id,
                    "limits": {"cpu": 4}, "attributes": {"name": f"resource-{i}"}, "state": R.ERRED,
                })  # fmt: skip
                orders.append({
                    "id": i, "uuid": uuid.UUID(int=rng.getrandbits(128), version=4), "created": failed_at,
                    "modified": failed_at, "type": T.CREATE, "state": S.ERRED, "offering_id": offering.pk,
                    "project_id": project.pk, "resource_id": i, "plan_id": plan_id,
                    "attributes": {"name": f"resource-{i}"}, "limits": {"cpu": 4}, "cost": 0,
                    "created_by_id": author, "consumer_reviewed_by_id": author, "consumer_reviewed_at": failed_at,
                    "error_message": f"Fulfilment endpoint answered 503 for order {i}.",
                    "error_traceback": "Traceback (most recent call last):\n  ...\nTransientBackendError",
                    "error_updated_at": failed_at, "error_is_transient": True, "attempt": rng.randint(1, 3),
                    "state_entered_at": failed_at, "slug": f"order-{i}",
                })  # fmt: skip
            _seed._insert(Resource, resources)
            _seed._insert(Order, orders)
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), [Resource, Order]):
                cursor.execute(statement)
    with connection.cursor() as cursor:
        for model in (Resource, Order):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    return time.perf_counter() - started


def measure(world, n: int, actor, rng: random.Random) -> dict:
    from django.db import connection

    from core import jobs
    from orders.models import Order
    from orders.services import batch

    wipe()
    seed_seconds = seed_erred(world, n, rng)
    counter = QueryCounter()
    chunks = 0
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        job, _ = batch.bulk_retry_start(
            actor=actor, orders=Order.objects.filter(state="erred"), reason="benchmark", caller_runs=True
        )
        snapshot_seconds = time.perf_counter() - started
        snapshot_queries = counter.count
        while jobs.job_run_chunk(job.pk, paced=False) is not None:
            chunks += 1
        total_seconds = time.perf_counter() - started
    job.refresh_from_db()
    executing = Order.objects.filter(state="executing").count()
    if (job.state, job.succeeded, executing) != ("done", n, n):
        raise RuntimeError(f"run incomplete: job {job.state} {job.succeeded}/{n}, {executing} orders executing")
    return {
        "n": n,
        "seed": seed_seconds,
        "snapshot": snapshot_seconds,
        "total": total_seconds,
        "rate": n / total_seconds,
        "queries": counter.count,
        "per_order": (counter.count - snapshot_queries) / n,
        "chunks": chunks + 1,
    }


def print_table(results: list[dict]) -> None:
    headers = ["orders", "wall s", "orders/s", "ms/order", "snapshot s", "queries", "queries/order", "chunks"]
    rows = [
        [f"{r['n']}", f"{r['total']:.2f}", f"{r['rate']:.0f}", f"{1000 * r['total'] / r['n']:.2f}",
         f"{r['snapshot']:.2f}", f"{r['queries']}", f"{r['per_order']:.2f}", f"{r['chunks']}"]
        for r in results
    ]  # fmt: skip
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # the processing hand-off goes to kombu's in-memory transport: published, never consumed
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    ensure_database(args.database_url)
    setup_django(args.database_url)
    import _seed
    from django.core.management import call_command

    code = code_version()
    call_command("migrate", verbosity=0, interactive=False)
    world = _seed.ensure_world()
    actor = world.staff if args.actor == "staff" else None
    rng = random.Random(args.seed)
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        print(f"seeding {n} erred orders and resubmitting them ...", flush=True)
        results.append(measure(world, n, actor, rng))
        print(f"  {n}: {results[-1]['total']:.2f} s (seeded in {results[-1]['seed']:.1f} s)", flush=True)

    print()
    print(f"bulk resubmit, no rate cap, as {args.actor}, date: {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(machine_info())
    print(f"code: {code}")
    print("wall s: snapshot (the job and its items) + every chunk until done; queries/order: the run's")
    print("statements (snapshot excluded) divided by the orders; the hand-off goes to an in-memory broker")
    print()
    print_table(results)
    if len(results) >= 2:
        small, large = results[0], results[-1]
        ratio = large["total"] / small["total"]
        bound = LINEAR_BOUND * large["n"] / small["n"] / 10
        verdict = "PASS" if ratio <= bound else "FAIL"
        print(f"\nlinearity: {large['n']} orders took {ratio:.2f} x the time of {small['n']} "
              f"(bound {bound:g} x): {verdict}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
