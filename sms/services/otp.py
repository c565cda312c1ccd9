"""One-time passcodes by SMS or email.

A code is random digits (6 by default, 4 to 10 per account), stored only as an HMAC-SHA256 keyed with a key derived
from SESAME_SECRET_KEY, compared in constant time, single use, valid for SESAME_OTP_TTL_SECONDS, with at most
SESAME_OTP_MAX_CHECKS checks and SESAME_OTP_MAX_SENDS sends (a new code each, SESAME_OTP_RESEND_COOLDOWN_SECONDS
apart). The SMS carrying it is priority 1 on the delivery engine; what Sesame shows of it has the code masked.

Fraud guards against SMS pumping, counted on the normalised number: the account's country allow-list, rolling-hour
limits per destination, per account and per client IP, and a per-account, per-country pause when the share of
verifications approved collapses (judged by `otp_ratio_check`, every minute).
"""

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from rest_framework import serializers

from accounts.models import Account
from accounts.ratelimit import rate_counter
from config.api.errors import UnprocessableEntity, error_entry, flatten_errors
from config.api.serializers import StrictSerializer
from contacts.normalize import normalize_email, normalize_mobile
from sms.encoding import body_encoding
from sms.models import OtpCountryPause, OtpVerification
from sms.services.accept import sms_store
from sms.services.policy import sms_policy_for
from sms.validation import SmsDraft, country_of

logger = logging.getLogger("sesame.sms")

CODE_PLACEHOLDER = "{{code}}"
MESSAGES = {
    "en": "Your {name} verification code is {code}. It expires in {minutes} minutes.",
    "es": "Tu codigo de verificacion de {name} es {code}. Caduca en {minutes} minutos.",
    "fr": "Votre code de verification {name} est {code}. Il expire dans {minutes} minutes.",
    "de": "Ihr {name} Bestatigungscode lautet {code}. Er lauft in {minutes} Minuten ab.",
    "pt": "Seu codigo de verificacao {name} e {code}. Ele expira em {minutes} minutos.",
}


class OtpCreateSerializer(StrictSerializer):
    to = serializers.CharField(max_length=320, help_text="E.164 number (sms) or email address (email).")
    channel = serializers.ChoiceField(choices=OtpVerification.Channel.choices, default=OtpVerification.Channel.SMS)
    template = serializers.CharField(
        max_length=480,
        required=False,
        help_text="Your own text with {{code}} where the code goes (and {{minutes}} for its lifetime).",
    )
    locale = serializers.ChoiceField(choices=sorted(MESSAGES), default="en", help_text="Language of the default text.")

    def validate_template(self, value: str) -> str:
        if CODE_PLACEHOLDER not in value:
            raise serializers.ValidationError("must contain {{code}} where the code goes", code="value_error.template")
        return value


class OtpCheckSerializer(StrictSerializer):
    code = serializers.RegexField(
        r"^[0-9]{4,10}$", error_messages={"invalid": "The code is 4 to 10 digits, as received."}
    )


class OtpRefused(Exception):
    """429: a send limit or the resend cooldown; `retry_after` seconds until it may succeed."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = max(1, retry_after)


class OtpAlreadyUsed(Exception):
    pass


@cache
def _key(secret: str) -> bytes:
    return hashlib.sha256(b"sesame-otp-v1:" + secret.encode()).digest()


def code_hash(verification_id: object, code: str) -> str:
    return hmac.new(_key(settings.SECRET_KEY), f"{verification_id}:{code}".encode(), hashlib.sha256).hexdigest()


@dataclass
class OtpRequest:
    to: str
    channel: str
    country: str
    template: str | None
    locale: str


def _validated(data: Any) -> OtpRequest:
    serializer = OtpCreateSerializer(data=data)
    if not serializer.is_valid():
        raise UnprocessableEntity(flatten_errors(serializer.errors, ["body"]))
    values = serializer.validated_data
    try:
        if values["channel"] == OtpVerification.Channel.SMS:
            to = normalize_mobile(values["to"])
        else:
            to = normalize_email(values["to"])
    except DjangoValidationError as exc:
        raise UnprocessableEntity([error_entry(["body", "to"], " ".join(exc.messages), "value_error.to")]) from exc
    country = country_of(to) if values["channel"] == OtpVerification.Channel.SMS else ""
    return OtpRequest(to, values["channel"], country, values.get("template"), values["locale"])


def _country_guard(account: Account, request: OtpRequest) -> None:
    if request.channel != OtpVerification.Channel.SMS:
        return
    allowed = sms_policy_for(account=account).countries
    if request.country not in allowed:
        raise UnprocessableEntity(
            [
                error_entry(
                    ["body", "to"],
                    f"{request.to} is a number in {request.country or 'no known country'}; this account sends "
                    f"passcodes to {', '.join(allowed)} only (add countries with PATCH /v1/sms/settings "
                    "allowed_countries)",
                    "value_error.country_not_allowed",
                )
            ]
        )
    pause = OtpCountryPause.objects.filter(account=account, country=request.country).first()
    if pause is not None:
        raise UnprocessableEntity(
            [
                error_entry(
                    ["body", "to"],
                    f"passcodes to {request.country} are paused for this account since "
                    f"{pause.created_at:%Y-%m-%d %H:%M} UTC: {pause.reason}",
                    "value_error.country_paused",
                )
            ]
        )


def _rate_guard(account: Account, request: OtpRequest, client_ip: str | None) -> None:
    counter = rate_counter()
    limits = [
        (f"otp:to:{account.pk}:{request.to}", settings.SESAME_OTP_PER_NUMBER_PER_HOUR, f"to {request.to}"),
        (f"otp:account:{account.pk}", settings.SESAME_OTP_PER_ACCOUNT_PER_HOUR, "from this account"),
    ]
    if client_ip:
        limits.append((f"otp:ip:{account.pk}:{client_ip}", settings.SESAME_OTP_PER_IP_PER_HOUR, f"from {client_ip}"))
    for key, limit, what in limits:
        decision = counter.hit(key, limit=limit, window=3600)
        if not decision.allowed:
            raise OtpRefused(f"Too many passcodes {what}: at most {limit} an hour.", decision.retry_after)


def _text(request: OtpRequest, *, account: Account, code: str) -> str:
    minutes = str(settings.SESAME_OTP_TTL_SECONDS // 60)
    if request.template:
        return request.template.replace(CODE_PLACEHOLDER, code).replace("{{minutes}}", minutes)
    return MESSAGES[request.locale].format(name=account.name[:30], code=code, minutes=minutes)


def _send(verification: OtpVerification, request: OtpRequest, *, account: Account, code: str) -> None:
    text = _text(request, account=account, code=code)
    shown = _text(request, account=account, code="*" * len(code))
    if request.channel == OtpVerification.Channel.SMS:
        draft = SmsDraft(
            to=request.to,
            country=request.country,
            body=shown,
            encoding=body_encoding(text),
            priority=1,
            custom_fields={"otp_id": str(verification.pk)},
        )
        sms_store(account=account, draft=draft, loc=["body"], sealed_body=text, otp=verification)
        return
    # Imported here: only email passcodes need the email channel (sms never imports emails at module level).
    from emails.services import email_accept

    sender = sms_policy_for(account=account).otp_email_from
    if not sender:
        raise UnprocessableEntity(
            [
                error_entry(
                    ["body", "channel"],
                    "email passcodes need a sender: set otp_email_from (a verified identity) with "
                    "PATCH /v1/sms/settings",
                    "value_error.otp_email_from",
                )
            ]
        )
    email_accept(
        account=account,
        data={
            "from": sender,
            "to": request.to,
            "subject": "Your verification code",  # never the code: subjects are shown in lists
            "text_body": text,
            "priority": 1,
            "custom_fields": {"otp_id": str(verification.pk)},
        },
        sealed=True,
    )


def otp_create(*, account: Account, data: Any, client_ip: str | None = None) -> OtpVerification:
    """Start a verification, or send a new code for the pending one to the same destination. Raises
    UnprocessableEntity (422) or OtpRefused (429)."""
    request = _validated(data)
    _country_guard(account, request)
    now = timezone.now()
    policy = sms_policy_for(account=account)
    with transaction.atomic():
        verification = (
            OtpVerification.objects.select_for_update()
            .filter(
                account=account,
                channel=request.channel,
                to=request.to,
                status=OtpVerification.Status.PENDING,
                expires_at__gt=now,
            )
            .order_by("-created_at")
            .first()
        )
        if verification is not None:
            if verification.sends >= settings.SESAME_OTP_MAX_SENDS:
                retry = int((verification.expires_at - now).total_seconds())
                raise OtpRefused(
                    f"This verification was sent {verification.sends} times, the most allowed; start a new one "
                    f"once it expires.",
                    retry,
                )
            ready_at = (verification.last_sent_at or now) + timedelta(
                seconds=settings.SESAME_OTP_RESEND_COOLDOWN_SECONDS
            )
            if ready_at > now:
                raise OtpRefused(
                    f"A code was sent less than {settings.SESAME_OTP_RESEND_COOLDOWN_SECONDS} seconds ago; wait before "
                    "asking for another.",
                    int((ready_at - now).total_seconds()) + 1,
                )
        _rate_guard(account, request, client_ip)
        if verification is None:
            verification = OtpVerification(
                account=account,
                channel=request.channel,
                to=request.to,
                country=request.country,
                expires_at=now + timedelta(seconds=settings.SESAME_OTP_TTL_SECONDS),
            )
        code = "".join(secrets.choice("0123456789") for _ in range(policy.otp_code_length))
        verification.code_hash = code_hash(verification.pk, code)
        verification.sends += 1
        verification.last_sent_at = now
        verification.save()
        _send(verification, request, account=account, code=code)
    return verification


def otp_check(*, verification: OtpVerification, data: Any) -> OtpVerification:
    """Compare a code (constant time). Raises OtpAlreadyUsed once the verification was approved."""
    serializer = OtpCheckSerializer(data=data)
    if not serializer.is_valid():
        raise UnprocessableEntity(flatten_errors(serializer.errors, ["body"]))
    code = serializer.validated_data["code"]
    now = timezone.now()
    with transaction.atomic():
        current = OtpVerification.objects.select_for_update().get(pk=verification.pk)
        if current.status == OtpVerification.Status.APPROVED:
            raise OtpAlreadyUsed("This code was already used: a verification is approved once only.")
        if current.status == OtpVerification.Status.PENDING:
            if current.expires_at <= now:
                current.status = OtpVerification.Status.EXPIRED
            elif current.checks >= settings.SESAME_OTP_MAX_CHECKS:
                current.status = OtpVerification.Status.FAILED
            else:
                current.checks += 1
                if hmac.compare_digest(current.code_hash, code_hash(current.pk, code)):
                    current.status = OtpVerification.Status.APPROVED
                    current.approved_at = now
                elif current.checks >= settings.SESAME_OTP_MAX_CHECKS:
                    current.status = OtpVerification.Status.FAILED
            current.save(update_fields=["status", "checks", "approved_at"])
    return current


def otp_expire(*, now: Any = None) -> int:
    now = now or timezone.now()
    return OtpVerification.objects.filter(status=OtpVerification.Status.PENDING, expires_at__lte=now).update(
        status=OtpVerification.Status.EXPIRED
    )


def otp_ratio_check(*, now: Any = None) -> list[OtpCountryPause]:
    """Pause OTP sends to a country for an account whose verify-to-send ratio there collapsed (SMS pumping: many
    codes sent, few ever entered). Judged over SESAME_OTP_RATIO_WINDOW_MINUTES once there are enough sends; the
    verifications still inside their lifetime are not counted as unverified yet."""
    now = now or timezone.now()
    since = now - timedelta(minutes=settings.SESAME_OTP_RATIO_WINDOW_MINUTES)
    settled = now - timedelta(seconds=settings.SESAME_OTP_TTL_SECONDS)
    rows = (
        OtpVerification.objects.filter(
            channel=OtpVerification.Channel.SMS, created_at__gte=since, created_at__lte=settled
        )
        .values("account_id", "country")
        .annotate(sends=Count("id"), approved=Count("id", filter=Q(status=OtpVerification.Status.APPROVED)))
        .filter(sends__gte=settings.SESAME_OTP_RATIO_MIN_SENDS)
    )
    paused = []
    for row in rows:
        ratio = row["approved"] / row["sends"]
        if ratio >= settings.SESAME_OTP_RATIO_FLOOR:
            continue
        reason = (
            f"only {row['approved']} of {row['sends']} passcodes sent in the last "
            f"{settings.SESAME_OTP_RATIO_WINDOW_MINUTES} minutes were verified ({ratio:.0%}, under "
            f"{settings.SESAME_OTP_RATIO_FLOOR:.0%}): possible SMS pumping; an operator lifts the pause in the admin"
        )
        pause, created = OtpCountryPause.objects.get_or_create(
            account_id=row["account_id"], country=row["country"], defaults={"reason": reason}
        )
        if created:
            logger.warning("OTP sends paused account=%s country=%s: %s", row["account_id"], row["country"], reason)
            _notify_pause(pause)
            paused.append(pause)
    return paused


def _notify_pause(pause: OtpCountryPause) -> None:
    """Tell the account's owner, as reputation protection does (a failure to notify is logged, never raised)."""
    from emails.services.notices import owner_notify

    _, why_not = owner_notify(
        account=pause.account,
        subject=f"Sesame paused your one-time passcodes to {pause.country}",
        text=(
            f"Sesame stopped sending one-time passcodes to numbers in {pause.country}: {pause.reason}.\n\n"
            "This pattern (many codes requested, few ever entered) is what SMS pumping fraud looks like, and each "
            "of those texts is billed to your AWS account. Passcodes to other countries are not affected. Check who "
            "requests the codes, then ask your Sesame operator to lift the pause (SMS > OTP country pauses).\n"
        ),
    )
    if why_not:
        logger.warning("OTP pause notice for account=%s: %s", pause.account_id, why_not)


def otp_email_bodies_prune() -> int:
    """Email passcodes: once their email has left the queue, its stored bodies (which hold the code) are dropped."""
    from emails.models import Email

    return (
        Email.objects.filter(
            custom_fields__has_key="otp_id",
            body_pruned_at__isnull=True,
            created_at__gte=timezone.now() - timedelta(days=1),
        )
        .exclude(status__in=[*Email.WAITING, Email.Status.SENDING])
        .update(html_body=None, text_body=None, body_pruned_at=timezone.now())
    )
