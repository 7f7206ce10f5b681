"""Settings, read entirely from the environment.

With nothing set the service runs on an embedded SQLite database under ``var/`` so that one
command gives a working server; production points ``DATABASE_URL`` at PostgreSQL and sets
``REDIS_URL`` so that background jobs go through Redis.
"""

import os
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

import config.pool

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "development-only-insecure-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "durable",
    "accounts",
    "tasks",
    "quality",
    "marketplace",
]

MIDDLEWARE = [
    # Health, readiness and metrics answer before the host check and the HTTPS redirect.
    "config.probes.ProbeMiddleware",
    "config.metrics.RequestMetricsBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RefuseUnstorableInput",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.metrics.RequestMetricsAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def pool_settings() -> dict | None:
    """psycopg's connection pool, one per process: at most ``max_size`` connections however
    many threads serve requests, where a connection per thread once piled up until PostgreSQL
    refused clients. A request waits up to ``timeout`` seconds for a free connection."""
    if not env_bool("DATABASE_POOL", True):
        return None
    pool = {"min_size": env_int("DATABASE_POOL_MIN_SIZE", 1),
            "max_size": env_int("DATABASE_POOL_MAX_SIZE", 20),
            "timeout": env_int("DATABASE_POOL_TIMEOUT", 10)}
    if not 0 <= pool["min_size"] <= pool["max_size"] or pool["max_size"] < 1:
        raise ImproperlyConfigured(
            "DATABASE_POOL_MIN_SIZE must be between 0 and DATABASE_POOL_MAX_SIZE, "
            "which must be at least 1.")
    if pool["timeout"] <= 0:
        raise ImproperlyConfigured("DATABASE_POOL_TIMEOUT must be a positive number of seconds.")
    return pool


def database_settings(variable: str = "DATABASE_URL") -> dict:
    """SQLite gets WAL, a busy timeout and IMMEDIATE transactions so that concurrent writers
    queue instead of failing with "database is locked"."""
    url = os.environ.get(variable, "")
    if not url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
    config = dj_database_url.parse(url, conn_max_age=env_int("CONN_MAX_AGE", 60))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    else:
        config["CONN_HEALTH_CHECKS"] = True
        # Only config.rawsql.statement_cursor asks psycopg to prepare statements; Django's
        # own cursors bind on the client and never do. None turns preparing off, for a
        # pooler in transaction mode that cannot keep prepared statements.
        # Options in the URL's query (sslmode, application_name) are kept.
        config["OPTIONS"] = {**config.get("OPTIONS", {}), "prepare_threshold": (
            0 if env_bool("DATABASE_PREPARED_STATEMENTS", True) else None)}
        pool = pool_settings()
        if pool:
            # A pooled connection goes back to the pool when Django closes it at the end of
            # each request, so Django must not keep it open itself.
            config["CONN_MAX_AGE"] = 0
            config["OPTIONS"]["pool"] = pool
    if "TEST_DATABASE_NAME" in os.environ:
        config["TEST"] = {"NAME": os.environ["TEST_DATABASE_NAME"]}
    return config


DATABASES = {"default": database_settings()}
# A streaming replica of the primary that dataset exports read from (config.replica).
if os.environ.get("REPORTS_DATABASE_URL"):
    DATABASES["reports"] = {**database_settings("REPORTS_DATABASE_URL"),
                            "TEST": {"MIRROR": "default"}}
DATABASE_ROUTERS = ["config.replica.ReplicaRouter"]
# Settings are read once in every process, before it forks any other: pools become fork-safe here.
config.pool.register()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "config" / "static"]
MEDIA_ROOT = VAR_DIR / "media"
EXPORT_ROOT = VAR_DIR / "exports"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Production hardening: `manage.py check --deploy` is clean when DEBUG is off.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "auth": os.environ.get("THROTTLE_AUTH", "30/min"),
        "signup": os.environ.get("THROTTLE_SIGNUP", "20/hour"),
    },
    "EXCEPTION_HANDLER": "config.exceptions.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",
        "config.parsers.FormParser",
        "config.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "config.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "COERCE_DECIMAL_TO_STRING": True,
}

REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env_int("TOKEN_TTL_DAYS", 90)),
    "AUTO_REFRESH": True,
    "AUTH_HEADER_PREFIX": "Token",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Expert annotator marketplace API",
    "DESCRIPTION": (
        "Customers post projects and batches, experts pull and answer work, QA leads review "
        "and read agreement reports. Authenticate with `Authorization: Token <key>` from "
        "`POST /api/v1/auth/token/`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI and Redoc are served from our own static files, pinned by the sidecar
    # package's version: the docs work on a machine without internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI would otherwise fetch a badge from its public validator for every schema not
    # served from localhost.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "ENUM_NAME_OVERRIDES": {
        "DegreeEnum": "accounts.models.Degree",
        "VerificationEnum": "accounts.models.Verification",
        "ExpertStatusEnum": "accounts.models.ExpertProfile.Status",
        "RoleEnum": "accounts.models.Membership.Role",
        "BatchStatusEnum": "tasks.models.Batch.Status",
        "AttemptStatusEnum": "quality.models.QualificationAttempt.Status",
        "ReportStatusEnum": "quality.models.AgreementReport.Status",
        "PayoutStatusEnum": "marketplace.models.Payout.Status",
        "DecisionEnum": "marketplace.models.Decision",
        "AppealStatusEnum": "quality.models.Appeal.Status",
    },
}

REDIS_URL = os.environ.get("REDIS_URL", "")

# django-q2: a job that runs longer than `retry` is handed out again, so `timeout` stays
# below `retry`, failures are acknowledged instead of looping forever, attempts are bounded,
# and every job is written to be idempotent.
Q_CLUSTER = {
    "name": "annomarket",
    "workers": env_int("Q_WORKERS", 2),
    "timeout": env_int("Q_TIMEOUT", 600),
    "retry": env_int("Q_RETRY", 720),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 3),
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "queue_limit": 50,
    "label": "Background jobs",
}
# Durable jobs (durable.runner): a worker holds a job's lease while it runs and renews it every
# third of the lease; the sweeper hands out again a job whose lease ran out.
JOB_LEASE_S = env_int("JOB_LEASE_S", 60)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3)
JOB_RESEND_AFTER_S = env_int("JOB_RESEND_AFTER_S", 300)
JOB_KEEP_DAYS = env_int("JOB_KEEP_DAYS", 30)

if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 1

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# /metrics answers only requests that send this as a bearer token; unset, it is off.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "stream": sys.stdout, "formatter": "plain"},
    },
    "root": {"handlers": ["stdout"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
    },
}

# Product settings.
PLATFORM_FEE_RATE = Decimal(os.environ.get("PLATFORM_FEE_RATE", "0.20"))
PAYOUT_MINIMUM = Decimal(os.environ.get("PAYOUT_MINIMUM", "1.00"))
PAYOUT_PROVIDER = os.environ.get("PAYOUT_PROVIDER", "marketplace.providers.FilePayoutProvider")
PAYOUT_RESEND_AFTER_S = env_int("PAYOUT_RESEND_AFTER_S", 900)
DEFAULT_CURRENCY = os.environ.get("DEFAULT_CURRENCY", "USD")
MAX_ACTIVE_LEASES = env_int("MAX_ACTIVE_LEASES", 5)
# Active time: the workspace sends a heartbeat this often while an item is open and focused;
# a gap between heartbeats longer than the idle threshold counts as nothing.
HEARTBEAT_INTERVAL_S = env_int("HEARTBEAT_INTERVAL_S", 30)
ACTIVITY_IDLE_GAP_S = env_int("ACTIVITY_IDLE_GAP_S", 120)
# No paid per-task project may be published whose implied hourly rate, after the platform
# fee, falls below this floor (in the project's currency).
HOURLY_RATE_FLOOR = Decimal(os.environ.get("HOURLY_RATE_FLOOR", "15.00"))
# Approved answers a project needs before their median time replaces the customer's estimate.
ESTIMATE_MIN_APPROVED = env_int("ESTIMATE_MIN_APPROVED", 10)
# An expert may appeal a rejection or a quality action this long after it; the customer's QA
# leads have APPEAL_DECISION_DAYS to decide before it is decided in the expert's favour.
APPEAL_WINDOW_DAYS = env_int("APPEAL_WINDOW_DAYS", 30)
APPEAL_DECISION_DAYS = env_int("APPEAL_DECISION_DAYS", 7)
BATCH_SYNC_ROW_LIMIT = env_int("BATCH_SYNC_ROW_LIMIT", 10_000)
BATCH_MAX_ROWS = env_int("BATCH_MAX_ROWS", 1_000_000)
BATCH_MAX_BYTES = env_int("BATCH_MAX_BYTES", 1024 * 1024 * 1024)
# Arrays and objects nested deeper than this in a request body or an uploaded row are refused.
JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 64)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 50 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
WEBHOOK_TIMEOUT_S = env_int("WEBHOOK_TIMEOUT_S", 10)
# Webhooks to loopback and private addresses are refused in production (server-side request
# forgery); a development machine may post to a receiver of its own.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", DEBUG)
