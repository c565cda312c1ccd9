"""Encryption at rest for secrets Sesame must be able to read back (AWS secret keys, SNS credentials)."""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@cache
def _fernet(keys: str) -> MultiFernet:
    parsed = [k.strip() for k in keys.split(",") if k.strip()]
    if not parsed:
        raise ImproperlyConfigured("SESAME_ENCRYPTION_KEY is not set; cannot encrypt or decrypt secrets.")
    return MultiFernet([Fernet(k.encode()) for k in parsed])


def encrypt(plaintext: str) -> str:
    return _fernet(settings.SESAME_ENCRYPTION_KEY).encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet(settings.SESAME_ENCRYPTION_KEY).decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with SESAME_ENCRYPTION_KEY; "
            "was the key changed without keeping the old one in the list?"
        ) from exc
