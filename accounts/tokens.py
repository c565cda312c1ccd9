"""API token strings: how they look, and how they are hashed for storage and lookup."""

import hashlib
import secrets

TOKEN_PREFIX = "ses_"  # noqa: S105 (a format marker, not a secret)
DISPLAY_PREFIX_LENGTH = 12


def generate_token() -> str:
    # 32 random bytes: far beyond guessing, so a fast hash is safe to store and index.
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def display_prefix(plaintext: str) -> str:
    return plaintext[:DISPLAY_PREFIX_LENGTH]
