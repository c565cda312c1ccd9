"""Taking a sign-up from the public endpoint: the visitor's answers checked against what the form asks, then the
honeypot, the proof of work, the challenge hook, the per-address and per-domain limits and the recipient policy,
then the pending sign-up and its confirmation email (services.signup_request_create)."""

import logging
from dataclasses import dataclass
from typing import Any

from config.api.errors import ErrorEntry, error_entry
from emails.addresses import AddressError, parse_address
from emails.forms import guard, services
from emails.forms.models import SignupForm
from emails.policy import BLOCKED_DOMAIN, RecipientPolicy

logger = logging.getLogger("sesame.emails.forms")

# The field people never see (templates/forms/popup.js hides it); bots that fill every input fill it too.
HONEYPOT = "website"
MAX_ANSWER_LENGTH = 500


@dataclass(frozen=True)
class Rejection:
    """Why a sign-up was not taken: the status, and the `detail` the script shows (422s at their fields)."""

    status: int
    detail: Any
    retry_after: int = 0


def _submission(form: SignupForm, data: dict[str, Any]) -> tuple[services.Submission | None, list[ErrorEntry]]:
    """The visitor's answers, checked against what the form asks; every problem at its field."""
    problems = []
    email = ""
    try:
        email = parse_address(str(data.get("email") or "")).key
        if "<" in str(data.get("email")):
            raise AddressError("give the address alone")
    except AddressError:
        problems.append(
            error_entry(["body", "email"], "Enter a valid email address, like name@example.com.", "value_error.email")
        )
    name = str(data.get("name") or "").strip()
    if form.require_name and not name:
        problems.append(error_entry(["body", "name"], "Enter your name.", "value_error.missing"))
    elif len(name) > 200 or "\n" in name or "\r" in name:
        problems.append(error_entry(["body", "name"], "Use at most 200 characters on one line.", "value_error.name"))
    answers: dict[str, str] = {}
    given = data.get("fields") or {}
    if not isinstance(given, dict):
        given = {}
    for custom in form.custom_fields:
        value = str(given.get(custom["key"]) or "").strip()
        if custom.get("required") and not value:
            problems.append(
                error_entry(["body", "fields", custom["key"]], f"Fill in {custom['label']}.", "value_error.missing")
            )
        elif len(value) > MAX_ANSWER_LENGTH:
            problems.append(
                error_entry(
                    ["body", "fields", custom["key"]],
                    f"Use at most {MAX_ANSWER_LENGTH} characters.",
                    "value_error.any_str.max_length",
                )
            )
        elif value:
            answers[custom["key"]] = value
    if form.consent_text and data.get("consent") is not True:
        problems.append(
            error_entry(["body", "consent"], "Tick the box to agree before you subscribe.", "value_error.consent")
        )
    if problems:
        return None, problems
    return services.Submission(email=email, full_name=name if form.ask_name else "", answers=answers), []


def _rejection(refusal: guard.Refusal) -> Rejection:
    if refusal.status == 422:
        return Rejection(422, [error_entry(["body"], refusal.message, "value_error.challenge")])
    return Rejection(refusal.status, refusal.message, refusal.retry_after)


def ip_rejection(ip: str | None) -> Rejection | None:
    refusal = guard.ip_refusal(ip)
    return _rejection(refusal) if refusal else None


def signup_receive(*, form: SignupForm, data: dict[str, Any], origin: str, ip: str | None) -> Rejection | None:
    """Take one posted sign-up; None when it was taken (or silently dropped: a filled honeypot is answered like a
    success, so a bot learns nothing)."""
    if data.get(HONEYPOT):
        logger.info("Sign-up honeypot filled form=%s", form.key)
        return None
    submission, problems = _submission(form, data)
    if submission is None:
        return Rejection(422, problems)
    refusal = (
        # The script hashes the address as typed (trimmed, lower-cased), before any punycode conversion.
        guard.pow_refusal(form=form, email=str(data.get("email")).strip().lower(), data=data)
        or guard.hook_refusal(form=form, data=data, ip=ip)
        or guard.address_refusal(form=form, email=submission.email)
    )
    if refusal:
        return _rejection(refusal)
    address = parse_address(submission.email)
    if RecipientPolicy(account=form.account, addresses=[address]).drop_reason(address) == BLOCKED_DOMAIN:
        message = f"Addresses at {address.domain} can't subscribe (disposable or blocked); use your everyday address."
        return Rejection(422, [error_entry(["body", "email"], message, "value_error.email.disposable")])
    try:
        services.signup_request_create(form=form, submission=submission, origin=origin, ip=ip)
    except services.ConfirmationNotSent as exc:
        logger.warning("Sign-up form cannot send its confirmation form=%s: %s", form.key, exc)
        return Rejection(503, "This form cannot take sign-ups right now; please try again later.")
    return None
