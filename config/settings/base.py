"""Sesame settings: one module per concern, composed here. Production differs only by environment variables."""

from config.env import env_str
from config.settings.api import *  # noqa: F403
from config.settings.aws import *  # noqa: F403
from config.settings.celery import *  # noqa: F403
from config.settings.database import *  # noqa: F403
from config.settings.events import *  # noqa: F403
from config.settings.inbox import *  # noqa: F403
from config.settings.paths import BASE_DIR, VAR_DIR
from config.settings.push import *  # noqa: F403
from config.settings.security import *  # noqa: F403
from config.settings.signup_forms import *  # noqa: F403
from config.settings.sms import *  # noqa: F403
from config.settings.unsubscribe import *  # noqa: F403

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by us: /v1/docs works without internet access
    "django_celery_beat",
    "config",
    "accounts",
    "billing",
    "contacts",
    "emails",
    "events",
    "sms",
    "push",
]

MIDDLEWARE = [
    # Outermost, so every error answer outside the admin leaves as JSON (config/api/middleware.py).
    "config.api.middleware.ApiEdgeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.throttling.RateLimitHeadersMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False

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
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# The admin edits big batches of rows (bulk actions); the default 1,000-field cap is too small for that.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
# API bodies carry attachments: 10 MB of MIME is ~13.5 MB of base64 JSON, plus batch envelopes.
DATA_UPLOAD_MAX_MEMORY_SIZE = 40 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("SESAME_LOG_LEVEL", "INFO").upper()},
    "loggers": {
        # boto logs request parameters at DEBUG; keep it quiet so nothing secret reaches the log.
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
    },
}
