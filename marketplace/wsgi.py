"""The WSGI application (gunicorn marketplace.wsgi).

A worker loads the URLconf with every view now, not on its first request, and then moves what it loaded
into the permanent generation (gc.freeze), out of the collector's counts and scans. Django's and DRF's
request objects are reference cycles (request ↔ view ↔ parsers, response ↔ renderer context) that only a
collection frees; those a request's own collections moved to the oldest generation wait for a full
collection, and CPython runs one only once that generation has grown by a quarter of the size it had at the
last full collection. With the ~130,000 objects of the loaded application as that size, a worker kept the
garbage of thousands of requests, their rows and rendered bodies with it: its memory climbed ~2 MiB per
1,000 requests (bench/README.md "Memory"). The collection after the freeze sets that size afresh (the
oldest generation is then empty), so full collections follow the garbage of recent requests."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 - imports the URLconf and its views now
gc.collect()  # what loading left behind is freed, not frozen
gc.freeze()
gc.collect()
