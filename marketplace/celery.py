"""The Celery application; configuration comes from Django settings (CELERY_* keys).

RedisTransport pins around a kombu 5.7 / Celery 5.7 fault that made a worker with a task in flight exit
when Redis restarted (README "Not losing work"). On a lost connection the consumer calls
`Connection.collect()`, which detaches the transport from its connection (`transport.client = None`) while
the old channel is still open, and then closes that channel. Everything the old channel does afterwards
needs a fresh Redis client and reads the connection parameters through the detached `client`: restoring
the unacknowledged message while closing, and acknowledging the task in flight when it finishes. That
raised AttributeError ('NoneType' object has no attribute 'hostname'), which no handler expects, so the
worker logged "Unrecoverable error" and shut down. Here the old channel reports a connection error
instead, which Celery handles: the channel is dropped, the late acknowledgement is logged as failed, and
the consumer reconnects. A message left unacknowledged that way is delivered again after the visibility
timeout and skipped by the claim (orders/processing.py).
"""

import os

import redis
from celery import Celery, signals
from kombu.transport import redis as kombu_redis

from core import heartbeats, logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")


class RedisChannel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict:
        if self.connection.client is None:  # detached after a connection loss: see the module docstring
            raise redis.exceptions.ConnectionError("This broker channel was closed after a lost connection.")
        return super()._connparams(asynchronous=asynchronous)


class RedisTransport(kombu_redis.Transport):
    """kombu's Redis transport whose channels survive being detached by a connection loss."""

    Channel = RedisChannel


app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(lambda: [])  # tasks are listed explicitly in CELERY_IMPORTS

# Readiness (core/heartbeats.py) and structured logs (core/logs.py); weak=False: plain module functions.
signals.before_task_publish.connect(heartbeats.on_task_publish, weak=False)
signals.worker_ready.connect(heartbeats.on_worker_ready, weak=False)
signals.before_task_publish.connect(logs.propagate_request_id, weak=False)
