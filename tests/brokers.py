"""Helpers for tests that hand work to a real broker or run their own: switching the Celery app's broker,
free ports, a redis-server of their own, and a fulfilment endpoint that records what it got."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import redis

from marketplace.celery import app


def use_broker(**conf) -> dict:
    """Point the app at another broker (and eagerness); returns the previous values to restore. Celery
    caches its connection and producer pools for the broker it first published to (memory:// in eager
    runs), so those are dropped too."""
    saved = {key: app.conf[key] for key in conf}
    app.conf.update(conf)
    app._pool = None
    app.amqp._producer_pool = None
    return saved


def database_url() -> str:
    """The URL of the database this test process uses (the test database), for worker subprocesses."""
    from django.db import connection

    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, seconds: float, what: str, every: float = 0.1):
    """Poll `predicate` until it returns something truthy; fail naming `what` after the deadline."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(every)


class RedisServer:
    """A redis-server of the test's own on a free port, stoppable and restartable (never the shared one)."""

    def __init__(self, directory: Path, *, persistent: bool) -> None:
        self.port = free_port()
        self.directory = directory
        self.persistent = persistent
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *persistence,
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_timeout=0.5)
        wait_until(lambda: self._answers(client), seconds=10, what=f"redis-server on port {self.port}")

    @staticmethod
    def _answers(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: an append-only file is flushed, nothing else is saved
            self.process.wait(timeout=10)
        self.process = None


def redis_server_installed() -> bool:
    return shutil.which("redis-server") is not None


@dataclass
class Fulfilment:
    """A provider's fulfilment URL on 127.0.0.1: answers 200 with a backend_id and records each call's
    Idempotency-Key. `hold` makes calls wait until it is set (a backend call in flight)."""

    url: str = ""
    keys: list[str] = field(default_factory=list)
    hold: threading.Event | None = None
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls_by_key(self) -> Counter:
        with self.lock:
            return Counter(self.keys)


def serve_fulfilment() -> tuple[Fulfilment, ThreadingHTTPServer]:
    endpoint = Fulfilment()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            with endpoint.lock:
                endpoint.keys.append(self.headers.get("Idempotency-Key", ""))
            endpoint.arrived.set()
            if endpoint.hold is not None:
                endpoint.hold.wait(timeout=60)
            payload = json.dumps({"backend_id": f"vm-{body['order_uuid'][:8]}"}).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the caller went away (a killed worker)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/fulfil"
    return endpoint, server


@dataclass
class Backend:
    """A provider's fulfilment backend on 127.0.0.1 whose availability the test switches: POSTs (orders)
    are answered `status` (200 with a backend_id, or 503 during an outage, 400 to refuse), GETs (the
    recovery probe) `health`, or `status` when that is None. Records each POST's Idempotency-Key
    ("<order uuid>-<attempt>") and counts GETs; `probe_delay` keeps each GET waiting that long."""

    url: str = ""
    status: int = 200
    health: int | None = None
    probe_delay: float = 0.0
    keys: list[str] = field(default_factory=list)
    provisioned: list[str] = field(default_factory=list)  # keys of the POSTs answered 200
    gets: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls_by_key(self) -> Counter:
        with self.lock:
            return Counter(self.keys)

    def provisions_by_order(self) -> Counter:
        """Order uuid (hex) → how many times it was provisioned (POSTs answered 200)."""
        with self.lock:
            return Counter(key.rsplit("-", 1)[0] for key in self.provisioned)

    def provisioned_keys_by_order(self) -> dict[str, set[str]]:
        """Order uuid (hex) → the distinct Idempotency-Keys of its POSTs answered 200: a backend that
        deduplicates by the key provisions each of these once, however often it was sent."""
        found: dict[str, set[str]] = {}
        with self.lock:
            for key in self.provisioned:
                found.setdefault(key.rsplit("-", 1)[0], set()).add(key)
        return found

    def keys_by_order(self) -> dict[str, set[str]]:
        """Order uuid (hex) → the distinct Idempotency-Keys it was sent with (one per provisioning)."""
        found: dict[str, set[str]] = {}
        with self.lock:
            for key in self.keys:
                found.setdefault(key.rsplit("-", 1)[0], set()).add(key)
        return found

    def posts(self) -> int:
        with self.lock:
            return len(self.keys)


def serve_backend() -> tuple[Backend, ThreadingHTTPServer]:
    backend = Backend()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, payload: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the caller went away (a killed worker, a timeout)

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            status, key = backend.status, self.headers.get("Idempotency-Key", "")
            with backend.lock:
                backend.keys.append(key)
                if status == 200:
                    backend.provisioned.append(key)
            if status == 200:
                self._answer(200, json.dumps({"backend_id": f"vm-{body.get('order_uuid', '')[:8]}"}).encode())
            else:
                self._answer(status, json.dumps({"detail": f"answered {status}"}).encode())

        def do_GET(self) -> None:  # noqa: N802
            with backend.lock:
                backend.gets += 1
            if backend.probe_delay:
                time.sleep(backend.probe_delay)  # a slow health endpoint (the server's side, not the test's)
            self._answer(backend.status if backend.health is None else backend.health, b"{}")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    backend.url = f"http://127.0.0.1:{server.server_address[1]}/fulfil"
    return backend, server


CELERY = str(Path(sys.executable).with_name("celery"))
ROOT = Path(__file__).resolve().parent.parent


class CeleryService:
    """A `celery -A marketplace <args>` process (worker or beat) in its own process group, logging to a file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        self.process = subprocess.Popen(
            [CELERY, "-A", "marketplace", *args], cwd=ROOT, env=env, stdout=log.open("ab"),
            stderr=subprocess.STDOUT, start_new_session=True,  # its own group: the pool processes die with it
        )  # fmt: skip

    def alive(self) -> bool:
        return self.process.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole process group: no warm shutdown, no acknowledgement, no message restored."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # leftovers of the group, if any
        self.process.wait(timeout=10)


class CeleryStack:
    """Beat and workers of one test on a broker of its own, with the settings given as environment."""

    def __init__(self, directory: Path, broker_url: str, env: dict[str, str]) -> None:
        self.directory = directory
        self.env = {**os.environ, **env, "CELERY_BROKER_URL": broker_url}
        self.services: list[CeleryService] = []

    def worker(self, *, concurrency: int = 2) -> CeleryService:
        index = sum(s.name.startswith("worker") for s in self.services)
        args = ["worker", "-P", "prefork", "-c", str(concurrency), "-l", "info", "-n", f"w{index}@%h",
                "--without-mingle", "--without-gossip"]  # fmt: skip
        service = CeleryService(f"worker{index}", args, self.env, self.directory / f"worker{index}.log")
        self.services.append(service)
        wait_until(lambda: "ready." in service.text() or not service.alive(), seconds=30, what="worker ready")
        assert service.alive(), service.text()
        return service

    def beat(self) -> CeleryService:
        args = ["beat", "-l", "info", "-s", str(self.directory / "beat-schedule"), "--max-interval", "1"]
        service = CeleryService("beat", args, self.env, self.directory / "beat.log")
        self.services.append(service)
        return service

    def logs(self, tail: int = 4000) -> str:
        return "\n".join(f"--- {s.name}\n{s.text()[-tail:]}" for s in self.services)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
