"""Execboard settings, driven by environment variables.

SQLite is the zero-set-up default so a newcomer can check out the code and run it;
PostgreSQL (``DATABASE_URL=postgres://...``) is the database of record.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str = "False") -> bool:
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", "True")
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "django-insecure-execboard-development-only"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "django_htmx",
    "template_partials",
    "projects",
    "executions",
]

MIDDLEWARE = [
    # Outermost, so that it compresses what every other middleware produced: a 50-row list
    # page is about 10x smaller gzipped. The CSRF token in pages is masked anew per response
    # (Django's defence against BREACH), so compressing it gives nothing away.
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.ApiBodySizeLimitMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "config.middleware.ApiNotFoundMiddleware",
    "config.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"

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
            ],
        },
    },
    {
        # The list page's hot fragments (templates/executions/partials/*.jinja), rendered
        # with using="jinja2": about ten times faster than the Django template language on
        # their loops (BENCHMARKS.md).
        "NAME": "jinja2",
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "config.jinja2.environment",
            "trim_blocks": True,
            "lstrip_blocks": True,
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=envint("CONN_MAX_AGE", 60),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# Requests larger than this are refused before parsing (SPEC §7: a 256 KiB description and
# 64 KiB of metadata fit; a bulk create of 1,000 executions needs a few MiB).
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("EXECBOARD_MAX_BODY_BYTES", 8 * 1024 * 1024)

# Production hardening; `manage.py check --deploy` is clean when DEBUG is off.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_COOKIES = envbool("SECURE_COOKIES", str(not DEBUG))
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_HTTPONLY = True  # htmx sends the token from the page (base.html), not the cookie
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "False" if DEBUG else "True")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "projects.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["executions.api.parsers.DepthLimitedJSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["executions.api.throttling.WriteRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "executions.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Execboard API",
    "DESCRIPTION": "Workflow executions, labels, descriptions, steps, events and releases.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "executions.api.schema.add_error_responses",
    ],
}

# Execboard
EXECBOARD_DOMAINS = envlist("EXECBOARD_DOMAINS", "development,staging,production")
EXECBOARD_MAX_LABELS = envint("EXECBOARD_MAX_LABELS", 16)
# Bulk labels (SPEC §10): the most executions one request may relabel.
EXECBOARD_BULK_LIMIT = envint("EXECBOARD_BULK_LIMIT", 100_000)
EXECBOARD_PUBLIC_READ = envbool("EXECBOARD_PUBLIC_READ")
# Content-Security-Policy of every page: scripts only from this site (no inline script, no
# eval), no plugins or frames, forms post here only. Inline styles stay allowed (htmx's
# indicator style, step depth in the timeline); Markdown images may come from https sites.
EXECBOARD_CSP = os.environ.get(
    "EXECBOARD_CSP",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; object-src 'none'; frame-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'",
)
# API bodies whose arrays and objects nest deeper than this are refused (400).
EXECBOARD_MAX_JSON_DEPTH = envint("EXECBOARD_MAX_JSON_DEPTH", 64)
# API writes per token (per user for sessions); over it: 429 with Retry-After. Empty: no limit.
EXECBOARD_WRITE_RATE = os.environ.get("EXECBOARD_WRITE_RATE", "6000/minute").strip()
if EXECBOARD_WRITE_RATE and not re.fullmatch(r"\d+/[smhd][a-z]*", EXECBOARD_WRITE_RATE):
    raise ImproperlyConfigured(
        f"EXECBOARD_WRITE_RATE must look like '6000/minute', got {EXECBOARD_WRITE_RATE!r}."
    )

# The write throttle counts in this cache. The default cache is per process, so with several
# gunicorn workers each counts alone; EXECBOARD_CACHE=db shares the count through the
# database (`make serve` runs `manage.py createcachetable`).
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "execboard_cache"}
        if os.environ.get("EXECBOARD_CACHE") == "db"
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# SQLite builds the label indexes without their INCLUDE columns; PostgreSQL, the database
# of record, gets the covering indexes.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
