"""Settings read from the environment, with safe defaults for the embedded mode.

Embedded default: SQLite file, Celery tasks run eagerly after commit, DEBUG off unless asked.
Production: set DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY, ALLOWED_HOSTS (see README).
"""

import os
import tempfile
from pathlib import Path

import environ

from marketplace import security

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

DEBUG = env.bool("DEBUG", default=False)
# The embedded mode (bin/serve, the test suite, a checkout without DATABASE_URL) and DEBUG: a SECRET_KEY
# generated once into an untracked file, any host, plain HTTP. Otherwise a missing, placeholder or short key,
# or no ALLOWED_HOSTS, refuses to start (marketplace/security.py) and HTTPS is on (README "Production").
EMBEDDED = env.bool("MARKETPLACE_EMBEDDED", default=not env("DATABASE_URL", default=""))
_RELAXED = EMBEDDED or DEBUG
SECRET_KEY = security.secret_key(
    env("SECRET_KEY", default=""),
    relaxed=_RELAXED,
    key_file=Path(env("EMBEDDED_SECRET_KEY_FILE", default=str(BASE_DIR / ".embedded-secret-key"))),
)
ALLOWED_HOSTS = security.allowed_hosts(env.list("ALLOWED_HOSTS", default=[]), relaxed=_RELAXED)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# HTTPS, typically terminated by a proxy that sets X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER=
# HTTP_X_FORWARDED_PROTO,https); health probes are answered over plain HTTP too
SECURE_PROXY_SSL_HEADER = security.proxy_ssl_header(env.list("SECURE_PROXY_SSL_HEADER", default=[]))
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not _RELAXED)
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if _RELAXED else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not _RELAXED)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not _RELAXED)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not _RELAXED)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not _RELAXED)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rangefilter",  # django-admin-rangefilter: the failed-at range on the admin's Failed orders page
    "core",
    "permissions",
    "offerings",
    "orders",
    "ops",
]

MIDDLEWARE = [
    "core.request_id.RequestIdMiddleware",  # X-Request-ID in, out and in every log record (core/logs.py)
    "ops.health.ProbeMiddleware",  # /health/live, /health/ready: before host checks and HTTPS redirects
    "ops.metrics.http.RequestLatencyMiddleware",  # the HTTP latency histogram of /metrics
    "django.middleware.security.SecurityMiddleware",
    "core.api.middleware.ApiGuardMiddleware",  # /api/: NUL in query, oversized bodies → JSON 400/413
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"
APPEND_SLASH = False  # the clients never follow redirects

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))  # reuse connections
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool("DB_PREPARED_STATEMENTS", True):
    # the order list's and retrieve's wide reads are prepared after this many runs on a connection
    # (core/db.py prepared_reads); false behind a pooler in transaction mode that cannot keep them
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # Embedded-mode jobs run in a background thread beside the request. The test database is a file (one per
    # test process): the in-memory one pytest-django would use shares a cache whose table locks ignore the
    # timeout above.
    DATABASES["default"].setdefault("TEST", {}).setdefault(
        "NAME", str(Path(tempfile.gettempdir()) / f"marketplace-test-{os.getpid()}.sqlite3")
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
if env.bool("FAST_PASSWORD_HASHER", default=False):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
MEDIA_URL = "media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Request bodies under /api/: JSON and form bodies up to DATA_UPLOAD_MAX_MEMORY_SIZE, multipart (PDF
# attachments of up to 10 MB) up to API_MAX_MULTIPART_BYTES; larger ones are a 413 (core/api/middleware.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
API_MAX_MULTIPART_BYTES = env.int("API_MAX_MULTIPART_BYTES", default=12 * 1024 * 1024)
# free-form JSON (core/api/json_values.py): nesting of any body, size and keys of an order's attributes
API_LIMITS = {
    "JSON_MAX_DEPTH": env.int("API_JSON_MAX_DEPTH", default=32),
    "ATTRIBUTES_MAX_BYTES": env.int("API_ATTRIBUTES_MAX_BYTES", default=64 * 1024),
    "ATTRIBUTES_MAX_KEYS": env.int("API_ATTRIBUTES_MAX_KEYS", default=1000),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.ExpiringTokenAuthentication",  # TOKEN_TTL_HOURS below
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "core.api.renderers.JSONRenderer",  # DRF's, with orjson for compiled rows
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.LimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["core.api.filters.FilterBackend"],  # + NUL in a filter parameter → 400
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.LinkHeaderPagination",
    "PAGE_SIZE": 10,
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.DocumentedAutoSchema",
    "EXCEPTION_HANDLER": "core.exception_handler.handle_exception",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# API tokens older than this many hours are refused (401); unset or 0: tokens never expire
TOKEN_TTL_HOURS = env.float("TOKEN_TTL_HOURS", default=0) or None

SPECTACULAR_SETTINGS = {
    "TITLE": "Marketplace orders API",
    "DESCRIPTION": "Orders of marketplace resources, wire-compatible with the Waldur marketplace API.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # order actions described from their action table; routing rules and the lifecycle diagram (orders.api_docs)
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "orders.api_docs.document_order_operations",
    ],
    "ENUM_NAME_OVERRIDES": {
        "OfferingStateEnum": "offerings.models.Offering.States",
        "AgentServiceStateEnum": "offerings.agent_models.AgentService.States",
        "JobStateEnum": "core.models.Job.States",
    },
}

# Celery: embedded default runs tasks eagerly (no broker needed); production sets a broker URL.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="memory://")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL == "memory://")
CELERY_TASK_EAGER_PROPAGATES = False  # embedded mode: a task's failure is logged (orders.dispatch), never raised
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_IMPORTS = ["tasks.processing", "tasks.callbacks", "tasks.jobs", "tasks.periodic"]
CELERY_BEAT_SCHEDULE = {
    "release-pending-orders": {"task": "tasks.periodic.release_pending_orders", "schedule": 600.0},
    "sweep-stuck-orders": {"task": "tasks.periodic.sweep_stuck_orders", "schedule": 300.0},
    "redeliver-due-deliveries": {"task": "tasks.periodic.redeliver_due_deliveries", "schedule": 30.0},
    # the order-count deltas written since the last run, summed to one row per group (orders/counts.py)
    "compact-order-counts": {"task": "tasks.periodic.compact_order_counts", "schedule": 60.0},
}

MARKETPLACE = {
    # transient backend failures: Celery's autoretry waits up to base × 2^n seconds (full jitter unless off;
    # whole seconds, at least 1; capped), at most PROCESSING_MAX_RETRIES times; then the order errs (transient)
    "PROCESSING_RETRY_BASE_SECONDS": env.float("PROCESSING_RETRY_BASE_SECONDS", default=5.0),
    "PROCESSING_RETRY_MAX_SECONDS": env.int("PROCESSING_RETRY_MAX_SECONDS", default=300),
    "PROCESSING_RETRY_JITTER": env.bool("PROCESSING_RETRY_JITTER", default=True),
    "PROCESSING_MAX_RETRIES": env.int("PROCESSING_MAX_RETRIES", default=5),
    # a worker claims an order for this long before calling its backend; longer than any backend call
    # (webhook_timeout_seconds is at most 60), so a live claim is never taken over, a dead worker's is
    "PROCESSING_LEASE_SECONDS": env.int("PROCESSING_LEASE_SECONDS", default=90),
    # an executing order of an automated type that no worker claimed within this many seconds is re-sent
    "RECONCILE_AFTER_SECONDS": env.int("RECONCILE_AFTER_SECONDS", default=60),
    # how often beat runs the reconciler, and how many orders one run re-sends at most
    "RECONCILE_INTERVAL_SECONDS": env.float("RECONCILE_INTERVAL_SECONDS", default=60.0),
    "RECONCILE_BATCH_SIZE": env.int("RECONCILE_BATCH_SIZE", default=500),
    # HMAC key for callback_url notifications (empty: unsigned) and the public root for links in them
    "CALLBACK_SECRET": env("CALLBACK_SECRET", default=""),
    "PUBLIC_URL": env("PUBLIC_URL", default=""),
    # the stuck-order sweep (every 5 minutes) looks at this many orders per run, oldest first
    "STUCK_SWEEP_BATCH": env.int("STUCK_SWEEP_BATCH", default=200),
    # callback deliveries: retry after base × 2^n seconds (capped), give up after this many attempts
    "CALLBACK_TIMEOUT_SECONDS": env.float("CALLBACK_TIMEOUT_SECONDS", default=10.0),
    "CALLBACK_RETRY_BASE_SECONDS": env.float("CALLBACK_RETRY_BASE_SECONDS", default=30.0),
    "CALLBACK_RETRY_MAX_SECONDS": env.float("CALLBACK_RETRY_MAX_SECONDS", default=3600.0),
    "CALLBACK_MAX_ATTEMPTS": env.int("CALLBACK_MAX_ATTEMPTS", default=8),
    "CALLBACK_SWEEP_BATCH": env.int("CALLBACK_SWEEP_BATCH", default=200),
    # the outbound HTTP client (core/http.py): loopback/private/link-local targets are refused unless
    # allowed (default: allowed only with DEBUG); answers larger than the cap are not read
    "OUTBOUND_ALLOW_PRIVATE_TARGETS": env.bool("OUTBOUND_ALLOW_PRIVATE_TARGETS", default=DEBUG),
    "OUTBOUND_MAX_RESPONSE_BYTES": env.int("OUTBOUND_MAX_RESPONSE_BYTES", default=1024 * 1024),
    # jobs (bulk resubmit, automatic recovery): items per chunk without a rate cap, the pacing window, and
    # how long a queued/running job may go without progress before the sweep hands it out again
    "JOB_CHUNK_SIZE": env.int("JOB_CHUNK_SIZE", default=100),
    "JOB_WINDOW_SECONDS": env.float("JOB_WINDOW_SECONDS", default=1.0),
    "JOB_STALLED_AFTER_SECONDS": env.int("JOB_STALLED_AFTER_SECONDS", default=60),
    # bulk resubmit: selections up to this size run in the request (200 with the report), larger ones as a
    # job (202); orders per second, overall (an offering's plugin option resubmit_rate caps it per offering)
    "BULK_RETRY_SYNC_LIMIT": env.int("BULK_RETRY_SYNC_LIMIT", default=50),
    "BULK_RETRY_RATE": env.float("BULK_RETRY_RATE", default=20.0),
    # automatic recovery: how often unhealthy backends are probed, how far before the outage was noticed
    # transient failures count as the outage's, and how often one order is resubmitted automatically
    "PROBE_INTERVAL_SECONDS": env.float("PROBE_INTERVAL_SECONDS", default=60.0),
    "RECOVERY_LOOKBACK_SECONDS": env.int("RECOVERY_LOOKBACK_SECONDS", default=900),
    "AUTO_RESUBMIT_MAX_ATTEMPTS": env.int("AUTO_RESUBMIT_MAX_ATTEMPTS", default=3),
}

# The operators' dashboard (the admin's landing page, ops/dashboard.py): how long an order may wait in each
# pending state before it counts as late (badges at 50/75/100 %; executing uses its offering type's
# stuck_after), when a site agent counts as stale, and how many error groups and jobs it lists.
OPS_DASHBOARD = {
    "WAITING_TARGET_HOURS": {
        "pending-consumer": env.float("OPS_TARGET_PENDING_CONSUMER_HOURS", default=72.0),
        "pending-provider": env.float("OPS_TARGET_PENDING_PROVIDER_HOURS", default=48.0),
        "pending-project": env.float("OPS_TARGET_PENDING_PROJECT_HOURS", default=720.0),
        "pending-start-date": env.float("OPS_TARGET_PENDING_START_DATE_HOURS", default=720.0),
    },
    "AGENT_STALE_MINUTES": env.int("OPS_AGENT_STALE_MINUTES", default=30),
    "ERROR_GROUPS_LISTED": env.int("OPS_ERROR_GROUPS_LISTED", default=15),
    "JOBS_LISTED": env.int("OPS_JOBS_LISTED", default=8),
}

CELERY_BEAT_SCHEDULE["reconcile-executing-orders"] = {
    "task": "tasks.periodic.reconcile_executing_orders",
    "schedule": MARKETPLACE["RECONCILE_INTERVAL_SECONDS"],
}
CELERY_BEAT_SCHEDULE["probe-unhealthy-backends"] = {
    "task": "tasks.periodic.probe_unhealthy_backends",
    "schedule": MARKETPLACE["PROBE_INTERVAL_SECONDS"],
}
CELERY_BEAT_SCHEDULE["resume-stalled-jobs"] = {
    "task": "tasks.periodic.resume_stalled_jobs",
    "schedule": MARKETPLACE["JOB_STALLED_AFTER_SECONDS"] / 2,
}

# Monitoring (README "Monitoring"). /metrics answers a request with `Authorization: Bearer <METRICS_TOKEN>`,
# a staff user's API token (`Authorization: Token <key>`) or from METRICS_ALLOWED_NETWORKS (CIDRs; default
# none: behind a reverse proxy every request would come from loopback). /health/ready: the broker is pinged
# with this timeout; a worker and beat count as seen recently within HEALTH_STALE_AFTER_SECONDS of their
# last heartbeat (beat sends tasks.periodic.heartbeat every HEARTBEAT_INTERVAL_SECONDS, a worker runs it).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
HEALTH_BROKER_TIMEOUT_SECONDS = env.float("HEALTH_BROKER_TIMEOUT_SECONDS", default=1.0)
HEARTBEAT_INTERVAL_SECONDS = env.float("HEARTBEAT_INTERVAL_SECONDS", default=30.0)
HEALTH_STALE_AFTER_SECONDS = env.float("HEALTH_STALE_AFTER_SECONDS", default=3 * HEARTBEAT_INTERVAL_SECONDS)
CELERY_BEAT_SCHEDULE["heartbeat"] = {"task": "tasks.periodic.heartbeat", "schedule": HEARTBEAT_INTERVAL_SECONDS}

# The broker (Redis) in production: README "Not losing work". Publishing from a request is bounded by the
# socket timeouts and one quick retry; a worker keeps reconnecting through an outage and finishes the task
# in flight. A message a worker holds longer than the visibility timeout is delivered again, so it exceeds
# the longest retry countdown plus a backend call (the lease) plus a margin.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int(
        "BROKER_VISIBILITY_TIMEOUT",
        default=MARKETPLACE["PROCESSING_RETRY_MAX_SECONDS"] + MARKETPLACE["PROCESSING_LEASE_SECONDS"] + 120,
    ),
    "socket_timeout": env.float("BROKER_SOCKET_TIMEOUT", default=1.0),
    "socket_connect_timeout": env.float("BROKER_SOCKET_CONNECT_TIMEOUT", default=1.0),
    "socket_keepalive": True,
    "health_check_interval": env.int("BROKER_HEALTH_CHECK_INTERVAL", default=10),
}
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = env.int("BROKER_CONNECTION_MAX_RETRIES", default=None)  # None: forever
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False  # the task in flight finishes
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "marketplace.celery:RedisTransport"  # survives a Redis restart (see there)

# LOG_FORMAT=json: one JSON object per line with request_id, order_uuid and task_id where known (core/logs.py);
# Celery then leaves the root logger to this configuration in workers and beat too.
LOG_FORMAT = env("LOG_FORMAT", default="plain")
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.logs.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "core.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
