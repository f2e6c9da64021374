"""A worker's memory stays flat (marketplace/wsgi.py): the loaded application is frozen out of the
collector's counts, so cyclic garbage that reached the oldest generation (as a request's Django and DRF
objects do) is freed by the next full collection, not kept until the oldest generation grew by a quarter of
the whole application. Checked in a fresh interpreter, as a gunicorn worker starts; the figures of a real
worker over 10,000 requests are in bench/README.md ("Memory")."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Cyclic garbage in the oldest generation: 2,000 cycles kept alive through a collection of the younger
# generations (so promoted), then dropped; then new cyclic garbage, as requests leave, until a deadline.
EXPERIMENT = textwrap.dedent(
    """
    import gc, os, sys, weakref
    if sys.argv[1] == "wsgi":
        from marketplace.wsgi import application
        assert "orders.views" in sys.modules, "the URLconf's views are loaded with the application"
        assert gc.get_freeze_count() > 50_000, gc.get_freeze_count()
    else:  # the same application, loaded as Django's get_wsgi_application() alone would load it
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
        from django.core.wsgi import get_wsgi_application
        from django.urls import get_resolver
        application = get_wsgi_application()
        get_resolver().url_patterns
        gc.collect()

    class Node:
        pass

    nodes = []
    for _ in range(2000):
        a, b = Node(), Node()
        a.other, b.other = b, a
        nodes.append(a)
    gc.collect(1)  # alive: moved to the oldest generation
    probes = [weakref.ref(n) for n in nodes[::100]]
    del nodes, a, b
    for step in range(1_000_000):  # a request's worth of cyclic garbage per step: ~10 full-collection chances
        junk = Node()
        junk.self = junk
        if step % 1000 == 0 and not any(p() is not None for p in probes):
            print("freed", step)
            break
    else:
        print("kept")
    """
)


def _run(variant: str) -> str:
    env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "MARKETPLACE_EMBEDDED": "true"}
    done = subprocess.run(
        [sys.executable, "-c", EXPERIMENT, variant], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[0]


def test_garbage_in_the_oldest_generation_is_freed_by_the_next_full_collection():
    assert _run("wsgi") == "freed"


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="CPython 3.14 collects the oldest generation incrementally")
def test_without_the_freeze_the_same_garbage_outlives_the_run():
    """The control: what marketplace/wsgi.py avoids (CPython 3.11-3.13 run a full collection only once
    the oldest generation grew by a quarter of its size, here the whole loaded application)."""
    assert _run("plain") == "kept"
