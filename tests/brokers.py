"""Helpers for tests that hand work to a real broker or run their own: switching the Celery app's broker,
free ports, a redis-server of their own, and a fulfilment endpoint that records what it got."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
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
