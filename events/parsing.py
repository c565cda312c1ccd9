"""SES payloads, read into timeline rows. Pure functions: no database, no AWS.

Two formats arrive: configuration-set event publishing (`eventType`) and the older identity notifications
(`notificationType`). Both are read here into the same shape. A type or field Sesame does not know is kept
as it came, never an error.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

# Event types as Sesame names them (timeline rows, outbound webhooks, API).
SEND = "send"
DELIVERY = "delivery"
BOUNCE = "bounce"
SUPPRESSED = "suppressed"  # a bounce because the address is on the SES account-level suppression list
COMPLAINT = "complaint"
REJECT = "reject"
OPEN = "open"
CLICK = "click"
RENDERING_FAILURE = "rendering_failure"
DELIVERY_DELAY = "delivery_delay"
SUBSCRIPTION = "subscription"

KNOWN_TYPES = (
    SEND,
    DELIVERY,
    BOUNCE,
    SUPPRESSED,
    COMPLAINT,
    REJECT,
    OPEN,
    CLICK,
    RENDERING_FAILURE,
    DELIVERY_DELAY,
    SUBSCRIPTION,
)

_SES_TYPES = {
    "send": SEND,
    "delivery": DELIVERY,
    "bounce": BOUNCE,
    "complaint": COMPLAINT,
    "reject": REJECT,
    "open": OPEN,
    "click": CLICK,
    "rendering failure": RENDERING_FAILURE,
    "renderingfailure": RENDERING_FAILURE,
    "deliverydelay": DELIVERY_DELAY,
    "subscription": SUBSCRIPTION,
}
# Where each event type keeps its own details (and timestamp) in the payload.
_DETAIL_KEYS = {
    SEND: "send",
    DELIVERY: "delivery",
    BOUNCE: "bounce",
    COMPLAINT: "complaint",
    REJECT: "reject",
    OPEN: "open",
    CLICK: "click",
    RENDERING_FAILURE: "failure",
    DELIVERY_DELAY: "deliveryDelay",
    SUBSCRIPTION: "subscription",
}


@dataclass(frozen=True)
class ParsedEvent:
    event_type: str
    raw_type: str
    ses_message_id: str
    recipients: list[str]
    occurred_at: datetime | None
    subtype: str = ""
    detail: str = ""
    # Per-recipient detail lines (bounce status and diagnostic code), keyed by recipient.
    recipient_details: dict[str, str] = field(default_factory=dict)


def is_ses_payload(message: Any) -> bool:
    """An SES sending event. Received mail (notificationType "Received") is not one: the team inbox reads it."""
    return (
        isinstance(message, dict)
        and ("eventType" in message or "notificationType" in message)
        and message.get("notificationType") != "Received"
    )


def is_alarm_payload(message: Any) -> bool:
    return isinstance(message, dict) and "AlarmName" in message and "NewStateValue" in message


def normalise_address(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    return parseaddr(value)[1].strip().lower() or value.strip().lower()


def _type_name(raw: str) -> str:
    known = _SES_TYPES.get(raw.strip().lower())
    if known:
        return known
    slug = re.sub(r"[^a-z0-9]+", "_", raw.strip().lower()).strip("_")
    return (slug or "unknown")[:40]


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _addresses(items: Any, key: str | None = None) -> list[str]:
    if not isinstance(items, list):
        return []
    found = [normalise_address(_dict(item).get(key) if key else item) for item in items]
    return list(dict.fromkeys(a for a in found if a))  # de-duplicated, order kept


def parse(message: dict[str, Any]) -> ParsedEvent:
    raw_type = str(message.get("eventType") or message.get("notificationType") or "")
    event_type = _type_name(raw_type)
    mail = _dict(message.get("mail"))
    details = _dict(message.get(_DETAIL_KEYS.get(event_type, ""), {}))
    destination = _addresses(mail.get("destination"))
    ses_message_id = str(mail.get("messageId") or "")
    occurred_at = _timestamp(details.get("timestamp")) or _timestamp(mail.get("timestamp"))

    def make(
        event_type: str,
        recipients: list[str],
        detail: str,
        subtype: str = "",
        recipient_details: dict[str, str] | None = None,
    ) -> ParsedEvent:
        return ParsedEvent(
            event_type=event_type,
            raw_type=raw_type,
            ses_message_id=ses_message_id,
            recipients=recipients,
            occurred_at=occurred_at,
            subtype=subtype,
            detail=detail,
            recipient_details=recipient_details or {},
        )

    if event_type == BOUNCE:
        bounced = details.get("bouncedRecipients")
        bounce_type = str(details.get("bounceType") or "Undetermined")
        sub_type = str(details.get("bounceSubType") or "")
        per_recipient = {}
        for item in bounced if isinstance(bounced, list) else []:
            address = normalise_address(_dict(item).get("emailAddress"))
            parts = [str(_dict(item).get(k)) for k in ("status", "diagnosticCode") if _dict(item).get(k)]
            if address:
                per_recipient[address] = " ".join(parts)
        if sub_type == "OnAccountSuppressionList":
            return make(
                event_type=SUPPRESSED,
                recipients=_addresses(bounced, "emailAddress"),
                subtype=sub_type,
                detail="On the SES account-level suppression list: not sent, not counted toward the bounce rate.",
            )
        return make(
            event_type=BOUNCE,
            recipients=_addresses(bounced, "emailAddress"),
            subtype=bounce_type,
            detail=f"{bounce_type} bounce ({sub_type or 'no subtype'})",
            recipient_details=per_recipient,
        )
    if event_type == COMPLAINT:
        feedback = str(details.get("complaintFeedbackType") or "")
        return make(
            event_type=COMPLAINT,
            recipients=_addresses(details.get("complainedRecipients"), "emailAddress"),
            subtype=feedback,
            detail=f"Complaint ({feedback or 'no feedback type'})",
        )
    if event_type == DELIVERY:
        return make(
            event_type=DELIVERY,
            recipients=_addresses(details.get("recipients")) or destination,
            detail=str(details.get("smtpResponse") or "Delivered"),
        )
    if event_type == DELIVERY_DELAY:
        delayed = details.get("delayedRecipients")
        per_recipient = {
            normalise_address(_dict(i).get("emailAddress")): str(_dict(i).get("diagnosticCode") or "")
            for i in (delayed if isinstance(delayed, list) else [])
        }
        delay_type = str(details.get("delayType") or "")
        return make(
            event_type=DELIVERY_DELAY,
            recipients=_addresses(delayed, "emailAddress") or destination,
            subtype=delay_type,
            detail=f"Delivery delayed ({delay_type or 'unspecified'}); SES keeps trying until "
            f"{details.get('expirationTime') or 'it expires'}",
            recipient_details=per_recipient,
        )
    if event_type in (OPEN, CLICK):
        # SES cannot tell which recipient opened; a single-recipient email is the common, unambiguous case.
        detail = str(details.get("link") or "") if event_type == CLICK else str(details.get("userAgent") or "")
        return make(
            event_type=event_type,
            recipients=destination[:1] if len(destination) == 1 else [""],
            detail=detail or event_type.title(),
        )
    if event_type == REJECT:
        return make(
            event_type=REJECT,
            recipients=destination or [""],
            detail=f"Rejected by SES: {details.get('reason') or 'no reason given'}",
        )
    if event_type == RENDERING_FAILURE:
        return make(
            event_type=RENDERING_FAILURE,
            recipients=destination or [""],
            detail=str(details.get("errorMessage") or "Template rendering failed"),
        )
    if event_type == SUBSCRIPTION:
        new = _dict(details.get("newTopicPreferences"))
        text = "Unsubscribed from all topics" if new.get("unsubscribeAll") else "Subscription preferences changed"
        return make(event_type=SUBSCRIPTION, recipients=destination or [""], detail=f"{text} ({details.get('source')})")
    if event_type == SEND:
        return make(event_type=SEND, recipients=destination or [""], detail="Accepted by SES")
    return make(
        event_type=event_type,
        recipients=destination or [""],
        detail=f"SES event type {raw_type or '(none)'!r} is not one Sesame knows; kept as received.",
    )
