"""Which conversation a received message belongs to. In order: our `reply+<conversation>@` address, then
In-Reply-To, then References (newest first), then an SES message id we sent (SES replaces the Message-ID of every
email it sends with `<ses-message-id@email.amazonses.com>`, so replies name that id, which Sesame stores on each
sent email); else none, and a new conversation starts."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from emails.inbox.models import Conversation, InboxMessage
from emails.models import Email

REPLY_PREFIX = "reply+"
UNSUBSCRIBE_PREFIX = "unsubscribe+"


@dataclass(frozen=True)
class Thread:
    conversation: Conversation | None
    how: str  # in words, for the notification's result
    answered_email: Email | None = None  # a Sesame email (not an inbox reply) the message answers


def reply_address(conversation: Conversation, domain: str) -> str:
    return f"{REPLY_PREFIX}{conversation.pk.hex}@{domain}"


def tagged_local(address: str, prefix: str) -> str | None:
    """The tag of `prefix<tag>@domain`, or None."""
    local = address.split("@", 1)[0].lower()
    return local[len(prefix) :] if local.startswith(prefix) and len(local) > len(prefix) else None


def _ses_id(message_id: str) -> str | None:
    local, _, domain = message_id.partition("@")
    return local if domain.lower().endswith("amazonses.com") and local else None


def thread_find(*, account_id: Any, recipients: Iterable[str], in_reply_to: str, references: list[str]) -> Thread:
    for address in recipients:
        tag = tagged_local(address, REPLY_PREFIX)
        if tag is None:
            continue
        try:
            pk = uuid.UUID(hex=tag)
        except ValueError:
            continue
        found = Conversation.objects.filter(account_id=account_id, pk=pk).first()
        if found is not None:
            return Thread(found, f"by its reply address {address}")
    ordered = [("In-Reply-To", in_reply_to)] if in_reply_to else []
    ordered += [("References", ref) for ref in reversed(references)]
    ids = [message_id for _, message_id in ordered]
    if not ids:
        return Thread(None, "a new conversation (no In-Reply-To or References)")
    known = dict(
        InboxMessage.objects.filter(account_id=account_id, message_id__in=ids, conversation__isnull=False)
        .order_by("occurred_at")
        .values_list("message_id", "conversation_id")
    )
    for header, message_id in ordered:
        if message_id in known:
            return Thread(Conversation.objects.get(pk=known[message_id]), f"by {header} <{message_id}>")
    ses_ids = {ses_id: message_id for message_id in ids if (ses_id := _ses_id(message_id))}
    if ses_ids:
        emails = {e.ses_message_id: e for e in Email.objects.filter(account_id=account_id, ses_message_id__in=ses_ids)}
        replies = dict(
            InboxMessage.objects.filter(email__in=list(emails.values()), conversation__isnull=False).values_list(
                "email_id", "conversation_id"
            )
        )
        for _, message_id in ordered:
            email = emails.get(_ses_id(message_id) or "")
            if email is None:
                continue
            if email.pk in replies:
                return Thread(
                    Conversation.objects.get(pk=replies[email.pk]), f"by the SES message id of our reply <{message_id}>"
                )
            return Thread(None, f"a new conversation answering our email {email.pk}", answered_email=email)
    return Thread(None, "a new conversation (no known message named in In-Reply-To or References)")
