"""Answers: the team's replies, and the optional acknowledgement of a new conversation. Each is an ordinary email
of the delivery engine, accepted by `email_accept` at priority 1 (so the verified sender, the suppression list and
every other accept rule hold), with In-Reply-To and References set and a `reply+<conversation>@` Reply-To."""

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from config.api.errors import UnprocessableEntity, error_entry
from emails.inbox.models import Conversation, InboundDomain, InboxMessage
from emails.inbox.sanitize import html_sanitize
from emails.inbox.threads import reply_address
from emails.services.accept import email_accept

REPLY_PRIORITY = 1
REPLY_FIELDS = ("text_body", "html_body")
# RFC 5322 lets References grow with the thread; mail systems cope with a few dozen ids at most.
MAX_REFERENCES = 20


def _answered(conversation: Conversation) -> InboxMessage | None:
    """The message a reply answers: the conversation's latest received message that has a Message-ID."""
    return (
        conversation.messages.filter(direction=InboxMessage.Direction.INBOUND)
        .exclude(message_id="")
        .order_by("-occurred_at", "-id")
        .first()
    )


def threading_headers(answered: InboxMessage | None) -> dict[str, str]:
    if answered is None:
        return {}
    references = [*[r for r in answered.references if r != answered.message_id], answered.message_id]
    return {
        "In-Reply-To": f"<{answered.message_id}>",
        "References": " ".join(f"<{r}>" for r in references[-MAX_REFERENCES:]),
    }


def _subject(subject: str) -> str:
    return subject if subject[:3].lower() == "re:" else f"Re: {subject}".strip()


def _send(
    conversation: Conversation, *, text_body: str, html_body: str | None, kind: InboxMessage.Kind, extra: dict[str, str]
) -> InboxMessage:
    """Accept the answer as an email and add it to the conversation. Raises UnprocessableEntity (422)."""
    if conversation.connection is None or not conversation.team_address or not conversation.correspondent_email:
        raise UnprocessableEntity(
            [
                error_entry(
                    ["body"],
                    "this conversation has no team address, correspondent or AWS connection to answer from",
                    "value_error.unanswerable",
                )
            ]
        )
    answered = _answered(conversation)
    domain = conversation.team_address.split("@")[-1]
    data: dict[str, Any] = {
        "from": conversation.team_address,
        "to": conversation.correspondent,
        "reply_to": reply_address(conversation, domain),
        "subject": _subject(conversation.subject or (answered.subject if answered else "")),
        "text_body": text_body,
        "headers": {**threading_headers(answered), **extra},
        "priority": REPLY_PRIORITY,
        "config_identifier": conversation.connection.identifier,
        "tags": ["inbox"],
        "custom_fields": {"conversation": str(conversation.pk)},
    }
    if html_body:
        data["html_body"] = html_body
    try:
        email = email_accept(account=conversation.account, data=data)
    except UnprocessableEntity as error:
        # The caller sent only the bodies: a problem with anything else is about the conversation's addresses.
        entries = [
            entry
            if len(entry["loc"]) > 1 and entry["loc"][1] in REPLY_FIELDS
            else error_entry(["body"], f"the reply cannot be sent: {entry['msg']}", entry["type"])
            for entry in error.entries
        ]
        raise UnprocessableEntity(entries) from None
    now = timezone.now()
    message = InboxMessage.objects.create(
        account_id=conversation.account_id,
        conversation=conversation,
        connection=conversation.connection,
        direction=InboxMessage.Direction.OUTBOUND,
        kind=kind,
        email=email,
        in_reply_to=answered.message_id if answered else "",
        references=[*(answered.references if answered else []), *([answered.message_id] if answered else [])][
            -MAX_REFERENCES:
        ],
        from_address=conversation.team_address,
        from_email=conversation.team_address,
        to=[conversation.correspondent],
        subject=data["subject"],
        text_body=text_body,
        html_body=html_body or "",
        html_sanitized=html_sanitize(html_body) if html_body else "",
        occurred_at=now,
    )
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now, updated_at=now)
    conversation.last_message_at = now
    return message


@transaction.atomic
def conversation_reply(
    *,
    conversation: Conversation,
    text_body: str,
    html_body: str | None = None,
    author: User | None = None,
) -> InboxMessage:
    """Send the team's answer to the correspondent. Raises UnprocessableEntity (422) when it cannot be sent."""
    if not text_body.strip() and not (html_body or "").strip():
        raise UnprocessableEntity([error_entry(["body", "text_body"], "write the reply", "value_error.missing")])
    message = _send(conversation, text_body=text_body, html_body=html_body, kind=InboxMessage.Kind.MESSAGE, extra={})
    if author is not None:
        InboxMessage.objects.filter(pk=message.pk).update(author=author)
        message.author = author
    return message


def conversation_acknowledge(*, conversation: Conversation, message: InboxMessage) -> str:
    """Answer the first message of a new conversation with the inbound domain's acknowledgement text, when it has
    one. Never for machine mail (auto-replies, bulk, bounces), flagged mail, or mail from one of our own
    inbound domains, so two auto-responders can never loop. Returns what happened, in words."""
    domain = conversation.team_address.split("@")[-1]
    inbound = InboundDomain.objects.filter(connection_id=conversation.connection_id, domain=domain).first()
    if inbound is None or not inbound.acknowledgement_text:
        return ""
    if message.kind != InboxMessage.Kind.MESSAGE:
        return f"Not acknowledged: {message.get_kind_display().lower()} is never answered automatically."
    if message.flagged:
        return "Not acknowledged: the message is flagged."
    own = InboundDomain.objects.filter(account_id=conversation.account_id, domain=message.from_email.split("@")[-1])
    if not message.from_email or own.exists():
        return "Not acknowledged: the sender is one of our own inbound addresses."
    try:
        with transaction.atomic():
            _send(
                conversation,
                text_body=inbound.acknowledgement_text,
                html_body=None,
                kind=InboxMessage.Kind.ACKNOWLEDGEMENT,
                # RFC 3834: marks it as automatic, so well-behaved responders do not answer it either.
                extra={"Auto-Submitted": "auto-replied"},
            )
    except UnprocessableEntity as error:
        return f"Not acknowledged: {'; '.join(entry['msg'] for entry in error.entries)}"
    return "Acknowledged."
