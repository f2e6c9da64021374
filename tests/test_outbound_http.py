"""The one outbound HTTP client (core/http.py) against real servers on 127.0.0.1: allowed targets, answers
returned whatever their status, no redirects, timeouts, the size cap, signing and https name checks."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core import http


@dataclass
class Receiver:
    """A local HTTP server: answers by path, remembers what it was sent."""

    port: int = 0
    requests: list[dict] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str = "/", host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


def _serve(receiver: Receiver, tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/ok")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/huge":
                self.send_response(200)
                self.end_headers()  # no Content-Length: the cap must stop the read itself
                chunk = b"x" * 65536
                try:
                    for _ in range(64):  # 4 MiB
                        self.wfile.write(chunk)
                except OSError:
                    pass  # the client stopped reading, as it should
            elif self.path == "/slow":
                receiver.release.wait(10)  # answers only when the test ends
            else:
                status = int(self.path.strip("/")) if self.path.strip("/").isdigit() else 200
                answer = json.dumps({"path": self.path}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        do_GET = do_POST = _answer  # noqa: N815 (http.server's naming)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield receiver
    receiver.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _serve(Receiver())


@pytest.fixture
def private_refused(settings):
    settings.MARKETPLACE = {**settings.MARKETPLACE, "OUTBOUND_ALLOW_PRIVATE_TARGETS": False}


@pytest.fixture
def dns(monkeypatch):
    """Names the test makes up, resolving to the addresses it chooses; every other name resolves as usual."""
    names: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            return [
                (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in names[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- allowed targets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.0.0.1:6379/", "loopback"),
        ("http://localhost:8000/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.0.10/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]:8080/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("ftp://example.org/file", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.org/", "only http and https"),
    ],
)
def test_internal_targets_and_other_schemes_are_refused_while_private_targets_are_not_allowed(
    private_refused, url, reason
):
    with pytest.raises(http.OutboundRefused, match=reason):
        http.check_target(url, resolve=False)
    with pytest.raises(http.OutboundRefused, match=reason):
        http.post_json(url, b"{}", timeout=1)


def test_a_host_name_resolving_to_loopback_is_refused_at_connect_time(private_refused, dns, receiver):
    dns["callbacks.example.org"] = ["127.0.0.1"]

    with pytest.raises(http.OutboundRefused, match="callbacks.example.org resolves to 127.0.0.1, a loopback"):
        http.check_target(receiver.url(host="callbacks.example.org"))
    with pytest.raises(http.OutboundRefused, match="loopback"):
        http.post_json(receiver.url(host="callbacks.example.org"), b"{}", timeout=2)
    assert receiver.requests == []


def test_a_host_name_with_one_internal_address_among_public_ones_is_refused(private_refused, dns):
    dns["mixed.example.org"] = ["93.184.215.14", "10.0.0.5"]

    with pytest.raises(http.OutboundRefused, match="10.0.0.5, a private"):
        http.check_target("https://mixed.example.org/hook")


def test_a_public_address_is_an_allowed_target(private_refused, dns):
    dns["public.example.org"] = ["93.184.215.14"]

    http.check_target("https://public.example.org/hook")
    http.check_target("https://93.184.215.14/hook", resolve=False)


def test_private_targets_are_reached_when_the_setting_allows_them(settings, receiver):
    settings.MARKETPLACE = {**settings.MARKETPLACE, "OUTBOUND_ALLOW_PRIVATE_TARGETS": True}

    http.check_target(receiver.url())
    response = http.get(receiver.url("/ok"), timeout=5)

    assert response.status == 200
    assert response.json() == {"path": "/ok"}


def test_the_connection_goes_to_the_resolved_address_with_the_url_host_in_the_host_header(dns, receiver):
    dns["fulfilment.example.org"] = ["127.0.0.1"]

    response = http.post_json(receiver.url("/ok", host="fulfilment.example.org"), b"{}", timeout=5)

    assert response.status == 200
    assert receiver.requests[0]["headers"]["Host"] == f"fulfilment.example.org:{receiver.port}"


# --- answers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [201, 404, 500, 503])
def test_every_status_is_returned_not_raised(receiver, status):
    response = http.post_json(receiver.url(f"/{status}"), b'{"a": 1}', timeout=5)

    assert response.status == status
    assert response.json() == {"path": f"/{status}"}
    assert response.elapsed_ms >= 0
    assert receiver.requests[0]["body"] == b'{"a": 1}'
    assert receiver.requests[0]["headers"]["Content-Type"] == "application/json"


def test_redirects_are_not_followed(receiver):
    response = http.get(receiver.url("/redirect"), timeout=5)

    assert response.status == 302
    assert [r["path"] for r in receiver.requests] == ["/redirect"]


def test_an_answer_over_the_cap_raises_too_large_without_reading_it_all(receiver):
    with pytest.raises(http.OutboundTooLarge, match="1000 bytes"):
        http.get(receiver.url("/huge"), timeout=5, max_bytes=1000)


def test_the_cap_defaults_to_the_setting(settings, receiver):
    settings.MARKETPLACE = {**settings.MARKETPLACE, "OUTBOUND_MAX_RESPONSE_BYTES": 10}

    with pytest.raises(http.OutboundTooLarge):
        http.get(receiver.url("/ok"), timeout=5)


def test_a_server_that_does_not_answer_in_time_is_unavailable(receiver):
    with pytest.raises(http.OutboundUnavailable, match="timed out"):
        http.post_json(receiver.url("/slow"), b"{}", timeout=0.3)


def test_a_refused_connection_is_unavailable():
    with pytest.raises(http.OutboundUnavailable, match="cannot connect"):
        http.post_json(f"http://127.0.0.1:{_free_port()}/hook", b"{}", timeout=2)


def test_a_name_that_does_not_resolve_is_unavailable():
    with pytest.raises(http.OutboundUnavailable, match="cannot resolve"):
        http.get("http://no-such-host.invalid/", timeout=2)


def test_signature_is_the_hex_hmac_sha256_of_the_body():
    # RFC 4231 test case 2
    signature = http.sign("Jefe", b"what do ya want for nothing?")

    assert signature == "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert http.sign("other", b"what do ya want for nothing?") != signature


# --- https: the URL's host name is used for SNI and certificate checks -------------------------------


@pytest.fixture
def tls_receiver(tmp_path: Path, monkeypatch) -> Iterator[Receiver]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=secure.example.org",
         "-addext", "subjectAltName=DNS:secure.example.org", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust only this certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    yield from _serve(Receiver(), tls=context)


def test_https_verifies_the_certificate_against_the_url_host_name(dns, tls_receiver):
    dns["secure.example.org"] = ["127.0.0.1"]
    dns["impostor.example.org"] = ["127.0.0.1"]

    response = http.get(tls_receiver.url("/ok", host="secure.example.org", scheme="https"), timeout=5)
    assert response.status == 200

    with pytest.raises(http.OutboundUnavailable, match="(?i)certificate"):
        http.get(tls_receiver.url("/ok", host="impostor.example.org", scheme="https"), timeout=5)
