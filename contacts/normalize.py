"""Turning what callers send into what contacts store. Shared by the API, /v1/events and the CSV import, so a
value that one door accepts is accepted by all of them, with the same words when it is not."""

import re
from collections.abc import Iterable
from datetime import date, datetime

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from contacts.models import Contact

_validate_email = EmailValidator(message="Not a valid email address.")
# A strict subset of what EmailValidator accepts, checked first: it answers for nearly every real address at a
# twentieth of the cost, which matters for a million-row import.
PLAIN_EMAIL = re.compile(r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_E164 = re.compile(r"\+[1-9]\d{1,14}")
_SPACES = re.compile(r"\s+")

TAG_MAX_LENGTH = 100

# Send With SES spells statuses as verbs ("Subscribe"); the API's own values are accepted too.
_STATUS_ALIASES = {
    "subscribe": Contact.Status.SUBSCRIBED,
    "subscribed": Contact.Status.SUBSCRIBED,
    "unsubscribe": Contact.Status.UNSUBSCRIBED,
    "unsubscribed": Contact.Status.UNSUBSCRIBED,
    "bounced": Contact.Status.BOUNCED,
    "complained": Contact.Status.COMPLAINED,
}


def normalize_email(value: str) -> str:
    email = value.strip().lower()
    if len(email) > 254:
        raise ValidationError("Email addresses are at most 254 characters.", code="invalid")
    if not PLAIN_EMAIL.fullmatch(email):
        _validate_email(email)
    return email


def normalize_mobile(value: str, *, default_region: str | None = None) -> str:
    """Strict E.164 unless a default region is given (imports), in which case national forms are converted.

    Strict mode refuses anything with spaces, dashes or brackets, and says which E.164 form was meant."""
    raw = value.strip()
    if default_region is None and not _E164.fullmatch(raw):
        suggestion = _e164_or_none(raw, None)
        hint = f" Send {suggestion!r}." if suggestion else ""
        raise ValidationError(
            f"{raw!r} is not in E.164 format: a plus, the country code and the number, without spaces, dashes or "
            f"brackets (e.g. '+442071838750').{hint}",
            code="invalid",
        )
    number = _parse(raw, default_region)
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(f"{raw!r} is not a valid mobile number.", code="invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse(raw: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None


def _e164_or_none(raw: str, region: str | None) -> str | None:
    number = _parse(raw, region)
    if number is None or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_region(value: str) -> str:
    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f"{value!r} is not a region code phonenumbers knows, e.g. GB, US, IN.", code="invalid")
    return region


def parse_dob(value: str | date) -> date:
    """Send With SES sends DD-MM-YYYY; ISO YYYY-MM-DD is accepted too."""
    if isinstance(value, date):
        return value
    text = value.strip()
    for pattern in ("%d-%m-%Y", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        if parsed.year < 1900 or parsed > date.today():
            break
        return parsed
    raise ValidationError(
        f"{text!r} is not a date of birth; use DD-MM-YYYY (e.g. 10-10-1990) or YYYY-MM-DD.", code="invalid"
    )


def parse_status(value: str) -> str:
    status = _STATUS_ALIASES.get(value.strip().lower())
    if status is None:
        raise ValidationError(
            f"{value!r} is not a status; use one of Subscribe, Unsubscribe, subscribed, unsubscribed, bounced, "
            "complained.",
            code="invalid_choice",
        )
    return str(status)


def tag_key(name: str) -> str:
    return name.lower()


def clean_tag_names(values: str | Iterable[str]) -> list[str]:
    """Comma-separated text or a list; trimmed, inner whitespace collapsed, case-insensitively de-duplicated."""
    parts = values.split(",") if isinstance(values, str) else [p for v in values for p in str(v).split(",")]
    names: dict[str, str] = {}
    for part in parts:
        name = _SPACES.sub(" ", part).strip()
        if not name:
            continue
        if len(name) > TAG_MAX_LENGTH:
            raise ValidationError(f"Tag {name[:20]!r}… is longer than {TAG_MAX_LENGTH} characters.", code="invalid")
        names.setdefault(tag_key(name), name)
    return list(names.values())
