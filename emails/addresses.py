"""Email addresses as the API takes them: `a@b.com` or `Jon Doe <a@b.com>`, internationalised domains allowed.

Splitting uses the standard library's RFC 5322 parser; the address itself is checked with Django's validator
after the domain is converted to its ASCII (punycode) form, which is also what SES needs on the envelope.
"""

import re
from dataclasses import dataclass
from email.utils import formataddr, getaddresses
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

_validate = EmailValidator()


class AddressError(ValueError):
    pass


@dataclass(frozen=True)
class Address:
    name: str
    email: str  # local@ascii-domain, domain lower-cased

    @property
    def domain(self) -> str:
        return self.email.rsplit("@", 1)[1]

    @property
    def key(self) -> str:
        """What suppression and blocking compare: the whole address, lower-cased."""
        return self.email.lower()

    def formatted(self) -> str:
        return formataddr((self.name, self.email)) if self.name else self.email


def _ascii_domain(domain: str) -> str:
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise AddressError(f"the domain {domain!r} is not a valid internationalised domain name") from exc


def parse_address(value: object) -> Address:
    if not isinstance(value, str):
        raise AddressError(f"expected an address string, got {type(value).__name__}")
    return _parse(value)


# A bare ASCII dot-atom address (what most callers send): getaddresses() would return it unchanged, with no name.
_BARE = re.compile(r"[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


# Senders repeat on every email of an account and the parse is the costliest step of validating one; Address is
# immutable, and a failing parse raises, which lru_cache never stores.
@lru_cache(maxsize=4096)
def _parse(value: str) -> Address:
    text = value.strip()
    if _BARE.fullmatch(text):
        return _checked("", text, text)
    if not text:
        raise AddressError("the address is empty")
    if "\r" in text or "\n" in text:
        raise AddressError("an address must not contain line breaks")
    if text.count("<") != text.count(">"):
        raise AddressError(f"unbalanced angle brackets in {text!r}; use Jon Doe <a@b.com>")
    parsed = [pair for pair in getaddresses([text]) if any(pair)]
    if len(parsed) != 1:
        raise AddressError(f"expected exactly one address, found {len(parsed)} in {text!r}")
    name, email = parsed[0]
    return _checked(name, email, text)


def _checked(name: str, email: str, text: str) -> Address:
    if "@" not in email:
        raise AddressError(f"{text!r} is not an email address; use a@b.com or Jon Doe <a@b.com>")
    local, _, domain = email.rpartition("@")
    candidate = f"{local}@{_ascii_domain(domain)}"
    try:
        _validate(candidate)
    except ValidationError as exc:
        raise AddressError(f"{text!r} is not a valid email address; use a@b.com or Jon Doe <a@b.com>") from exc
    return Address(name=name.strip(), email=candidate)
