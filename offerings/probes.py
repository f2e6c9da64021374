"""Probes: does an offering's backend answer? Read by automatic recovery (DESIGN §7) through the type's
probe hook. They go through the one outbound client, so the same target rules apply as for the webhook."""

from __future__ import annotations

from core import http
from offerings.types.spec import ProbeResult

PROBE_MAX_BYTES = 4096  # the answer's status is what counts; read little of its body


def probe_url(url: str, *, timeout: float) -> ProbeResult:
    """GET `url`: any HTTP answer below 500 means up; 5xx, refusals, timeouts and no answer mean down."""
    try:
        response = http.get(url, timeout=timeout, max_bytes=PROBE_MAX_BYTES)
    except http.OutboundTooLarge as exc:  # it answered, at length
        return ProbeResult(up=True, detail=f"{url} answered: {exc}")
    except http.OutboundError as exc:
        return ProbeResult(up=False, detail=f"{url} did not answer: {exc}")
    up = response.status < 500
    return ProbeResult(
        up=up, detail=f"{url} answered HTTP {response.status}", status=response.status,
        elapsed_ms=response.elapsed_ms,
    )  # fmt: skip
