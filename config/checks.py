"""Start-up checks: a missing or malformed production setting stops Sesame, naming the variable to fix."""

from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet
from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured


def _fernet_key_errors() -> list[Error]:
    errors = []
    for index, key in enumerate(k for k in settings.SESAME_ENCRYPTION_KEY.split(",") if k.strip()):
        try:
            Fernet(key.strip().encode())
        except ValueError:
            errors.append(
                Error(
                    f"SESAME_ENCRYPTION_KEY key #{index + 1} is not a valid Fernet key.",
                    hint='Generate one with: python -c "from cryptography.fernet import Fernet; '
                    'print(Fernet.generate_key().decode())"',
                    id="sesame.E003",
                )
            )
    return errors


@register(Tags.security, deploy=False)
def check_secrets(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Error | Warning]:
    problems: list[Error | Warning] = []
    try:
        secret_key = settings.SECRET_KEY
    except ImproperlyConfigured:  # Django refuses to hand out an empty SECRET_KEY
        secret_key = ""
    if not secret_key:
        problems.append(
            Error(
                "SESAME_SECRET_KEY is not set.",
                hint="Set SESAME_SECRET_KEY to a long random string (50+ characters).",
                id="sesame.E001",
            )
        )
    elif settings.SESAME_ENV == "production" and len(secret_key) < 32:
        problems.append(
            Error(
                "SESAME_SECRET_KEY is shorter than 32 characters.", hint="Use 50+ random characters.", id="sesame.E004"
            )
        )
    if not settings.SESAME_ENCRYPTION_KEY:
        problems.append(
            Error(
                "SESAME_ENCRYPTION_KEY is not set; AWS secrets cannot be encrypted at rest.",
                hint="Set it to a Fernet key (comma-separate several to rotate; the first encrypts).",
                id="sesame.E002",
            )
        )
    else:
        problems.extend(_fernet_key_errors())
    return problems


@register(Tags.compatibility)
def check_runtime(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Error | Warning]:
    problems: list[Error | Warning] = []
    if settings.SESAME_ENV == "production":
        if settings.DEBUG:
            problems.append(Error("SESAME_DEBUG must be off in production.", id="sesame.E010"))
        if not settings.ALLOWED_HOSTS:
            problems.append(
                Error(
                    "SESAME_ALLOWED_HOSTS is empty in production.",
                    hint="Set it to the host names Sesame is served at, comma-separated.",
                    id="sesame.E011",
                )
            )
        if not settings.REDIS_URL:
            problems.append(
                Warning(
                    "REDIS_URL is not set in production: the broker and rate counters are single-machine.",
                    id="sesame.W010",
                )
            )
        if str(settings.DATABASES["default"]["ENGINE"]).endswith("sqlite3"):
            problems.append(Warning("DATABASE_URL points at SQLite in production; use PostgreSQL.", id="sesame.W011"))
        if settings.SESAME_PUBLIC_URL.startswith("http://"):
            problems.append(
                Warning(
                    "SESAME_PUBLIC_URL is not https: SNS only delivers to HTTPS endpoints in production.",
                    id="sesame.W012",
                )
            )
    return problems
