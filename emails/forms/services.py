"""Sign-up forms: create and change them, take a sign-up (double opt-in: only a confirmation email), and confirm
it (the contact is created or updated only then)."""

from dataclasses import dataclass, field
from datetime import timedelta
from html import escape
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from config.api.errors import UnprocessableEntity, error_entry
from contacts.models import Contact, ContactEvent, Topic
from contacts.services import ContactFields, contact_timeline_append_for_address, contact_upsert
from contacts.subscriptions import Source, contact_resubscribe, contact_topic_subscribe
from emails.addresses import parse_address
from emails.forms.models import SignupForm, SignupRequest
from emails.forms.validation import appearance_with_defaults, form_problems, normalise_origin
from emails.services.accept import email_accept

CONFIRM_SALT = "sesame.emails.forms.confirm"
# What the API and the admin may set; the key, the account and the counts are Sesame's.
EDITABLE = (
    "name", "is_active", "sender", "config_identifier", "ask_name", "require_name", "custom_fields", "consent_text",
    "tags", "topic", "allowed_origins", "mode", "trigger", "delay_seconds", "scroll_percent", "appearance",
    "proof_of_work_bits",
)  # fmt: skip


class ConfirmationNotSent(Exception):
    """The confirmation email could not be accepted (typically: the form's sender is no longer verified)."""


class TokenInvalid(Exception):
    pass


class TokenExpired(TokenInvalid):
    pass


def _values(form: SignupForm) -> dict[str, Any]:
    return {name: getattr(form, name) for name in EDITABLE}


def _topic(account: Account, key: str) -> Topic:
    """The account's topic by its key (the API names topics by key)."""
    found = Topic.objects.filter(account=account, key=key).first()
    if found is None:
        known = ", ".join(Topic.objects.filter(account=account).values_list("key", flat=True)) or "none yet"
        raise UnprocessableEntity(
            [
                error_entry(
                    ["body", "topic"], f"no topic {key!r}; yours: {known} (POST /v1/topics)", "value_error.unknown"
                )
            ]
        )
    return found


def _apply(form: SignupForm, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        if name not in EDITABLE:
            raise ValueError(f"{name} is not a setting of a sign-up form")
        if name == "topic" and isinstance(value, str):
            value = _topic(form.account, value)
        setattr(form, name, value)
    form.allowed_origins = [normalise_origin(origin) or origin for origin in form.allowed_origins or []]
    form.tags = list(dict.fromkeys(tag.strip() for tag in form.tags))


def _check(form: SignupForm) -> None:
    problems = form_problems(account=form.account, values=_values(form))
    if problems:
        raise UnprocessableEntity(problems)


@transaction.atomic
def signup_form_create(*, account: Account, values: dict[str, Any]) -> SignupForm:
    """Raises UnprocessableEntity naming every problem, e.g. a sender that is not a verified identity."""
    form = SignupForm(account=account)
    _apply(form, values)
    _check(form)
    form.save()
    return form


@transaction.atomic
def signup_form_update(*, form: SignupForm, changes: dict[str, Any]) -> SignupForm:
    _apply(form, changes)
    _check(form)
    form.save()
    return form


def signup_form_delete(*, form: SignupForm) -> None:
    """Deletes the form and its pending sign-ups; contacts it created stay."""
    form.delete()


@dataclass(frozen=True)
class Submission:
    email: str
    full_name: str = ""
    answers: dict[str, str] = field(default_factory=dict)


def signup_token(request: SignupRequest) -> str:
    return signing.dumps(str(request.pk), salt=CONFIRM_SALT)


def signup_request_for_token(token: str) -> SignupRequest:
    """The sign-up a confirmation link names. Raises TokenExpired after SESAME_FORMS_CONFIRM_DAYS, TokenInvalid when
    it was altered or its sign-up no longer exists."""
    try:
        request_id = signing.loads(token, salt=CONFIRM_SALT, max_age=timedelta(days=settings.SESAME_FORMS_CONFIRM_DAYS))
    except signing.SignatureExpired as exc:
        raise TokenExpired(str(exc)) from exc
    except signing.BadSignature as exc:
        raise TokenInvalid(str(exc)) from exc
    found = SignupRequest.objects.select_related("form", "form__account").filter(pk=request_id).first()
    if found is None:
        raise TokenInvalid("the sign-up no longer exists")
    return found


def sender_name(form: SignupForm) -> str:
    """Who the visitor signs up to hear from: the sender's display name, else the account's name."""
    return parse_address(form.sender).name or form.account.name


def _confirmation_email(form: SignupForm, request: SignupRequest, link: str) -> dict[str, Any]:
    """Only the address is the visitor's: their name and answers never appear, so the form cannot be used to mail
    a stranger words of one's choosing."""
    texts = appearance_with_defaults(form.appearance)
    who, days = sender_name(form), settings.SESAME_FORMS_CONFIRM_DAYS
    text = (
        f"Please confirm that {request.email} wants email from {who}.\n\n"
        f"Confirm your subscription:\n{link}\n\n"
        f"The link works for {days} days. If you did not ask for this, ignore this email: nothing more will be sent.\n"
    )
    html = (
        f"<p>Please confirm that <strong>{escape(request.email)}</strong> wants email from {escape(who)}.</p>"
        f'<p><a href="{escape(link)}" style="display:inline-block;padding:10px 18px;background:'
        f'{escape(texts["accent"])};color:{escape(texts["accent_text"])};border-radius:6px;text-decoration:none">'
        "Confirm your subscription</a></p>"
        f"<p>The link works for {days} days. If you did not ask for this, ignore this email: nothing more will be "
        "sent.</p>"
    )
    data: dict[str, Any] = {
        "from": form.sender,
        "to": request.email,
        "subject": texts["confirm_subject"],
        "text_body": text,
        "html_body": html,
        "priority": 10,
        "tags": ["signup-confirmation"],
        "custom_fields": {"signup_form": form.key},
    }
    if form.config_identifier:
        data["config_identifier"] = form.config_identifier
    return data


def confirm_url(request: SignupRequest) -> str:
    return f"{settings.SESAME_PUBLIC_URL}/f/confirm/{signup_token(request)}"


def signup_request_create(*, form: SignupForm, submission: Submission, origin: str, ip: str | None) -> SignupRequest:
    """Store the sign-up and queue its confirmation email, together or not at all. Raises ConfirmationNotSent when
    the email is refused."""
    with transaction.atomic():
        request = SignupRequest.objects.create(
            account_id=form.account_id,
            form=form,
            email=submission.email,
            full_name=submission.full_name,
            answers=submission.answers,
            consent_text=form.consent_text,
            origin=origin[:300],
            requested_ip=ip,
        )
        try:
            email = email_accept(account=form.account, data=_confirmation_email(form, request, confirm_url(request)))
        except UnprocessableEntity as exc:  # leaving the block rolls the sign-up back: nothing is kept
            raise ConfirmationNotSent("; ".join(entry["msg"] for entry in exc.entries)) from exc
        request.confirmation_email = email
        request.save(update_fields=["confirmation_email"])
    return request


def signup_confirm(*, request: SignupRequest, ip: str | None) -> Contact:
    """Record the confirmation (time, IP; the consent text was kept with the sign-up), then create or update the
    contact with the form's tags, subscribe it (back) to bulk mail and to the form's topic, and put the sign-up on
    its timeline. A bounced or complained contact keeps that status. Idempotent."""
    with transaction.atomic():
        locked = SignupRequest.objects.select_for_update().get(pk=request.pk)
        form = SignupForm.objects.select_related("account", "topic").get(pk=locked.form_id)
        if locked.confirmed_at is not None and locked.contact_id is not None:
            contact = Contact.objects.filter(pk=locked.contact_id).first()
            if contact is not None:
                return contact
        now = timezone.now()
        fields: ContactFields = {"email": locked.email}
        if locked.full_name:
            fields["full_name"] = locked.full_name
        if locked.answers:
            fields["attributes"] = dict(locked.answers)
        contact, _ = contact_upsert(account=form.account, fields=fields, add_tags=form.tags)
        # The address just proved it wants the mail: an earlier unsubscribe (all bulk mail, or this topic) is over.
        contact_resubscribe(contact=contact, source=Source.SIGNUP_FORM)
        if form.topic is not None:
            contact_topic_subscribe(contact=contact, topic=form.topic, source=Source.SIGNUP_FORM)
        locked.confirmed_at, locked.confirmed_ip, locked.contact = now, ip, contact
        locked.save(update_fields=["confirmed_at", "confirmed_ip", "contact"])
        contact_timeline_append_for_address(
            account_id=form.account_id,
            email=locked.email,
            name="signup_confirmed",
            properties={
                "form": form.name,
                "form_key": form.key,
                "tags": form.tags,
                "topic": form.topic.key if form.topic else None,
                "consent_text": locked.consent_text,
                "requested_at": locked.created_at.isoformat(),
                "requested_ip": locked.requested_ip,
                "origin": locked.origin,
                "confirmed_at": now.isoformat(),
                "confirmed_ip": ip,
            },
            occurred_at=now,
            source=ContactEvent.Source.FORM,
        )
    return contact


def signup_requests_forget_expired() -> int:
    """Erase the address, name, answers and IP of sign-ups whose link expired unconfirmed: they can never confirm,
    so nothing the visitor typed is kept. The rows stay, so the forms' counts do not change. Returns how many."""
    cutoff = timezone.now() - timedelta(days=settings.SESAME_FORMS_CONFIRM_DAYS)
    pending = SignupRequest.objects.filter(confirmed_at__isnull=True, created_at__lt=cutoff).exclude(email="")
    return pending.update(email="", full_name="", answers={}, requested_ip=None)
