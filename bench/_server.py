"""The benchmark's surroundings: a gunicorn process on a free 127.0.0.1 port, and what machine and code
the figures were measured on."""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
READY_PATH = "/api/marketplace-orders/"


def isolate_imports(code_root: Path) -> None:
    """Import the application from `code_root` only: put it first on sys.path and remove the venv's
    editable-install finder of the work tree (setuptools' `__editable__` finder answers for any module
    of its packages that `code_root` lacks, e.g. a module added after the before commit)."""
    root = str(Path(code_root).resolve())
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
    sys.path_hooks[:] = [h for h in sys.path_hooks if "__editable__" not in getattr(h, "__module__", "")]
    sys.path[:] = [p for p in sys.path if "__editable__" not in p and p != root]
    sys.path.insert(0, root)
    sys.path_importer_cache.clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(
    workers: int,
    log_path: Path,
    *,
    code_root: Path = ROOT,
    threads: int = 1,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen, str]:
    """gunicorn serving the code at `code_root` (its cwd and first on sys.path) on a free loopback port."""
    port = free_port()
    wrapper = Path(__file__).resolve().with_name("_gunicorn.py")  # gunicorn importing from code_root only
    command = [sys.executable, str(wrapper), str(code_root), "marketplace.wsgi", "-b", f"{HOST}:{port}"]
    command += ["-w", str(workers), "--timeout", "120", "--chdir", str(code_root)]
    if threads > 1:
        command += ["--threads", str(threads)]
    full_env = {**os.environ, "DEBUG": "False", **(env or {})}
    with log_path.open("w") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(command, cwd=code_root, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://{HOST}:{port}"
    return process, base


def worker_pids(master: subprocess.Popen) -> list[int]:
    """The gunicorn master's children (its workers), from /proc."""
    try:
        text = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text()
    except OSError:
        return []
    return [int(pid) for pid in text.split()]


def rss_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB (/proc/<pid>/status), None when unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def wait_ready(process: subprocess.Popen, base: str, log_path: Path, timeout: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            httpx.get(base + READY_PATH, timeout=2)  # 401 without a token: the app is up
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{log_path.read_text()[-3000:]}")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers gracefully
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def code_version(root: Path = ROOT) -> str:
    """The commit measured, and whether the work tree differed from it (read-only git calls)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        )
    except OSError:
        return "unknown (no git)"
    if head.returncode != 0:
        return "unknown (not a git work tree)"
    return head.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def machine_info() -> str:
    from django import get_version
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
        else:
            cursor.execute("SELECT sqlite_version()")
        db_version = cursor.fetchone()[0]
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, Django {get_version()}\n"
        f"database: {connection.vendor} {db_version}"
    )


def cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat; None where there is no /proc."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def cpu_busy_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])
