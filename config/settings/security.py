"""Secrets, hosts and the environment switch.

In development a missing SESAME_SECRET_KEY / SESAME_ENCRYPTION_KEY is generated once into var/ so a fresh
clone runs with no set-up; in production the system checks in config/checks.py refuse to start without them.
"""

import json
import os
import secrets

from cryptography.fernet import Fernet

from config.env import env_bool, env_choice, env_list, env_str
from config.settings.paths import VAR_DIR

SESAME_ENV = env_choice("SESAME_ENV", "development", ("development", "production", "test"))
DEBUG = env_bool("SESAME_DEBUG", SESAME_ENV == "development")


def _dev_secrets() -> dict[str, str]:
    path = VAR_DIR / "dev-secrets.json"
    if path.exists():
        loaded: dict[str, str] = json.loads(path.read_text())
        return loaded
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    generated = {
        "secret_key": secrets.token_urlsafe(50),
        "encryption_key": Fernet.generate_key().decode(),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(generated, handle)
    return generated


SECRET_KEY = env_str("SESAME_SECRET_KEY")
# Comma-separated Fernet keys; the first encrypts, all decrypt, so keys can be rotated without downtime.
SESAME_ENCRYPTION_KEY = env_str("SESAME_ENCRYPTION_KEY")
if SESAME_ENV == "development" and not (SECRET_KEY and SESAME_ENCRYPTION_KEY):
    _generated = _dev_secrets()
    SECRET_KEY = SECRET_KEY or _generated["secret_key"]
    SESAME_ENCRYPTION_KEY = SESAME_ENCRYPTION_KEY or _generated["encryption_key"]

ALLOWED_HOSTS = env_list("SESAME_ALLOWED_HOSTS", ["*"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("SESAME_CSRF_TRUSTED_ORIGINS", [])

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = SESAME_ENV == "production"
CSRF_COOKIE_SECURE = SESAME_ENV == "production"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "SAMEORIGIN"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("SESAME_BEHIND_PROXY", False) else None

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
