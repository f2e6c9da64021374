"""Latency of GET/HEAD /api/marketplace-orders/ at scale, over real HTTP against gunicorn.

    .venv/bin/python bench/orders_api.py --orders 100000 \
        --database-url postgres://postgres@127.0.0.1:5432/bench_orders

Creates the database if missing, migrates, seeds N orders with bulk_create (reused when the database
already holds at least N; --reseed wipes and seeds again), starts `gunicorn marketplace.wsgi -w 2` on a
free 127.0.0.1 port, and times each scenario sequentially (warm-up, then K requests). The SQL queries of
one request per scenario are counted in-process with DRF's APIClient against the same database.
Not a test: it prints a table. See bench/README.md.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from _server import (
    HOST,
    ROOT,
    code_version,
    cpu_busy_share,
    cpu_times,
    machine_info,
    start_server,
    stop_server,
    wait_ready,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_orders"
ENDPOINT = "/api/marketplace-orders/"


@dataclass
class Scenario:
    name: str
    user: str  # key of BenchRun.tokens
    params: list[tuple[str, str]] = field(default_factory=list)
    method: str = "GET"
    retrieve: bool = False  # GET /{uuid}/ with a random order per request


@dataclass
class Row:
    scenario: Scenario
    latencies_ms: list[float]
    size: int
    queries: int
    sql_ms: float
    result_count: str

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000, help="orders to seed (default 100000)")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help=f"PostgreSQL or sqlite:////abs/path URL (default {DEFAULT_DATABASE_URL})",
    )
    parser.add_argument("--requests", type=int, default=50, help="timed requests per scenario (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per scenario first (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--reseed", action="store_true", help="wipe orders and resources, then seed again")
    parser.add_argument("--seed", type=int, default=42, help="random seed of the data and of the uuids picked")
    parser.add_argument(
        "--explain", action="store_true", help="PostgreSQL: EXPLAIN ANALYZE the slowest query of each scenario"
    )
    return parser.parse_args(argv)


# --- database -------------------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    """CREATE DATABASE on PostgreSQL when missing (via the `postgres` maintenance database)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        return
    import psycopg
    from psycopg import sql

    name = unquote(parts.path.lstrip("/"))
    conninfo = {
        "host": parts.hostname or HOST,
        "port": parts.port or 5432,
        "user": unquote(parts.username or "postgres"),
        "dbname": "postgres",
    }
    if parts.password:
        conninfo["password"] = unquote(parts.password)
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def setup_django(url: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "marketplace.settings"
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "False"
    os.environ.setdefault("MARKETPLACE_EMBEDDED", "true")  # a generated key, any host, plain HTTP (README)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare_data(args: argparse.Namespace):
    """Migrate, then reuse or seed; returns (world, seconds spent seeding or None when reused)."""
    import _seed
    from django.core.management import call_command

    from orders.models import Order

    call_command("migrate", verbosity=0, interactive=False)
    world = _seed.ensure_world()
    existing = Order.objects.count()
    if existing >= args.orders and not args.reseed:
        print(f"reusing {existing} orders already in the database (--reseed to seed again)")
        return world, None
    print(f"seeding {args.orders} orders (found {existing})")
    _seed.wipe_orders()
    seconds = _seed.seed_orders(world, args.orders, seed=args.seed)
    print(f"seeded {args.orders} orders in {seconds:.1f} s")
    return world, seconds


# --- server ---------------------------------------------------------------------------------------


# --- measuring ------------------------------------------------------------------------------------


def scenarios(world, total: int) -> list[Scenario]:
    last_page = max(1, math.ceil(total / 100))
    return [
        Scenario("list page_size=10 (staff)", "staff", [("page_size", "10")]),
        Scenario("list page_size=100 (staff)", "staff", [("page_size", "100")]),
        Scenario("list page_size=300 (staff)", "staff", [("page_size", "300")]),
        Scenario(f"list page_size=100 page={last_page} (staff)", "staff", [("page_size", "100"),
                                                                           ("page", str(last_page))]),
        Scenario("list page_size=100 (consumer owner)", "consumer_owner", [("page_size", "100")]),
        Scenario(
            "list field=uuid&field=state page_size=300 (staff)",
            "staff",
            [("field", "uuid"), ("field", "state"), ("page_size", "300")],
        ),
        Scenario(
            "site agent: offering_uuid+state x2 page_size=100 (provider owner)",
            "provider_owner",
            [
                ("offering_uuid", world.site_agent_offering.uuid.hex),
                ("state", "pending-provider"),
                ("state", "executing"),
                ("page_size", "100"),
            ],
        ),
        Scenario("HEAD count (staff)", "staff", method="HEAD"),
        Scenario("HEAD count (consumer owner)", "consumer_owner", method="HEAD"),
        Scenario("retrieve random order (staff)", "staff", retrieve=True),
    ]  # fmt: skip


def count_queries(scenario: Scenario, token: str, uuid_hex: str):
    """One in-process request through DRF's APIClient: (queries, captured list)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    path = f"{ENDPOINT}{uuid_hex}/" if scenario.retrieve else ENDPOINT
    data: dict[str, list[str]] = {}
    for key, value in scenario.params:
        data.setdefault(key, []).append(value)
    call = client.head if scenario.method == "HEAD" else client.get
    with CaptureQueriesContext(connection) as captured:
        response = call(path, data)
    if response.status_code != 200:
        raise RuntimeError(f"{scenario.name}: in-process {response.status_code} {response.content[:500]!r}")
    return captured.captured_queries


def explain(captured: list[dict]) -> str:
    from django.db import connection

    slowest = max(captured, key=lambda q: float(q["time"]))
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"])
        plan = "\n".join(f"    {line}" for (line,) in cursor.fetchall())
    return f"  slowest query ({float(slowest['time']) * 1000:.1f} ms):\n    {slowest['sql'][:600]}\n{plan}"


def run_scenario(client, scenario: Scenario, token: str, uuids: list[str], args, rng: random.Random) -> tuple:
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    latencies: list[float] = []
    sizes: list[int] = []
    result_count = ""
    for i in range(args.warmup + args.requests):
        path = f"{ENDPOINT}{rng.choice(uuids)}/" if scenario.retrieve else ENDPOINT
        started = time.perf_counter()
        response = client.request(scenario.method, path, params=scenario.params, headers=headers)
        body = response.content  # read fully before stopping the clock
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{scenario.name}: HTTP {response.status_code} {body[:500]!r}")
        if i >= args.warmup:
            latencies.append(elapsed)
            sizes.append(len(body))
            result_count = response.headers.get("X-Result-Count", "")
    return latencies, int(statistics.median(sizes)), result_count


def print_table(rows: list[Row]) -> None:
    headers = ("scenario", "p50 ms", "p95 ms", "max ms", "queries", "sql ms", "bytes", "X-Result-Count")
    cells = [
        (
            r.scenario.name,
            f"{r.percentile(50):.1f}",
            f"{r.percentile(95):.1f}",
            f"{max(r.latencies_ms):.1f}",
            str(r.queries),
            f"{r.sql_ms:.1f}",
            str(r.size),
            r.result_count,
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

    def line(values) -> str:
        padded = (v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True)))
        return "| " + " | ".join(padded) + " |"

    print(line(headers))
    print("|" + "|".join(("-" * (w + 1) + ":") if i else "-" * (w + 2) for i, w in enumerate(widths)) + "|")
    for c in cells:
        print(line(c))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_database(args.database_url)
    setup_django(args.database_url)
    import httpx
    from django.db import connection

    from orders.models import Order

    code = code_version()  # before measuring: the code the server will load
    world, seed_seconds = prepare_data(args)
    total = Order.objects.count()
    tokens = {key: world.token(getattr(world, key)) for key in ("staff", "consumer_owner", "provider_owner")}
    rng = random.Random(args.seed)
    uuids = [u.hex for u in Order.objects.order_by("?").values_list("uuid", flat=True)[:500]]
    plan = scenarios(world, total)

    # SQL queries per request, in-process against the same database (one request per scenario)
    counted: dict[str, tuple[int, float]] = {}
    explained: list[str] = []
    for scenario in plan:
        captured = count_queries(scenario, tokens[scenario.user], uuids[0])
        counted[scenario.name] = (len(captured), sum(float(q["time"]) for q in captured) * 1000)
        if args.explain and connection.vendor == "postgresql":
            explained.append(f"{scenario.name}:\n{explain(captured)}")
    connection.close()  # the server gets its own connections

    log_path = Path(tempfile.gettempdir()) / f"bench-orders-gunicorn-{os.getpid()}.log"
    process, base = start_server(args.workers, log_path)
    rows: list[Row] = []
    cpu_before = cpu_times()
    try:
        wait_ready(process, base, log_path)
        with httpx.Client(base_url=base, timeout=120) as client:
            for scenario in plan:
                latencies, size, result_count = run_scenario(client, scenario, tokens[scenario.user], uuids, args, rng)
                queries, sql_ms = counted[scenario.name]
                rows.append(Row(scenario, latencies, size, queries, sql_ms, result_count))
                print(f"  measured {scenario.name}: p50 {rows[-1].percentile(50):.1f} ms", flush=True)
    finally:
        stop_server(process)
    busy = cpu_busy_share(cpu_before, cpu_times())

    print()
    print(f"orders: {total}   requests per scenario: {args.requests} (after {args.warmup} warm-up)   "
          f"gunicorn workers: {args.workers}   date: {time.strftime('%Y-%m-%d %H:%M %Z')}")  # fmt: skip
    print(machine_info())
    print(f"code: {code}")
    if busy is not None:
        crowded = busy > 1.3 / (os.cpu_count() or 1)  # this benchmark alone keeps about one CPU busy
        print(
            f"CPU busy during the HTTP measurements: {busy:.0%} of {os.cpu_count()} CPUs"
            + ("  <- other processes were using the CPUs: latencies are inflated" if crowded else "")
        )
    print(f"CONN_MAX_AGE of the server: {connection.settings_dict['CONN_MAX_AGE']}")
    if seed_seconds is not None:
        print(f"seed time: {seed_seconds:.1f} s")
    print("latencies: wall-clock per HTTP request over loopback, body read in full; queries and sql ms: one")
    print("in-process request through APIClient (sql ms is the sum of that request's query times)")
    print()
    print_table(rows)
    for text in explained:
        print()
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
