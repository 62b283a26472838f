"""Settings for callops, read from the environment (see the table in README.md).

Every default is chosen so that a fresh checkout runs on embedded services: SQLite under
`var/` and a redis-server started by `scripts/run.py`. Production sets DEBUG=0 and the
real DATABASE_URL, REDIS_URL, SECRET_KEY and ENCRYPTION_KEY.
"""

import os
import secrets
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CALLOPS_VAR_DIR", BASE_DIR / "var"))

env = environ.Env()


def _local_secret(name: str, factory) -> str:
    """A secret kept in var/ so a second `make run` reuses it; never used when the env sets one."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(factory())
        path.chmod(0o600)
    return path.read_text().strip()


def _fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default=None) or _local_secret("secret_key", lambda: secrets.token_urlsafe(50))
# Fernet key(s) for provider credentials and webhook signing secrets. Several keys may be given,
# comma-separated, newest first: old ones still decrypt, so keys can be rotated without downtime.
ENCRYPTION_KEYS = env.list("ENCRYPTION_KEY", default=[]) or [_local_secret("encryption_key", _fernet_key)]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The public base URL, used to build inbound provider-callback URLs shown to users.
PUBLIC_URL = env("PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_rq",
    "django_htmx",
    # Domain apps, each built only on those above it (README, "Architecture"), then the two faces.
    "callops.accounts",
    "callops.rules",
    "callops.extraction",
    "callops.providers",
    "callops.calls",
    "callops.batches",
    "callops.webhooks",
    "callops.triage",
    "callops.analytics",
    "callops.api",
    "callops.dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "callops.api.middleware.api_json_errors",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "callops.urls"
WSGI_APPLICATION = "callops.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "callops.accounts.context_processors.current_org",
                "callops.dashboard.notifications.bell",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'callops.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process, worker and sweeper share one SQLite file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Queues, most urgent first; a worker started by `rqworker` listens to all of them in this order.
QUEUE_NAMES = ["calls", "webhooks", "default"]
RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300} for name in QUEUE_NAMES}
RQ_SHOW_ADMIN_LINK = True
# `manage.py rqworker` runs callops.lib.worker.Worker: jobs in-process with connection hygiene
# around each, instead of a forked work horse per job (see that module for why).
RQ = {"WORKER_CLASS": "callops.lib.worker.Worker"}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "callops",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security headers ---------------------------------------------------------------------------
from django.utils.csp import CSP  # noqa: E402

# Strict policy: no inline scripts or styles anywhere; htmx and our JS come from /static/.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Sessions are read from Redis on every dashboard request and written through to the database, so
# a Redis restart signs nobody out; a page costs a Redis GET instead of a database query.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page meta tag, not the cookie
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Outbound HTTP ------------------------------------------------------------------------------
# Customer-supplied URLs (webhooks) may not reach private addresses. Tests and self-hosters list
# CIDRs or host names here to allow them; the production default allows nothing private.
OUTBOUND_ALLOW_PRIVATE = env.list("OUTBOUND_ALLOW_PRIVATE", default=[])
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Deliveries in flight at once to one host of per-call and agent webhook URLs (endpoints have their
# own max_in_flight), so one slow receiver cannot hold every worker.
WEBHOOK_MAX_IN_FLIGHT_PER_HOST = env.int("WEBHOOK_MAX_IN_FLIGHT_PER_HOST", default=4)
# A webhook host that timed out is skipped by every worker for this long.
WEBHOOK_STALLED_HOST_COOLDOWN_SECONDS = env.float("WEBHOOK_STALLED_HOST_COOLDOWN_SECONDS", default=60.0)
# When an endpoint recovers, its deliveries waiting for a back-off are brought forward at this many
# per second (oldest due first), so the receiver that just came back is not hit by all at once.
WEBHOOK_RECOVERY_NUDGE_PER_SECOND = env.int("WEBHOOK_RECOVERY_NUDGE_PER_SECOND", default=5)

# --- API ----------------------------------------------------------------------------------------
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=600)
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=256 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=64 * 1024 * 1024)

# --- Extraction (OpenAI-compatible chat completions) ----------------------------------------------
LLM_BASE_URL = env("LLM_BASE_URL", default="")
LLM_API_KEY = env("LLM_API_KEY", default="")
LLM_MODEL = env("LLM_MODEL", default="gpt-4o-mini")
LLM_TIMEOUT_SECONDS = env.float("LLM_TIMEOUT_SECONDS", default=30.0)

# --- Sweeper ------------------------------------------------------------------------------------
SWEEP_INTERVAL_SECONDS = env.float("SWEEP_INTERVAL_SECONDS", default=1.0)
# The sandbox provider compresses its realistic timings by this factor (tests set it high).
SANDBOX_SPEED = env.float("SANDBOX_SPEED", default=1.0)

# --- Email ------------------------------------------------------------------------------------
# Django 6.1 mail configuration. Notifications (webhook endpoint health) go to org owners/admins.
MAILERS = {
    "default": {
        "BACKEND": env(
            "EMAIL_BACKEND",
            default="django.core.mail.backends.console.EmailBackend" if DEBUG
            else "django.core.mail.backends.smtp.EmailBackend",
        ),
        "OPTIONS": {},
    }
}
if MAILERS["default"]["BACKEND"].endswith("smtp.EmailBackend"):
    MAILERS["default"]["OPTIONS"] = {
        "host": env("EMAIL_HOST", default="localhost"),
        "port": env.int("EMAIL_PORT", default=25),
        "username": env("EMAIL_HOST_USER", default=""),
        "password": env("EMAIL_HOST_PASSWORD", default=""),
        "use_tls": env.bool("EMAIL_USE_TLS", default=False),
    }
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="callops@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Periodic sweeps ------------------------------------------------------------------------------
# Functions the sweeper process (`manage.py runsweeper`) calls every SWEEP_INTERVAL_SECONDS. Each
# finds rows whose due time has passed and enqueues their jobs, so work lost with Redis or a
# killed worker is picked up again (design rule 1). Each app appends its own.
SWEEPS = [
    "callops.calls.jobs.sweep_scheduled_calls",
    "callops.calls.jobs.purge_idempotency_records",
    "callops.rules.caps.purge_old_records",
    "callops.calls.jobs.sweep_interrupted_placements",
    "callops.webhooks.jobs.sweep_due_deliveries",
]

# --- Webhook delivery (callops.webhooks) ----------------------------------------------------------
# Response bytes kept on each attempt row (a leaked response reveals little; Svix keeps 20 KB).
WEBHOOK_STORED_BODY_BYTES = env.int("WEBHOOK_STORED_BODY_BYTES", default=20 * 1024)
# A worker's claim on a delivery; longer than one attempt's deadline, so only a dead worker's expires.
WEBHOOK_LEASE_SECONDS = env.float("WEBHOOK_LEASE_SECONDS", default=60.0)
if WEBHOOK_LEASE_SECONDS < WEBHOOK_TIMEOUT_SECONDS + 2:
    # A job sends only while the rest of its lease covers a whole attempt; a lease barely longer
    # than the deadline would send one delivery per job, or let a live attempt's lease expire.
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("WEBHOOK_LEASE_SECONDS must exceed WEBHOOK_TIMEOUT_SECONDS by at least 2 seconds")
# An endpoint failing with no success for this long is disabled (5 days, as Svix does).
WEBHOOK_DISABLE_AFTER_SECONDS = env.int("WEBHOOK_DISABLE_AFTER_SECONDS", default=5 * 24 * 3600)
# Due deliveries one job sends before it returns (RQ's per-job overhead is the first ceiling).
WEBHOOK_BATCH_SIZE = env.int("WEBHOOK_BATCH_SIZE", default=100)

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so worker subprocesses in integration tests share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

# --- Provider status sync (callops.providers) -----------------------------------------------------
# Read timeout for provider API requests (connect is always 5 s).
PROVIDER_HTTP_TIMEOUT_SECONDS = env.float("PROVIDER_HTTP_TIMEOUT_SECONDS", default=10.0)
# Divides every provider's poll cadence, backoff and maximum call length; tests and emulator
# demos compress time with it, production leaves it at 1.
PROVIDER_SYNC_SPEED = env.float("PROVIDER_SYNC_SPEED", default=1.0)
# How long a call may stay live after the provider started it before it is reconciled and, if the
# provider still has no final status, failed `stale`. 0: each provider's own maximum call length
# (an hour for the hosted providers, 30 minutes for the sandbox's calls).
PROVIDER_MAX_CALL_SECONDS = env.float("PROVIDER_MAX_CALL_SECONDS", default=0.0)
# A call claimed for dialing this long ago with no provider id had its placement interrupted (a
# worker died mid-request); it is then looked up at the provider. Longer than any placement can
# take: a bounded provider request plus the wait for the account's request budget.
PLACEMENT_SETTLE_SECONDS = env.float("PLACEMENT_SETTLE_SECONDS", default=60.0)
# Every request to a provider account draws on its per-minute budget (shared by all workers).
# How long one request may wait for a token before giving up: short for a single placement (the
# API answers within bounded time), long enough for a batch upload to see the next minute's budget.
PROVIDER_RATE_LIMIT_MAX_WAIT_SECONDS = env.float("PROVIDER_RATE_LIMIT_MAX_WAIT_SECONDS", default=2.0)
PROVIDER_BATCH_RATE_LIMIT_MAX_WAIT_SECONDS = env.float("PROVIDER_BATCH_RATE_LIMIT_MAX_WAIT_SECONDS", default=65.0)
# Provider circuits (callops.providers.circuits): per account, the last WINDOW placements and polls;
# with at least MIN_SAMPLES of them and errors + 429s at ERROR_RATE or more, routing skips the
# account for COOLDOWN seconds, then lets one probe through.
PROVIDER_CIRCUIT_WINDOW = env.int("PROVIDER_CIRCUIT_WINDOW", default=50)
PROVIDER_CIRCUIT_MIN_SAMPLES = env.int("PROVIDER_CIRCUIT_MIN_SAMPLES", default=20)
PROVIDER_CIRCUIT_ERROR_RATE = env.float("PROVIDER_CIRCUIT_ERROR_RATE", default=0.5)
PROVIDER_CIRCUIT_COOLDOWN_SECONDS = env.float("PROVIDER_CIRCUIT_COOLDOWN_SECONDS", default=60.0)
# A call in a provider-side batch that the provider has not started dialing after this long is
# given up as stale (the batch may be long; the stale clock starts when the provider dials).
PROVIDER_BATCH_MAX_WAIT_SECONDS = env.float("PROVIDER_BATCH_MAX_WAIT_SECONDS", default=86400.0)
SWEEPS += [
    "callops.calls.status_sync.sweep_due_syncs",
    "callops.calls.status_sync.sweep_stale_calls",
]

# --- Extraction (callops.calls.results) ------------------------------------------------------------
# Re-enqueues extraction runs whose job was lost, so a pending result always finishes.
SWEEPS += ["callops.calls.jobs.sweep_lost_extractions"]
# Providers may deliver the transcript or their own extraction a little after the terminal status
# (a late callback, a detail-filling poll): extraction waits this long for them before failing a
# call as "empty transcript" / "no provider data".
EXTRACTION_DETAILS_GRACE_SECONDS = env.float("EXTRACTION_DETAILS_GRACE_SECONDS", default=20.0)

# --- Batches (callops.batches.jobs) ----------------------------------------------------------------
# Ticks every running batch: reaps finished attempts, dispatches the next ones, checks the breaker.
SWEEPS += ["callops.batches.jobs.sweep_batches"]
# POST /v1/batches bodies (a CSV or JSON list of 100,000+ recipients); other API bodies keep
# API_MAX_BODY_BYTES.
API_MAX_UPLOAD_BYTES = env.int("API_MAX_UPLOAD_BYTES", default=32 * 1024 * 1024)

# --- Retention (callops.calls.retention, callops.webhooks.retention) ------------------------------
# Raw provider payloads on call timelines and webhook attempt bodies older than this many days are
# blanked, a bounded batch per sweep pass; calls, timelines and rollups are kept. 0 keeps them all.
RAW_PAYLOAD_RETENTION_DAYS = env.int("RAW_PAYLOAD_RETENTION_DAYS", default=0)
SWEEPS += [
    "callops.calls.retention.sweep_old_payloads",
    "callops.webhooks.retention.sweep_old_attempt_bodies",
]

# --- Production guard (runtime: scripts/, Procfile) ---------------------------------------------
# The keys generated into var/ suit one machine. Production processes do not share a disk, so each
# would mint its own: sessions would break across web processes and stored credentials would not
# decrypt after a deploy. Refuse to start instead.
if not DEBUG:
    from django.core.exceptions import ImproperlyConfigured  # noqa: E402

    _unset_secrets = [name for name in ("SECRET_KEY", "ENCRYPTION_KEY") if not os.environ.get(name)]
    if _unset_secrets:
        raise ImproperlyConfigured(f"DEBUG=0 requires {' and '.join(_unset_secrets)} in the environment")

# Covering indexes (Index.include) serve PostgreSQL, where production runs; SQLite, the embedded
# default, builds them as plain indexes, which is all its warning says.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
