"""What stands between the public sign-up endpoint and a confirmation email: rate limits per client IP, per
address and per recipient domain (Redis, shared by every web process), the hashcash-style proof of work, and the
operator's own challenge hook (a captcha). Each refusal says what the visitor can do."""

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from accounts.ratelimit import rate_counter
from emails.forms.models import SignupForm

HOUR = 3600
# A proof of work is good this long after the time it names (the script stamps it when the visitor submits).
POW_FRESH_SECONDS = 600


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str
    retry_after: int = 0


def _digest(value: str) -> str:
    # Addresses never appear in Redis keys as they are.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _limited(key: str, limit: int, message: str) -> Refusal | None:
    decision = rate_counter().hit(f"forms:{key}", limit=limit, window=HOUR)
    if decision.allowed:
        return None
    return Refusal(429, message, decision.retry_after)


def ip_refusal(ip: str | None) -> Refusal | None:
    if ip is None:
        return None
    return _limited(
        f"ip:{ip}", settings.SESAME_FORMS_PER_IP_PER_HOUR, "Too many sign-ups from your network; try again in an hour."
    )


def address_refusal(*, form: SignupForm, email: str) -> Refusal | None:
    domain = email.rsplit("@", 1)[1]
    return _limited(
        f"addr:{form.account_id}:{_digest(email)}",
        settings.SESAME_FORMS_PER_ADDRESS_PER_HOUR,
        "This address was signed up several times already; check its inbox for the confirmation email.",
    ) or _limited(
        f"domain:{form.account_id}:{_digest(domain)}",
        settings.SESAME_FORMS_PER_DOMAIN_PER_HOUR,
        f"Too many sign-ups for addresses at {domain} right now; try again later.",
    )


def pow_challenge(*, form: SignupForm, email: str, stamp: int) -> str:
    """What the script hashes with its nonce (emails/forms/popup.js computes the same string)."""
    return f"{form.key}:{email}:{stamp}"


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte:
            return bits + 8 - byte.bit_length()
        bits += 8
    return bits


def pow_refusal(*, form: SignupForm, email: str, data: dict[str, Any], now: float | None = None) -> Refusal | None:
    """Hashcash: SHA-256 of `challenge:nonce` must start with the form's number of zero bits, for a stamp of the
    last ten minutes. Cheap to check, costly to make in bulk; replays are bounded by the per-address limit."""
    if not form.proof_of_work_bits:
        return None
    stamp, nonce = data.get("pow_ts"), data.get("pow_nonce")
    current = time.time() if now is None else now
    if not isinstance(stamp, int) or not isinstance(nonce, str) or len(nonce) > 64:
        return Refusal(422, "This form needs its proof of work: reload the page and submit again.")
    if not current - POW_FRESH_SECONDS <= stamp <= current + 60:
        return Refusal(422, "The form's proof of work is too old: submit again.")
    digest = hashlib.sha256(f"{pow_challenge(form=form, email=email, stamp=stamp)}:{nonce}".encode()).digest()
    if leading_zero_bits(digest) < form.proof_of_work_bits:
        return Refusal(422, "The form's proof of work is wrong: reload the page and submit again.")
    return None


@cache
def _hook(path: str) -> Callable[..., str | None]:
    hook: Callable[..., str | None] = import_string(path)
    return hook


def hook_refusal(*, form: SignupForm, data: dict[str, Any], ip: str | None) -> Refusal | None:
    """SESAME_FORMS_CHALLENGE_HOOK, when set: None lets the sign-up through, a message refuses it (403)."""
    if not settings.SESAME_FORMS_CHALLENGE_HOOK:
        return None
    message = _hook(settings.SESAME_FORMS_CHALLENGE_HOOK)(form=form, data=data, ip=ip)
    return Refusal(403, str(message)) if message else None
