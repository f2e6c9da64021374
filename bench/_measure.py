"""The measuring side of bench/orders_api.py: runs in a worker process whose code is either the work tree
("after") or a checkout of an earlier commit ("before"), and answers with JSON.

    python bench/orders_api.py --worker SPEC.json     (spec: code_root, database_url, tasks, plan, options)

Nothing here imports Django at import time: `setup()` first puts the code root being measured in front of
sys.path (the venv's editable install of the work tree comes after it), then configures Django.
Only names that exist in both versions are used (models, the HTTP API); the floor (bench/_floor.py) runs in
the "after" worker only.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ENDPOINT = "/api/marketplace-orders/"
API_PREFIX = "http://testserver/api/"  # django.test.Client's host: the hyperlinks' prefix in-process


# --- set-up ---------------------------------------------------------------------------------------


def setup(code_root: str, database_url: str) -> None:
    from _server import isolate_imports

    root = str(Path(code_root).resolve())
    isolate_imports(Path(root))
    if str(BENCH) not in sys.path:
        sys.path.insert(1, str(BENCH))
    os.chdir(root)
    os.environ["DJANGO_SETTINGS_MODULE"] = "marketplace.settings"
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEBUG"] = "False"
    os.environ.setdefault("MARKETPLACE_EMBEDDED", "true")  # a generated key, any host, plain HTTP
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    import warnings

    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: STATIC_ROOT not collected
    import django

    django.setup()
    import orders

    where = str(Path(orders.__file__).resolve())
    if not where.startswith(root + os.sep):
        raise RuntimeError(f"measuring {root} but the application was imported from {where}")
    import importlib.util

    if root != str(BENCH.parent) and importlib.util.find_spec("orders.counts") is not None:
        spec = importlib.util.find_spec("orders.counts")
        if not str(spec.origin).startswith(root + os.sep):
            raise RuntimeError(f"orders.counts would come from {spec.origin}, not {root}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else float("nan")


def summary(values_ms: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(values_ms, 50),
        "p95": percentile(values_ms, 95),
        "max": max(values_ms) if values_ms else float("nan"),
        "n": len(values_ms),
    }


def _compact_counts() -> str | None:
    """Run orders.counts.compact_order_counts() where the application has it (another change adds it)."""
    import importlib
    import importlib.util

    if importlib.util.find_spec("orders.counts") is None:
        return None
    from orders import counts

    compact = getattr(counts, "compact_order_counts", None)
    if compact is None:
        return "orders.counts has no compact_order_counts()"
    started = time.perf_counter()
    compact()
    model = getattr(importlib.import_module("orders.models"), "OrderCount", None)
    if model is not None:  # the compaction deleted the delta rows of every COPY batch: give their space back
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(f'VACUUM (FULL, ANALYZE) "{model._meta.db_table}"')
    return f"compact_order_counts() and VACUUM FULL {time.perf_counter() - started:.2f} s"


# --- prepare (work tree only): database, data, the plan every worker follows -----------------------


def task_prepare(spec: dict) -> dict:
    import _seed
    from django.core.management import call_command
    from django.db import connection

    from offerings.models import Offering
    from orders.models import Order, Resource

    n, seed = int(spec["orders"]), int(spec.get("seed", 42))
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    migrate_seconds = time.perf_counter() - started
    world = _seed.ensure_world()
    existing = Order.objects.count()
    seed_report: dict[str, Any] = {"reused": True}
    if existing >= n and not spec.get("reseed"):
        if existing > n:  # leftovers of an interrupted lifecycle section: seeded orders are ids 1..n
            Order.objects.filter(pk__gt=n).delete()
            Resource.objects.filter(orders__isnull=True).delete()
    else:
        _seed.wipe_orders()
        seed_report = _seed.seed_orders(world, n, seed=seed, progress=lambda text: print(text, file=sys.stderr))
        seed_report["reused"] = False
        seed_report["compaction"] = _compact_counts()
    rng = random.Random(seed)
    staff_users = _seed.extra_staff(3)
    tokens = {
        "staff": world.token(world.staff),
        "consumer_owner": world.token(world.consumer_owner),
        "provider_owner": world.token(world.provider_owner),
    }
    for i, user in enumerate(staff_users, start=2):
        tokens[f"staff_{i}"] = world.token(user)
    total = Order.objects.count()
    ids = rng.sample(range(1, total + 1), min(500, total))
    by_id = dict(Order.objects.filter(pk__in=ids).values_list("pk", "uuid"))
    consumer_ids = list(
        Order.objects.filter(project__customer=world.consumer_org).order_by("pk").values_list("pk", flat=True)
    )
    consumer_pick = rng.sample(consumer_ids, min(500, len(consumer_ids)))
    consumer_uuid = dict(Order.objects.filter(pk__in=consumer_pick).values_list("pk", "uuid"))
    basic = Offering.objects.filter(customer=world.provider_org, type="Marketplace.Basic").order_by("pk").first()
    project = next(p for p in world.projects if p.customer_id == world.consumer_org.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM " + Resource._meta.db_table)
        max_resource = cursor.fetchone()[0]
    return {
        "orders": total,
        "max_order_id": Order.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        "max_resource_id": max_resource,
        "tokens": tokens,
        "users": {
            "staff": world.staff.username,
            "consumer_owner": world.consumer_owner.username,
            "provider_owner": world.provider_owner.username,
            **{f"staff_{i}": u.username for i, u in enumerate(staff_users, start=2)},
        },
        "picks": {
            "staff": [by_id[i].hex for i in ids if i in by_id],
            "consumer_owner": [consumer_uuid[i].hex for i in consumer_pick if i in consumer_uuid],
        },
        "site_agent_offering": world.site_agent_offering.uuid.hex,
        "lifecycle": {
            "offering": basic.uuid.hex,
            "project": project.uuid.hex,
            "plan": basic.plans.order_by("pk").first().uuid.hex,
        },
        "migrate_seconds": migrate_seconds,
        "seed": seed_report,
    }


# --- reads in-process ------------------------------------------------------------------------------


def _query(params: list[list[str]]) -> dict[str, list[str]]:
    data: dict[str, list[str]] = {}
    for key, value in params:
        data.setdefault(key, []).append(value)
    return data


def _content(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def _resolve_params(scenario: dict, plan: dict) -> list[list[str]]:
    return [[k, plan["site_agent_offering"] if v == "<site-agent-offering>" else v] for k, v in scenario["params"]]


class _Floors:
    """The floor's timings of one scenario, and its answers compared with the API's (every retrieve; the
    first request of the others)."""

    def __init__(self, call, kind: str) -> None:
        self.call, self.kind = call, kind
        self.timings: list[float] = []
        self.answered: list[tuple[bytes, str | None]] = []  # the API's (body, X-Result-Count)
        self.check: dict[str, Any] | None = None
        self.size: int | None = None

    def run(self, i: int) -> None:
        import orjson
        from _floor import compare

        started = time.perf_counter()
        answer = self.call(i)
        self.timings.append((time.perf_counter() - started) * 1000)
        if i >= len(self.answered):
            return
        body, real_count = self.answered[i]
        if self.kind == "head":
            one = {"problem": None, "note": None, "values": 0, "value_keys": []}
            if str(answer) != real_count:
                one["problem"] = f"COUNT(*) {answer} but X-Result-Count {real_count}"
        else:
            one = compare(json.loads(body), orjson.loads(answer))
            self.size = len(answer)
        if self.check is None:
            self.check = one
        elif self.check["problem"] is None:  # retrieve: every pick is compared, differing values summed
            self.check = {
                "problem": one["problem"],
                "note": self.check["note"] or one["note"],
                "values": self.check["values"] + one["values"],
                "value_keys": sorted(set(self.check["value_keys"]) | set(one["value_keys"])),
            }


def task_reads(spec: dict) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    plan, options = spec["plan"], spec["options"]
    requests, warmup, with_floor = int(options["requests"]), int(options["warmup"]), bool(spec.get("floor"))
    floor_apart = bool(spec.get("floor_apart"))
    floor = viewers = None
    if with_floor:
        from _floor import Floor, Viewer

        floor = Floor(API_PREFIX, "http://testserver")
        users = {key: get_user_model().objects.get(username=name) for key, name in plan["users"].items()}
        viewers = {}
    client = Client()
    results = []
    for scenario in spec["scenarios"]:
        token = plan["tokens"][scenario["user"]]
        auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
        params = _query(_resolve_params(scenario, plan))
        kind = scenario["kind"]
        picks = plan["picks"].get(scenario["user"], []) if kind == "retrieve" else []
        n_warm = requests if kind == "retrieve" else warmup  # a retrieve warms up on the rows it will time

        def pick(i: int, picks=picks) -> str:
            return picks[i % len(picks)]

        path = scenario.get("path")

        def request(i: int, *, kind=kind, params=params, auth=auth, path=path):
            if kind == "path":
                return client.get(path, **auth)
            if kind == "retrieve":
                return client.get(f"{ENDPOINT}{pick(i)}/", **auth)
            if kind == "head":
                return client.head(ENDPOINT, params, **auth)
            return client.get(ENDPOINT, params, **auth)

        expected = scenario.get("status", 200)
        floor_call = None
        if floor is not None and kind != "path":
            viewer = viewers.get(scenario["user"])
            if viewer is None:
                viewer = viewers[scenario["user"]] = Viewer(users[scenario["user"]])
            filters = []
            if scenario.get("agent"):
                from offerings.models import Offering

                offering_id = Offering.objects.get(uuid=plan["site_agent_offering"]).pk
                states = [v for k, v in scenario["params"] if k == "state"]
                filters = [("o.offering_id = %s", offering_id), ("o.state = ANY(%s)", states)]
            cursor = floor.conn.cursor()
            if kind == "retrieve":
                sql, sql_params = floor.retrieve_sql(viewer)

                def floor_call(i, sql=sql, sql_params=sql_params, viewer=viewer, cursor=cursor):
                    return floor.run_retrieve(cursor, sql, sql_params, viewer, pick(i))
            elif kind == "head":
                sql, sql_params = floor.count_sql(viewer, filters)

                def floor_call(i, sql=sql, sql_params=sql_params, cursor=cursor):
                    return floor.run_count(cursor, sql, sql_params)
            else:
                size = int(dict(_resolve_params(scenario, plan)).get("page_size", 10))
                sparse = bool(scenario.get("sparse"))
                sql, sql_params = floor.list_sql(viewer, filters, size, 0, sparse=sparse)

                def floor_call(i, sql=sql, sql_params=sql_params, viewer=viewer, sparse=sparse, cursor=cursor):
                    return floor.run_list(cursor, sql, sql_params, viewer, sparse)

        for i in range(n_warm):  # untimed: caches, connections, the floor's memo of transitions
            response = request(i)
            _content(response)
            if response.status_code != expected:
                raise RuntimeError(f"{scenario['name']}: {response.status_code} {_content(response)[:500]!r}")
            if floor_call is not None:
                floor_call(i)
        timings, sizes = [], []
        digest = hashlib.sha256()
        floors = _Floors(floor_call, kind)

        for i in range(requests):
            started = time.perf_counter()
            response = request(i)
            body = _content(response)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != expected:
                raise RuntimeError(f"{scenario['name']}: {response.status_code} {body[:500]!r}")
            timings.append(elapsed)
            sizes.append(len(body))
            for header in ("X-Result-Count", "Link", "Content-Type"):
                digest.update(f"{header}: {response.headers.get(header, '')}\n".encode())
            digest.update(body)
            if floor_call is not None and (kind == "retrieve" or i == 0):
                floors.answered.append((body, response.headers.get("X-Result-Count")))
            if floor_call is not None and not floor_apart:  # the same conditions for both, request by request
                floors.run(i)
        # Apart (the flatness section): the floor in a pass of its own, so that at a million orders a
        # 27-124 ms COUNT(*) does not run right before each HEAD request (it slowed it by ~1 ms).
        for i in range(requests if floor_call is not None and floor_apart else 0):
            floors.run(i)
        with CaptureQueriesContext(connection) as captured:
            response = request(0)
            _content(response)
        result_count = response.headers.get("X-Result-Count", "")
        row = {
            "name": scenario["name"],
            "server": summary(timings),
            "queries": len(captured.captured_queries),
            "sql_ms": sum(float(q["time"]) for q in captured.captured_queries) * 1000,
            "bytes": int(statistics.median(sizes)),
            "result_count": result_count,
            "digest": digest.hexdigest(),
        }
        if floor_call is not None:
            row["floor"] = summary(floors.timings)
            row["floor_bytes"] = floors.size
            row["floor_check"] = floors.check
        results.append(row)
        print(f"  {scenario['name']}: p50 {row['server']['p50']:.1f} ms", file=sys.stderr, flush=True)
    return results


# --- lifecycle -------------------------------------------------------------------------------------


def _create_body(plan: dict, i: int) -> str:
    life = plan["lifecycle"]
    return json.dumps(
        {
            "offering": life["offering"],
            "project": life["project"],
            "plan": life["plan"],
            "limits": {"cpu": 1 + i % 8},
            "attributes": {"name": f"bench-lifecycle-{i}"},
        }
    )


STEPS = ("create", "approve_by_provider", "set_state_done")


def _lifecycle_requests(post, plan: dict, i: int, clock) -> dict[str, float]:
    """One order through create → approve_by_provider → set_state_done; `post(path, body, token)` answers
    (status, body bytes). Returns the milliseconds per step."""
    consumer, provider = plan["tokens"]["consumer_owner"], plan["tokens"]["provider_owner"]
    times = {}
    started = clock()
    status, body = post(ENDPOINT, _create_body(plan, i), consumer)
    times["create"] = (clock() - started) * 1000
    if status != 201:
        raise RuntimeError(f"create: {status} {body[:500]!r}")
    created = json.loads(body)
    if created.get("state") != "pending-provider":
        raise RuntimeError(f"create: the order starts in {created.get('state')!r}, not pending-provider")
    path = f"{ENDPOINT}{created['uuid']}/"
    for step in STEPS[1:]:
        started = clock()
        status, body = post(f"{path}{step}/", "{}", provider)
        times[step] = (clock() - started) * 1000
        if status != 200:
            raise RuntimeError(f"{step}: {status} {body[:500]!r}")
    return times


def _cleanup(plan: dict) -> None:
    """Remove what the lifecycle created (ids above the seeded ones), with this code's own models."""
    from orders.models import Order, Resource

    Order.objects.filter(pk__gt=plan["max_order_id"]).delete()
    Resource.objects.filter(pk__gt=plan["max_resource_id"]).delete()
    _compact_counts()


def task_lifecycle(spec: dict) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    plan, options = spec["plan"], spec["options"]
    n, warmup = int(options["lifecycle_orders"]), 3
    client = Client()

    def post(path: str, body: str, token: str) -> tuple[int, bytes]:
        response = client.post(path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}")
        return response.status_code, _content(response)

    result: dict[str, Any] = {}
    try:
        for i in range(warmup):
            _lifecycle_requests(post, plan, i, time.perf_counter)
        queries: dict[str, int] = {}
        consumer, provider = plan["tokens"]["consumer_owner"], plan["tokens"]["provider_owner"]
        with CaptureQueriesContext(connection) as captured:
            status, body = post(ENDPOINT, _create_body(plan, warmup), consumer)
        queries["create"] = len(captured.captured_queries)
        path = f"{ENDPOINT}{json.loads(body)['uuid']}/"
        for step in STEPS[1:]:
            with CaptureQueriesContext(connection) as captured:
                post(f"{path}{step}/", "{}", provider)
            queries[step] = len(captured.captured_queries)
        per_step: dict[str, list[float]] = {s: [] for s in STEPS}
        totals = []
        for i in range(n):
            times = _lifecycle_requests(post, plan, warmup + 1 + i, time.perf_counter)
            for step, ms in times.items():
                per_step[step].append(ms)
            totals.append(sum(times.values()))
        result["in_process"] = {
            "steps": {s: {**summary(v), "queries": queries[s]} for s, v in per_step.items()},
            "order": summary(totals),
            "orders_per_s": 1000 * n / sum(totals),
        }
        connection.close()
        result["http"] = _lifecycle_http(spec, plan, n)
    finally:
        _cleanup(plan)
    return result


def _server(spec: dict, workers: int, threads: int = 1):
    from _server import start_server, wait_ready

    log_path = Path(tempfile.gettempdir()) / f"bench-w4-gunicorn-{os.getpid()}-{time.monotonic_ns()}.log"
    env = {
        "DATABASE_URL": spec["database_url"],
        "MARKETPLACE_EMBEDDED": "true",
        "LOG_LEVEL": "WARNING",
        "CELERY_BROKER_URL": "memory://",
    }
    process, base = start_server(workers, log_path, code_root=Path(spec["code_root"]), threads=threads, env=env)
    try:
        wait_ready(process, base, log_path)
    except BaseException:
        from _server import stop_server

        stop_server(process)
        raise
    return process, base


def _lifecycle_http(spec: dict, plan: dict, n: int) -> dict:
    import httpx
    from _server import stop_server

    process, base = _server(spec, workers=2)
    try:
        with httpx.Client(base_url=base, timeout=120) as http:

            def post(path: str, body: str, token: str) -> tuple[int, bytes]:
                headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
                response = http.post(path, content=body, headers=headers)
                return response.status_code, response.content

            for i in range(3):
                _lifecycle_requests(post, plan, 10_000 + i, time.perf_counter)
            per_step: dict[str, list[float]] = {s: [] for s in STEPS}
            started = time.perf_counter()
            for i in range(n):
                for step, ms in _lifecycle_requests(post, plan, 20_000 + i, time.perf_counter).items():
                    per_step[step].append(ms)
            wall = time.perf_counter() - started
    finally:
        stop_server(process)
    return {
        "workers": 2,
        "orders": n,
        "wall_s": wall,
        "orders_per_s": n / wall,
        "steps": {s: summary(v) for s, v in per_step.items()},
    }


# --- concurrency over HTTP -------------------------------------------------------------------------


def _hammer(base: str, tokens: list[str], picks: list[str], per_thread: int) -> dict:
    """len(tokens) threads, each with its own connection and token, `per_thread` retrieves each."""
    import httpx

    barrier = threading.Barrier(len(tokens) + 1)
    latencies: list[list[float]] = [[] for _ in tokens]
    errors: list[str] = []

    def run(k: int, token: str) -> None:
        headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        try:
            with httpx.Client(base_url=base, timeout=120, headers=headers) as http:
                for i in range(5):  # warm-up: connection, the worker's first requests
                    http.get(f"{ENDPOINT}{picks[(k * 97 + i) % len(picks)]}/")
                barrier.wait()
                for i in range(per_thread):
                    started = time.perf_counter()
                    response = http.get(f"{ENDPOINT}{picks[(k * 131 + i) % len(picks)]}/")
                    response.read()
                    latencies[k].append((time.perf_counter() - started) * 1000)
                    if response.status_code != 200:
                        errors.append(f"{response.status_code} {response.content[:200]!r}")
                        return
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            errors.append(repr(exc))
            barrier.abort()

    threads = [threading.Thread(target=run, args=(k, t)) for k, t in enumerate(tokens)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"concurrency: {errors[0]}")
    every = [ms for per in latencies for ms in per]
    return {"requests": len(every), "wall_s": wall, "throughput": len(every) / wall, "latencies": every}


def task_concurrency(spec: dict) -> dict:
    """4 client threads against gunicorn -w 4: one token shared by all, then four tokens, alternated over
    `rounds` rounds so that drift in the machine's load hits both alike; figures over all rounds."""
    from _server import stop_server

    plan, options = spec["plan"], spec["options"]
    per_thread, rounds = int(options["concurrency_requests"]), 2
    picks = plan["picks"]["staff"]
    tokens = plan["tokens"]
    variants = {
        "one_token": [tokens["staff"]] * 4,
        "four_tokens": [tokens["staff"], tokens["staff_2"], tokens["staff_3"], tokens["staff_4"]],
    }
    runs: dict[str, list[dict]] = {key: [] for key in variants}
    process, base = _server(spec, workers=4)
    try:
        for _ in range(rounds):
            for key, token_list in variants.items():
                runs[key].append(_hammer(base, token_list, picks, per_thread))
    finally:
        stop_server(process)
    result = {
        "server": "gunicorn -w 4 (sync)",
        "clients": 4,
        "request": "retrieve random order (staff)",
        "rounds": rounds,
    }
    for key, per_round in runs.items():
        every = [ms for r in per_round for ms in r.pop("latencies")]
        requests, wall = sum(r["requests"] for r in per_round), sum(r["wall_s"] for r in per_round)
        result[key] = {"requests": requests, "wall_s": wall, "throughput": requests / wall, **summary(every)}
        result[key]["per_round"] = [round(r["throughput"], 1) for r in per_round]
    return result


# --- memory of one worker --------------------------------------------------------------------------


def task_memory(spec: dict) -> dict:
    import httpx
    from _server import rss_kib, stop_server, worker_pids

    plan, options = spec["plan"], spec["options"]
    total = int(options["memory_requests"])
    marks = sorted({100, min(1000, total), total})
    picks = plan["picks"]["staff"]
    headers = {"Authorization": f"Token {plan['tokens']['staff']}", "Accept": "application/json"}
    process, base = _server(spec, workers=1)
    rss: dict[str, int | None] = {}
    try:
        pids = worker_pids(process)
        if len(pids) != 1:
            raise RuntimeError(f"expected one gunicorn worker, found {pids}")
        with httpx.Client(base_url=base, timeout=120, headers=headers) as http:
            started = time.perf_counter()
            for i in range(1, total + 1):
                if i % 2:
                    response = http.get(ENDPOINT, params={"page_size": "10"})
                else:
                    response = http.get(f"{ENDPOINT}{picks[i % len(picks)]}/")
                if response.status_code != 200:
                    raise RuntimeError(f"memory: {response.status_code} {response.content[:200]!r}")
                if i in marks:
                    rss[str(i)] = rss_kib(pids[0])
            wall = time.perf_counter() - started
        if worker_pids(process) != pids:
            raise RuntimeError("the gunicorn worker was replaced during the run")
    finally:
        stop_server(process)
    return {"requests": total, "wall_s": wall, "rss_kib": rss, "mix": "list page_size=10 / retrieve, alternating"}


# --- worker entry ----------------------------------------------------------------------------------

TASKS = {
    "prepare": task_prepare,
    "reads": task_reads,
    "lifecycle": task_lifecycle,
    "concurrency": task_concurrency,
    "memory": task_memory,
}


def worker_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    setup(spec["code_root"], spec["database_url"])
    out: dict[str, Any] = {}
    for task in spec["tasks"]:
        started = time.perf_counter()
        if task == "prepare":
            out["plan"] = spec["plan"] = task_prepare(spec)
        else:
            out[task] = TASKS[task](spec)
        out.setdefault("seconds", {})[task] = time.perf_counter() - started
    Path(spec["out"]).write_text(json.dumps(out))
    return 0
