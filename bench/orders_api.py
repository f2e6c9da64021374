"""The orders API against its floor and against an earlier commit, in one run (issue 11). See bench/README.md.

    .venv/bin/python bench/orders_api.py --orders 10000 \\
        --database-url postgres://postgres@127.0.0.1:5432/bench_w4_10k [--before 697196b]
    .venv/bin/python bench/orders_api.py --compare-sizes \\
        postgres://postgres@127.0.0.1:5432/bench_w4_10k postgres://postgres@127.0.0.1:5432/bench_w4_1m

"after" is the work tree as it is; "before" is a checkout of --before (git archive into
/tmp/bench-before-<hash>, reused). Every measurement runs in a worker process (this script with
--worker) whose code is one or the other, against the same data; this process only orchestrates and prints.
Sections: reads (in-process server time, queries, bytes, the floor and its ratio, before/after and whether
the responses are byte-identical), lifecycle (create → approve_by_provider → set_state_done: in-process
per step, orders/s over HTTP), concurrency (4 connections: one token vs four), memory (a worker's RSS after
100 and 10,000 requests), flatness (--compare-sizes: the same scenarios at two table sizes).
Not a test: it prints tables (exit status 1 when the floor's keys or item count differ from the response's).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from _server import HOST, ROOT, code_version, cpu_busy_share, cpu_times, load_average

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_w4_10k"
DEFAULT_SIZES_URLS = (
    "postgres://postgres@127.0.0.1:5432/bench_w4_10k",
    "postgres://postgres@127.0.0.1:5432/bench_w4_1m",
)
DEFAULT_BEFORE = "697196b"
SECTIONS = ("reads", "lifecycle", "concurrency", "memory", "flatness")
PYTHON = ROOT / ".venv" / "bin" / "python"
ENDPOINT = "/api/marketplace-orders/"


def _scenario(name, user, kind="list", params=(), **extra):
    return {"name": name, "user": user, "kind": kind, "params": [list(p) for p in params], **extra}


AGENT_PARAMS = (
    ("offering_uuid", "<site-agent-offering>"), ("state", "pending-provider"), ("state", "executing"),
    ("page_size", "100"),
)  # fmt: skip
SCENARIOS = [
    _scenario("list page_size=10 (staff)", "staff", params=[("page_size", "10")]),
    _scenario("list page_size=50 (staff)", "staff", params=[("page_size", "50")]),
    _scenario("list page_size=300 (staff)", "staff", params=[("page_size", "300")]),
    _scenario("list page_size=50 (consumer owner)", "consumer_owner", params=[("page_size", "50")]),
    _scenario("list page_size=50 (provider owner)", "provider_owner", params=[("page_size", "50")]),
    _scenario(
        "field=uuid&field=state page_size=50 (staff)", "staff", sparse=True,
        params=[("field", "uuid"), ("field", "state"), ("page_size", "50")],
    ),
    _scenario(
        "field=uuid&field=state page_size=300 (staff)", "staff", sparse=True,
        params=[("field", "uuid"), ("field", "state"), ("page_size", "300")],
    ),
    _scenario("site agent's query page_size=100 (provider owner)", "provider_owner", params=AGENT_PARAMS, agent=True),
    _scenario("HEAD count (staff)", "staff", "head"),
    _scenario("HEAD count (consumer owner)", "consumer_owner", "head"),
    _scenario("retrieve random order (staff)", "staff", "retrieve"),
    _scenario("retrieve random order (consumer owner)", "consumer_owner", "retrieve"),
    # what every request pays before any order is read: no floor (nothing of the database's to compare with)
    _scenario("fixed cost: GET /api/version/ (no token: Django and DRF alone)", "staff", "path", path="/api/version/"),
    _scenario(
        "fixed cost: GET an unknown order (staff: token, one read, 404)", "staff", "path",
        path=f"{ENDPOINT}{'0' * 32}/", status=404,
    ),
]  # fmt: skip
FLATNESS = (
    "list page_size=10 (staff)", "site agent's query page_size=100 (provider owner)", "HEAD count (staff)",
    "HEAD count (consumer owner)", "retrieve random order (staff)",
)  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000, help="orders in the database (default 10000)")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help=f"default {DEFAULT_DATABASE_URL}")
    parser.add_argument("--before", default=DEFAULT_BEFORE, help=f"commit to compare with (default {DEFAULT_BEFORE})")
    parser.add_argument("--skip-before", action="store_true", help="measure the work tree only")
    parser.add_argument(
        "--sections",
        help=f"comma-separated, of {','.join(SECTIONS)} (default: all but flatness; with --compare-sizes: flatness)",
    )  # fmt: skip
    parser.add_argument("--requests", type=int, default=50, help="timed requests per read scenario (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per list scenario first (default 5)")
    parser.add_argument("--lifecycle-orders", type=int, default=50, help="orders per lifecycle run (default 50)")
    parser.add_argument(
        "--concurrency-requests", type=int, default=100, help="timed requests per client thread (default 100)"
    )
    parser.add_argument("--memory-requests", type=int, default=10_000, help="requests to one worker (default 10000)")
    parser.add_argument(
        "--compare-sizes", nargs=2, metavar=("URL_SMALL", "URL_LARGE"),
        help="flatness: the databases of the two sizes (seeded when they hold fewer orders)",
    )  # fmt: skip
    parser.add_argument(
        "--compare-orders",
        default="10000,1000000",
        help="flatness: orders of the two databases (default 10000,1000000)",
    )
    parser.add_argument("--flatness-before", action="store_true", help="flatness for the --before commit too")
    parser.add_argument(
        "--lifecycle-rounds",
        type=int,
        default=3,
        help="lifecycle: rounds alternating after and before; orders/s and p50s are the rounds' medians (default 3)",
    )
    parser.add_argument(
        "--flatness-rounds",
        type=int,
        default=5,
        help="flatness: rounds alternating the two databases; each p50 is the median of the rounds' (default 5)",
    )
    parser.add_argument("--reseed", action="store_true", help="wipe and seed the --database-url again")
    parser.add_argument("--seed", type=int, default=42, help="random seed of the data and of the picks")
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sections is None:
        args.sections = "flatness" if args.compare_sizes else "reads,lifecycle,concurrency,memory"
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if "flatness" in args.sections and not args.compare_sizes:
        args.compare_sizes = list(DEFAULT_SIZES_URLS)
    return args


# --- databases -------------------------------------------------------------------------------------


def _conninfo(url: str, dbname: str | None = None) -> dict:
    parts = urlsplit(url)
    info = {
        "host": parts.hostname or HOST,
        "port": parts.port or 5432,
        "user": unquote(parts.username or "postgres"),
        "dbname": dbname or unquote(parts.path.lstrip("/")),
    }
    if parts.password:
        info["password"] = unquote(parts.password)
    return info


def _db_name(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/"))


def _with_db_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def ensure_database(url: str) -> None:
    """CREATE DATABASE on PostgreSQL when missing (via the `postgres` maintenance database)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        return
    import psycopg
    from psycopg import sql

    name = _db_name(url)
    with psycopg.connect(**_conninfo(url, "postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}", file=sys.stderr)


def setup_django(url: str) -> None:
    """Configure Django in this process for the work tree (bench/bulk_retry.py)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "marketplace.settings"
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "False"
    os.environ.setdefault("MARKETPLACE_EMBEDDED", "true")  # a generated key, any host, plain HTTP (README)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _migration_files(root: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for folder in root.glob("*/migrations"):
        names = {p.stem for p in folder.glob("[0-9]*.py")}
        if names:
            found[folder.parent.name] = names
    return found


def before_database(url: str, before_root: Path) -> tuple[str, str]:
    """The database the before code runs against: the same one when every migration applied there is the
    before commit's; else a copy (CREATE DATABASE … TEMPLATE, remade each run) migrated back to the
    before commit's migrations by the work tree's code, so the before code gets its own schema (no
    counter triggers or indexes it did not have) and the same rows, users and tokens."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(**_conninfo(url), autocommit=True) as conn:
        applied = conn.execute("SELECT app, name FROM django_migrations").fetchall()
    known = _migration_files(before_root)
    local = set(_migration_files(ROOT)) | set(known)
    extra = [(app, name) for app, name in applied if app in local and name not in known.get(app, set())]
    if not extra:
        return url, "the same database (every migration applied there is the before commit's)"
    source, copy = _db_name(url), _db_name(url) + "_before"
    started = time.perf_counter()
    with psycopg.connect(**_conninfo(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(copy)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(copy), sql.Identifier(source)))
    copy_url = _with_db_name(url, copy)
    for app in sorted({app for app, _ in extra}):
        kept = sorted(name for a, name in applied if a == app and name in known.get(app, set()))
        target = kept[-1] if kept else "zero"
        env = {**os.environ, "DATABASE_URL": copy_url, "MARKETPLACE_EMBEDDED": "true", "DEBUG": "False"}
        subprocess.run(
            [str(PYTHON), "manage.py", "migrate", app, target, "--verbosity", "0"], cwd=ROOT, env=env, check=True
        )
    names = ", ".join(f"{a}.{n}" for a, n in sorted(extra))
    return copy_url, (
        f"{copy}: a copy of {source} with {names} unapplied ({time.perf_counter() - started:.1f} s to make)"
    )


# --- the before checkout ---------------------------------------------------------------------------


def before_checkout(rev: str) -> tuple[Path, str]:
    full = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    path = Path(tempfile.gettempdir()) / f"bench-before-{full[:7]}"
    marker = path / ".bench-commit"
    if marker.exists() and marker.read_text().strip() == full:
        return path, full
    if path.exists():
        if not marker.exists():
            raise RuntimeError(f"{path} exists and is not a checkout made by this benchmark: remove it")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    archive = subprocess.Popen(["git", "archive", full], cwd=ROOT, stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(path)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise RuntimeError(f"git archive {full} failed")
    marker.write_text(full + "\n")
    return path, full


# --- workers ---------------------------------------------------------------------------------------


def run_worker(code_root: Path, url: str, tasks: list[str], **spec) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-w4-") as folder:
        spec_path, out_path = Path(folder) / "spec.json", Path(folder) / "out.json"
        spec = {"code_root": str(code_root), "database_url": url, "tasks": tasks, "out": str(out_path), **spec}
        spec_path.write_text(json.dumps(spec))
        python = PYTHON if PYTHON.exists() else Path(sys.executable)
        process = subprocess.run(
            [str(python), str(Path(__file__).resolve()), "--worker", str(spec_path)], cwd=code_root
        )
        if process.returncode != 0:
            raise RuntimeError(f"worker {tasks} in {code_root} exited with {process.returncode}")
        return json.loads(out_path.read_text())


def options_of(args: argparse.Namespace) -> dict:
    return {
        "requests": args.requests,
        "warmup": args.warmup,
        "lifecycle_orders": args.lifecycle_orders,
        "concurrency_requests": args.concurrency_requests,
        "memory_requests": args.memory_requests,
    }


# --- printing --------------------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(values) -> str:
        cells = (v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True)))
        return "| " + " | ".join(cells) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i else "-" * (w + 2) for i, w in enumerate(widths)) + "|"
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def ms(summary: dict | None) -> str:
    if not summary:
        return "–"
    return f"{summary['p50']:.1f} / {summary['p95']:.1f}"


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "–"


def reads_table(after: list[dict], before: list[dict] | None) -> tuple[str, list[str], bool]:
    by_name = {r["name"]: r for r in (before or [])}
    rows, notes, honest = [], [], True
    for r in after:
        b = by_name.get(r["name"])
        floor = r.get("floor")
        same = "–" if b is None else ("identical" if b["digest"] == r["digest"] else "DIFFERENT")
        rows.append(
            [
                r["name"],
                ms(r["server"]),
                str(r["queries"]),
                str(r["bytes"]),
                ms(floor),
                ratio(r["server"]["p50"], floor["p50"] if floor else None),
                ms(b["server"]) if b else "–",
                str(b["queries"]) if b else "–",
                str(b["bytes"]) if b else "–",
                same,
            ]
        )
        check = r.get("floor_check")
        if check:
            if check["problem"]:
                honest = False
                notes.append(f"FLOOR DISHONEST for {r['name']}: {check['problem']}")
            elif check["note"] or check["values"]:
                detail = (
                    f"{check['values']} values differ ({', '.join(check['value_keys'])})" if check["values"] else ""
                )
                notes.append(f"floor of {r['name']}: same keys and items; {check['note'] or ''} {detail}".strip())
    headers = [
        "scenario", "after p50 / p95 ms", "q", "bytes", "floor p50 / p95", "after/floor",
        "before p50 / p95 ms", "q", "bytes", "responses",
    ]  # fmt: skip
    return table(headers, rows), notes, honest


def merge_lifecycle(results: list[dict]) -> dict:
    """One lifecycle result from several rounds: orders/s and each step's p50 and p95 are the medians of the
    rounds'; `rounds` keeps each round's orders/s (in-process, HTTP)."""

    def steps(key: str) -> dict:
        first = results[0][key]["steps"]
        return {
            step: {
                **first[step],
                "p50": statistics.median(r[key]["steps"][step]["p50"] for r in results),
                "p95": statistics.median(r[key]["steps"][step]["p95"] for r in results),
            }
            for step in first
        }

    in_process, http = results[0]["in_process"], results[0]["http"]
    order = {
        **in_process["order"],
        **{q: statistics.median(r["in_process"]["order"][q] for r in results) for q in ("p50", "p95")},
    }
    return {
        "in_process": {
            **in_process,
            "steps": steps("in_process"),
            "order": order,
            "orders_per_s": statistics.median(r["in_process"]["orders_per_s"] for r in results),
        },
        "http": {
            **http,
            "steps": steps("http"),
            "orders_per_s": statistics.median(r["http"]["orders_per_s"] for r in results),
        },
        "rounds": [(r["in_process"]["orders_per_s"], r["http"]["orders_per_s"]) for r in results],
    }


def lifecycle_table(after: dict, before: dict | None) -> str:
    rows = []
    for step in ("create", "approve_by_provider", "set_state_done"):
        a = after["in_process"]["steps"][step]
        b = before["in_process"]["steps"][step] if before else None
        rows.append([f"{step} (in-process)", ms(a), str(a["queries"]), ms(b), str(b["queries"]) if b else "–"])
    a, b = after["in_process"], before["in_process"] if before else None
    rows.append(["whole order (in-process)", ms(a["order"]), "", ms(b["order"]) if b else "–", ""])
    rows.append(["orders/s in-process", f"{a['orders_per_s']:.1f}", "", f"{b['orders_per_s']:.1f}" if b else "–", ""])
    ah, bh = after["http"], before["http"] if before else None
    for step in ("create", "approve_by_provider", "set_state_done"):
        rows.append([f"{step} (HTTP)", ms(ah["steps"][step]), "", ms(bh["steps"][step]) if bh else "–", ""])
    label = f"orders/s over HTTP (gunicorn -w {ah['workers']}, sequential, {ah['orders']} orders)"
    rows.append([label, f"{ah['orders_per_s']:.1f}", "", f"{bh['orders_per_s']:.1f}" if bh else "–", ""])
    text = table(["lifecycle step", "after p50 / p95 ms", "q", "before p50 / p95 ms", "q"], rows)
    if bh:
        text += (
            f"\norders/s, after / before: in-process {a['orders_per_s'] / b['orders_per_s']:.2f}x, "
            f"over HTTP {ah['orders_per_s'] / bh['orders_per_s']:.2f}x"
        )
    for name, result in (("after", after), ("before", before)):
        if result and result.get("rounds"):
            text += f"\n{name}, orders/s per round (in-process, HTTP): " + ", ".join(
                f"({x:.1f}, {y:.1f})" for x, y in result["rounds"]
            )
    return text


def concurrency_table(after: dict, before: dict | None) -> str:
    rows = []
    for key, label in (("one_token", "one token shared by 4 clients"), ("four_tokens", "four tokens, one per client")):
        a, b = after[key], before[key] if before else None
        rows.append(
            [
                label,
                f"{a['throughput']:.1f}",
                f"{a['p50']:.1f}",
                f"{b['throughput']:.1f}" if b else "–",
                f"{b['p50']:.1f}" if b else "–",
            ]
        )
    rows.append(
        [
            "one token / four tokens (throughput)",
            ratio(after["one_token"]["throughput"], after["four_tokens"]["throughput"]),
            "",
            ratio(before["one_token"]["throughput"], before["four_tokens"]["throughput"]) if before else "–",
            "",
        ]
    )
    head = f"{after['server']}, {after['clients']} client threads each with its own connection, {after['request']}, "
    head += f"{after['one_token']['requests']} timed requests per row over {after['rounds']} alternated rounds "
    one, four = after["one_token"]["per_round"], after["four_tokens"]["per_round"]
    head += f"(req/s per round, after: one token {one}, four tokens {four})"
    return head + "\n" + table(["tokens", "after req/s", "after p50 ms", "before req/s", "before p50 ms"], rows)


def memory_table(after: dict, before: dict | None) -> str:
    rows = []
    marks = sorted(after["rss_kib"], key=int)
    for mark in marks:
        a = after["rss_kib"][mark]
        b = before["rss_kib"].get(mark) if before else None
        rows.append([f"RSS after {mark} requests (MiB)", f"{a / 1024:.1f}", f"{b / 1024:.1f}" if b else "–"])
    first, last = marks[0], marks[-1]
    rows.append(
        [
            f"ratio {last} / {first}",
            ratio(after["rss_kib"][last], after["rss_kib"][first]),
            ratio(before["rss_kib"].get(last), before["rss_kib"].get(first)) if before else "–",
        ]
    )
    head = f"gunicorn -w 1 (sync), one client, {after['mix']}"
    return head + "\n" + table(["worker memory", "after", "before"], rows)


def merge_rounds(results: list[dict]) -> dict:
    """One worker result from several rounds of the same scenarios: p50s (server and floor) are the median
    of the rounds' p50s; `rounds` keeps each round's server p50."""
    merged = {**results[0], "reads": []}
    for i, first in enumerate(results[0]["reads"]):
        same = [r["reads"][i] for r in results]
        row = {**first, "rounds": [r["server"]["p50"] for r in same]}
        row["server"] = {**first["server"], "p50": statistics.median(row["rounds"])}
        if first.get("floor"):
            row["floor"] = {**first["floor"], "p50": statistics.median(r["floor"]["p50"] for r in same)}
        merged["reads"].append(row)
    return merged


def flatness_table(sizes: list[tuple[int, dict]], before: list[tuple[int, dict]] | None) -> str:
    (n_small, small), (n_large, large) = sizes
    small_rows = {r["name"]: r for r in small["reads"]}
    large_rows = {r["name"]: r for r in large["reads"]}
    before_rows = None
    if before:
        before_rows = ({r["name"]: r for r in before[0][1]["reads"]}, {r["name"]: r for r in before[1][1]["reads"]})
    rows = []
    for name in FLATNESS:
        s, lg = small_rows[name], large_rows[name]
        row = [
            name,
            f"{s['server']['p50']:.1f}",
            f"{lg['server']['p50']:.1f}",
            ratio(lg["server"]["p50"], s["server"]["p50"]),
            f"{s['queries']} → {lg['queries']}",
            f"{s['floor']['p50']:.1f}",
            f"{lg['floor']['p50']:.1f}",
            ratio(lg["floor"]["p50"], s["floor"]["p50"]),
        ]
        if before_rows:
            bs, bl = before_rows[0][name], before_rows[1][name]
            row += [
                f"{bs['server']['p50']:.1f}",
                f"{bl['server']['p50']:.1f}",
                ratio(bl["server"]["p50"], bs["server"]["p50"]),
            ]
        rows.append(row)
    big, little = f"{n_large:,}", f"{n_small:,}"
    headers = [
        "scenario (after)", f"p50 ms at {little}", f"p50 ms at {big}", "ratio", "queries",
        f"floor at {little}", f"floor at {big}", "floor ratio",
    ]  # fmt: skip
    if before_rows:
        headers += [f"before at {little}", f"before at {big}", "before ratio"]
    return table(headers, rows)


def machine() -> str:
    import platform
    from importlib.metadata import version

    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, Python "
        f"{platform.python_version()}, Django {version('django')}, psycopg {version('psycopg')}"
    )


def postgres_version(url: str) -> str:
    import psycopg

    with psycopg.connect(**_conninfo(url, "postgres")) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


# --- main ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        from _measure import worker_main

        return worker_main(args.worker)
    started = time.perf_counter()
    out: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "sections": {}}
    header = [
        f"date: {out['started']}   load average at start: {load_average()}",
        machine(),
        f"after: the work tree, {code_version()} ({ROOT})",
    ]
    before_root = before_url = None
    if not args.skip_before:
        before_root, full = before_checkout(args.before)
        header.append(f"before: {full} ({before_root})")
    options = options_of(args)
    honest = True
    printed: list[str] = []

    def show(title: str, text: str) -> None:
        block = f"\n## {title}\n\n{text}"
        printed.append(block)
        print(block, flush=True)

    main_sections = [s for s in args.sections if s != "flatness"]
    plan = None
    if main_sections:
        ensure_database(args.database_url)
        header.append(f"PostgreSQL {postgres_version(args.database_url)}, database {_db_name(args.database_url)}")
        prep = run_worker(
            ROOT,
            args.database_url,
            ["prepare"],
            orders=args.orders,
            reseed=args.reseed,
            seed=args.seed,
            options=options,
        )
        plan = prep["plan"]
        seed = plan["seed"]
        header.append(
            f"orders: {plan['orders']}" + ("" if seed.get("reused") else f" (seeded now: {json.dumps(seed)})")
        )
        if before_root is not None:
            before_url, note = before_database(args.database_url, before_root)
            header.append(f"before runs against {note}")
    if not main_sections:
        header.append(f"PostgreSQL {postgres_version(args.compare_sizes[0])}")
    print("\n".join(header), flush=True)
    out["header"] = header
    for section in main_sections:
        cpu_before, load_before = cpu_times(), load_average()
        t0 = time.perf_counter()
        extra = {"scenarios": SCENARIOS, "floor": True} if section == "reads" else {}
        rounds = max(1, args.lifecycle_rounds) if section == "lifecycle" else 1
        afters, befores = [], []
        for _ in range(rounds):  # alternated: a drift of the machine hits both commits
            afters.append(run_worker(ROOT, args.database_url, [section], plan=plan, options=options, **extra)[section])
            if before_root is not None:
                extra_before = {**extra, "floor": False}
                befores.append(
                    run_worker(before_root, before_url, [section], plan=plan, options=options, **extra_before)[section]
                )
        after = afters[0] if rounds == 1 else merge_lifecycle(afters)
        before = (befores[0] if rounds == 1 else merge_lifecycle(befores)) if befores else None
        busy = cpu_busy_share(cpu_before, cpu_times())
        out["sections"][section] = {"after": after, "before": before}
        footer = (
            f"\n({time.perf_counter() - t0:.0f} s; CPUs busy {busy:.0%} during the section, load average "
            f"{load_before} → {load_average()})"
            if busy is not None
            else ""
        )
        if section == "reads":
            text, notes, ok = reads_table(after, before)
            honest &= ok
            explain = (
                "server time in-process (django.test.Client, full middleware stack, body read), "
                f"{args.requests} requests after warm-up; q = SQL queries of one request; floor = one SQL statement "
                "+ orjson in the same process on the same rows"
            )
            show("Reads", explain + "\n\n" + text + ("\n" + "\n".join(notes) if notes else "") + footer)
        elif section == "lifecycle":
            show("Lifecycle on a Basic offering", lifecycle_table(after, before) + footer)
        elif section == "concurrency":
            show("Concurrency over HTTP", concurrency_table(after, before) + footer)
        elif section == "memory":
            show("Memory of one gunicorn worker", memory_table(after, before) + footer)
    if "flatness" in args.sections:
        counts = [int(x) for x in args.compare_orders.split(",")]
        t0 = time.perf_counter()
        flat_scenarios = [s for s in SCENARIOS if s["name"] in FLATNESS]
        sizes, sizes_before, seeds = [], [], []
        rounds: dict[str, list[dict]] = {}
        for _ in range(max(1, args.flatness_rounds)):  # alternated: a drift of the machine hits both sizes
            for url, n in zip(args.compare_sizes, counts, strict=True):
                ensure_database(url)
                rounds.setdefault(url, []).append(
                    run_worker(
                        ROOT,
                        url,
                        ["prepare", "reads"],
                        orders=n,
                        seed=args.seed,
                        options=options,
                        scenarios=flat_scenarios,
                        floor=True,
                        floor_apart=True,
                    )
                )
        for url, n in zip(args.compare_sizes, counts, strict=True):
            result = merge_rounds(rounds[url])
            seeds.append(f"{_db_name(url)}, p50 ms per round:")
            seeds += [f"  {r['name']}: {', '.join(f'{x:.1f}' for x in r['rounds'])}" for r in result["reads"]]
            sizes.append((result["plan"]["orders"], result))
            seed = result["plan"]["seed"]
            seeds.append(
                f"{_db_name(url)}: {result['plan']['orders']} orders"
                + ("" if seed.get("reused") else f", seeded now in {seed['seconds']:.1f} s ({json.dumps(seed)})")
            )
            if args.flatness_before and before_root is not None:
                url_before, note = before_database(url, before_root)
                seeds.append(f"before at {_db_name(url)}: {note}")
                b = run_worker(
                    before_root, url_before, ["reads"], plan=result["plan"], options=options,
                    scenarios=flat_scenarios, floor=False,
                )  # fmt: skip
                sizes_before.append((n, b))
        out["sections"]["flatness"] = {"after": sizes, "before": sizes_before}
        for _, result in sizes:
            for r in result["reads"]:
                if r.get("floor_check") and r["floor_check"]["problem"]:
                    honest = False
                    seeds.append(f"FLOOR DISHONEST for {r['name']}: {r['floor_check']['problem']}")
        show(
            "Flatness in table size (p50 ms in-process)",
            flatness_table(sizes, sizes_before or None)
            + "\n"
            + "\n".join(seeds)
            + f"\n({time.perf_counter() - t0:.0f} s)",
        )
    print(f"\ntotal {time.perf_counter() - started:.0f} s; load average at the end: {load_average()}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    if not honest:
        print("\nthe floor's keys or item counts differ from the responses' (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
