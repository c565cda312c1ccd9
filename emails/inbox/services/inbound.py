"""Received mail: an SES "Received" notification becomes an inbox message in its conversation.

Reached from the events app's SNS webhook after the signature check. Everything that can go wrong with the mail
itself (unreadable MIME, too large, no content, an S3 object that cannot be read) is recorded on the message with
a clear error and never raises, so a bad message neither crashes a worker nor is retried forever.
"""

import base64
import binascii
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import AwsConnection
from contacts import services as contact_services
from contacts.models import Contact
from contacts.normalize import normalize_email
from emails.inbox import aws
from emails.inbox.models import Conversation, InboundDomain, InboxAttachment, InboxMessage
from emails.inbox.parsing import ParsedMail, mail_parse
from emails.inbox.sanitize import html_sanitize
from emails.inbox.services.replies import conversation_acknowledge
from emails.inbox.services.unsubscribe import unsubscribe_by_mail
from emails.inbox.threads import UNSUBSCRIBE_PREFIX, Thread, tagged_local, thread_find

logger = logging.getLogger("sesame.inbox")

# SES's verdicts, as named in the receipt (`<name>Verdict`), and how the team reads them.
VERDICTS = {"spam": "spam", "virus": "virus", "spf": "SPF", "dkim": "DKIM", "dmarc": "DMARC"}
_NOTIFICATION_TYPE = "Received"


def is_inbound_notification(message: Any) -> bool:
    return isinstance(message, dict) and message.get("notificationType") == _NOTIFICATION_TYPE


@dataclass(frozen=True)
class Received:
    message: InboxMessage | None
    result: str  # what was done, in words (kept on the SNS notification)


def _verdicts(receipt: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    verdicts: dict[str, str] = {}
    flags: list[str] = []
    for name, label in VERDICTS.items():
        found = receipt.get(f"{name}Verdict")
        status = str(found.get("status", "")).upper()[:40] if isinstance(found, dict) else ""
        if status:
            verdicts[name] = status
        if status == "FAIL":
            flags.append(f"{label} check failed")
    return verdicts, flags


def _content(connection: AwsConnection, message: dict[str, Any]) -> tuple[bytes | None, int, str]:
    """(raw MIME or None, its size, the error when None): from the notification (SNS action) or S3 (S3 action)."""
    limit = settings.SESAME_INBOX_MAX_MESSAGE_BYTES
    action = (message.get("receipt") or {}).get("action") or {}
    content = message.get("content")
    if isinstance(content, str):
        if str(action.get("encoding", "")).upper() == "BASE64":
            try:
                raw = base64.b64decode(content, validate=False)
            except (binascii.Error, ValueError):
                return None, len(content), "The notification's Base64 content does not decode."
        else:
            raw = content.encode("utf-8", "replace")
        if len(raw) > limit:
            return None, len(raw), _too_large(len(raw), limit)
        return raw, len(raw), ""
    if action.get("type") == "S3" and action.get("bucketName") and action.get("objectKey"):
        bucket, key = str(action["bucketName"]), str(action["objectKey"])
        try:
            size = aws.s3_object_size(connection, bucket, key)
            if size > limit:
                return None, size, _too_large(size, limit)
            raw = aws.s3_object_read(connection, bucket, key)
        except aws.AwsError as exc:
            return None, 0, f"s3://{bucket}/{key} could not be read through the connection: {exc}"
        return raw, len(raw), ""
    kind = action.get("type") or "unknown"
    return None, 0, f"The notification carries no message: its receipt action is {kind!r}, not SNS or S3."


def _too_large(size: int, limit: int) -> str:
    return (
        f"The message is {size:,} bytes, over SESAME_INBOX_MAX_MESSAGE_BYTES ({limit:,}); it was not read. "
        "Sender, subject and SES's verdicts are from the notification."
    )


def _from_headers(mail: dict[str, Any]) -> ParsedMail:
    """What SES's own header summary says, for mail whose MIME is not read."""
    common = mail.get("commonHeaders") or {}
    parsed = ParsedMail()
    sender = (common.get("from") or [mail.get("source") or ""])[0]
    _, address = parseaddr(str(sender))
    parsed.from_email, parsed.from_address = address.lower()[:320], str(sender)[:998]
    parsed.subject = str(common.get("subject") or "")
    parsed.to = [str(a) for a in common.get("to") or []]
    return parsed


def _contact(connection: AwsConnection, parsed: ParsedMail, occurred_at: datetime, message: InboxMessage) -> Any:
    """The correspondent's contact: matched by address, created for a person's message (not for machine mail or
    an unsubscribe request)."""
    account_id = connection.account_id
    try:
        address = normalize_email(parsed.from_email)
    except ValidationError:
        return None
    contact = None
    if message.kind == InboxMessage.Kind.MESSAGE:
        name = parsed.from_address.split("<")[0].strip().strip('"') if "<" in parsed.from_address else ""
        try:
            contact = Contact.objects.filter(account_id=account_id, email=address).first()
            if contact is None:
                fields: contact_services.ContactFields = {"email": address, "full_name": name[:200]}
                contact, _ = contact_services.contact_upsert(account=connection.account, fields=fields)
        except contact_services.ContactError as exc:
            logger.info("inbound mail: no contact for %s: %s", address, exc)
    contact_services.contact_timeline_append_for_address(
        account_id=account_id,
        email=address,
        name="email.received",
        properties={
            "conversation": str(message.conversation_id),
            "message": message.pk,
            "subject": message.subject[:200],
            "flagged": message.flagged,
        },
        occurred_at=occurred_at,
    )
    if contact is None:
        contact = Contact.objects.filter(account_id=account_id, email=address).first()
    return contact


def _team_address(connection: AwsConnection, recipients: list[str], parsed: ParsedMail) -> str:
    """Which of the recipients is ours: one on an inbound domain of the connection, else the first."""
    domains = set(InboundDomain.objects.filter(connection=connection).values_list("domain", flat=True))
    ours = [r for r in recipients if r.split("@")[-1] in domains] or recipients or parsed.to
    return (ours[0] if ours else "").lower()[:320]


def _attachments(message: InboxMessage, parsed: ParsedMail, *, virus: bool) -> None:
    limit = settings.SESAME_INBOX_MAX_ATTACHMENT_BYTES
    rows = []
    for part in parsed.parts:
        note = ""
        if virus:
            note = "Not kept: SES found a virus in this message."
        elif len(part.payload) > limit:
            note = f"Not kept: {len(part.payload):,} bytes, over SESAME_INBOX_MAX_ATTACHMENT_BYTES ({limit:,})."
        rows.append(
            InboxAttachment(
                account_id=message.account_id,
                message=message,
                filename=part.filename,
                content_type=part.content_type,
                content_id=part.content_id,
                inline=part.inline,
                size_bytes=len(part.payload),
                content=None if note else part.payload,
                note=note,
            )
        )
    InboxAttachment.objects.bulk_create(rows)


@transaction.atomic
def inbound_receive(*, connection: AwsConnection, message: dict[str, Any], received_at: datetime) -> Received:
    """Store one SES "Received" notification as an inbox message, threaded into its conversation (a repeat of a
    message already received is skipped). Returns the message and what was done, in words."""
    mail = message.get("mail") or {}
    receipt = message.get("receipt") or {}
    ses_id = str(mail.get("messageId") or "")[:255]
    inbound = InboxMessage.objects.filter(connection=connection, direction=InboxMessage.Direction.INBOUND)
    if ses_id and inbound.filter(ses_message_id=ses_id).exists():
        return Received(None, f"SES message {ses_id} was already received; nothing changed.")
    recipients = [str(r).strip().lower() for r in receipt.get("recipients") or mail.get("destination") or []]
    unsubscribe_tokens = [t for r in recipients if (t := tagged_local(r, UNSUBSCRIBE_PREFIX))]
    if unsubscribe_tokens:
        # The token names the contact: nothing of the mail is kept, and no conversation or contact is made.
        honoured, result = unsubscribe_by_mail(tokens=unsubscribe_tokens)
        if honoured:
            return Received(None, result)
    raw, size, error = _content(connection, message)
    parsed = mail_parse(raw) if raw is not None else _from_headers(mail)
    problems = [error] if error else parsed.problems
    verdicts, flags = _verdicts(receipt)
    if unsubscribe_tokens:
        flags.append("unsubscribe request with an unknown token")
    occurred_at = received_at
    with contextlib.suppress(ValueError):
        occurred_at = datetime.fromisoformat(str(receipt.get("timestamp") or mail.get("timestamp")))
    account_id = connection.account_id
    kind = InboxMessage.Kind.MESSAGE
    if unsubscribe_tokens:
        kind = InboxMessage.Kind.UNSUBSCRIBE
    elif parsed.bounce:
        kind = InboxMessage.Kind.BOUNCE
    elif parsed.auto_reason:
        kind = InboxMessage.Kind.AUTO_REPLY
    thread = thread_find(
        account_id=account_id, recipients=recipients, in_reply_to=parsed.in_reply_to, references=parsed.references
    )
    conversation, created = _conversation(connection, thread, parsed, recipients, occurred_at)
    virus = verdicts.get("virus") == "FAIL"
    inline = {p.content_id: (p.content_type, p.payload) for p in parsed.parts if p.content_id and not virus}
    row = InboxMessage.objects.create(
        account_id=account_id,
        conversation=conversation,
        connection=connection,
        direction=InboxMessage.Direction.INBOUND,
        kind=kind,
        ses_message_id=ses_id,
        message_id=parsed.message_id[:998],
        in_reply_to=parsed.in_reply_to[:998],
        references=parsed.references,
        from_address=parsed.from_address,
        from_email=parsed.from_email,
        to=parsed.to,
        cc=parsed.cc,
        subject=parsed.subject,
        text_body=parsed.text,
        html_body=parsed.html,
        html_sanitized=html_sanitize(parsed.html, inline_images=inline) if parsed.html else "",
        headers=[list(pair) for pair in parsed.headers],
        verdicts=verdicts,
        flags=flags,
        flagged=bool(flags),
        size_bytes=size,
        raw=None if virus else raw,
        error="\n".join(problems),
        occurred_at=occurred_at,
    )
    _attachments(row, parsed, virus=virus)
    _conversation_touch(conversation, row, automatic=bool(parsed.auto_reason) or kind == InboxMessage.Kind.BOUNCE)
    contact = _contact(connection, parsed, occurred_at, row) if parsed.from_email else None
    if contact is not None and conversation.contact_id is None:
        Conversation.objects.filter(pk=conversation.pk).update(contact=contact)
        conversation.contact = contact
    notes = [f"Received {ses_id or 'a message'} from {parsed.from_email or 'an unknown sender'}: {thread.how}."]
    if flags:
        notes.append(f"Flagged: {', '.join(flags)}.")
    if problems:
        notes.append(f"Problems: {' '.join(problems)}")
    if unsubscribe_tokens:
        notes.append(result)
    elif created:
        notes.append(conversation_acknowledge(conversation=conversation, message=row))
    return Received(row, " ".join(note for note in notes if note))


def _conversation(
    connection: AwsConnection, thread: Thread, parsed: ParsedMail, recipients: list[str], occurred_at: datetime
) -> tuple[Conversation, bool]:
    if thread.conversation is not None:
        return thread.conversation, False
    conversation = Conversation.objects.create(
        account_id=connection.account_id,
        connection=connection,
        correspondent=(parsed.reply_to or parsed.from_address)[:998],
        correspondent_email=parsed.reply_to_email or parsed.from_email,
        team_address=_team_address(connection, recipients, parsed),
        subject=parsed.subject,
        started_by_email=thread.answered_email,
        last_message_at=occurred_at,
    )
    return conversation, True


def _conversation_touch(conversation: Conversation, message: InboxMessage, *, automatic: bool) -> None:
    """A new message: the conversation is newest again, flagged when the message is, and a person's mail reopens
    a closed or snoozed one (an auto-reply or a bounce does not)."""
    changes: dict[str, Any] = {"last_message_at": max(conversation.last_message_at, message.occurred_at)}
    if message.flagged:
        changes["flagged"] = True
    if not automatic and conversation.status != Conversation.Status.OPEN:
        changes.update(status=Conversation.Status.OPEN, snoozed_until=None)
    changes["updated_at"] = timezone.now()
    Conversation.objects.filter(pk=conversation.pk).update(**changes)
    for name, value in changes.items():
        setattr(conversation, name, value)
