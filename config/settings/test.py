"""Test settings: real PostgreSQL and Redis (the README's test command provides both), AWS mocked by moto."""

import os

os.environ.setdefault("SESAME_ENV", "test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sesame")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("SESAME_SECRET_KEY", "test-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("SESAME_ENCRYPTION_KEY", "5OSQ8dzdJyd7KHTPEAIJWeu-alsfE4_kCaVCloxypAQ=")

from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast hashing; tests only
ALLOWED_HOSTS = ["*"]
