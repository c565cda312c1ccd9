"""Received mail for the team inbox tests: AWS's sample SES "Received" notification, carrying crafted MIME, posted
through the signed SNS webhook exactly as SNS delivers it (moto does not deliver inbound mail)."""

import copy
import uuid
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

from tests.events.conftest import fixture_payload

SAMPLE = "ses-inbound/received-1.json"


def received(
    raw: bytes | None = None,
    *,
    recipients: list[str] | None = None,
    ses_message_id: str | None = None,
    verdicts: dict[str, str] | None = None,
    action: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """AWS's sample notification, with its content, recipients, id and verdicts replaced where given."""
    payload = copy.deepcopy(fixture_payload(SAMPLE))
    if raw is not None:
        payload["content"] = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw
    if recipients is not None:
        payload["receipt"]["recipients"] = recipients
        payload["mail"]["destination"] = recipients
    payload["mail"]["messageId"] = ses_message_id or uuid.uuid4().hex
    for name, status in (verdicts or {}).items():
        payload["receipt"][f"{name}Verdict"] = {"status": status}
    if action is not None:
        payload["receipt"]["action"] = action
        payload.pop("content", None)
    return payload


def mime(
    *,
    sender: str = "Ada Lovelace <ada@customer.test>",
    to: str = "support@example.com",
    subject: str = "Where is my order?",
    text: str | None = "Hello, order 1234 has not arrived.",
    html: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
    charset: str = "utf-8",
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Mon, 30 Nov 2026 09:00:00 +0000"
    message["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@customer.test>"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    if text is not None:
        message.set_content(text, charset=charset, cte="quoted-printable" if charset != "utf-8" else None)
    if html is not None:
        if text is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes(policy=SMTP)


def conversation_for(account: Any, raw: bytes | None = None, **kwargs: Any) -> Any:
    """A conversation of `account`, received through the inbound service (as the webhook's worker calls it)."""
    from django.utils import timezone

    from emails.inbox.services import inbound_receive
    from tests.emails.factories import sending_connection

    connection = account.aws_connections.filter(identifier="inbox").first() or sending_connection(
        account, identifier="inbox", is_default=not account.aws_connections.exists()
    )
    payload = received(raw if raw is not None else mime(), **kwargs)
    message = inbound_receive(connection=connection, message=payload, received_at=timezone.now()).message
    assert message is not None and message.conversation is not None
    return message.conversation
