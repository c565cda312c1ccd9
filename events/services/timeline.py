"""SES events on the timeline: one row per event and recipient, the email's outcome, suppression, contacts."""

import importlib
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q, Subquery
from django.utils import timezone

from emails.models import Email, EmailEvent
from events import parsing
from events.models import SnsNotification
from events.services import outbound, rollups

if TYPE_CHECKING:
    from emails.models import Suppression

logger = logging.getLogger("sesame.events")

# Only these statuses follow SES events; waiting, sending, failed and cancelled emails only get timeline rows.
FOLLOWS_EVENTS = {
    Email.Status.SENT,
    Email.Status.DELAYED,
    Email.Status.DELIVERED,
    Email.Status.BOUNCED,
    Email.Status.COMPLAINED,
    Email.Status.REJECTED,
}
# Per recipient, the strongest outcome wins; an email's status is its strongest recipient outcome.
OUTCOME_OF_EVENT = {
    parsing.DELIVERY_DELAY: "delayed",
    parsing.DELIVERY: "delivered",
    parsing.REJECT: "rejected",
    parsing.SUPPRESSED: "suppressed",
    parsing.BOUNCE: "bounced",
    parsing.COMPLAINT: "complained",
}
RANK = {"sent": 0, "delayed": 1, "delivered": 2, "rejected": 3, "suppressed": 4, "bounced": 4, "complained": 5}
STATUS_OF_OUTCOME = {
    "delayed": Email.Status.DELAYED,
    "delivered": Email.Status.DELIVERED,
    "rejected": Email.Status.REJECTED,
    "suppressed": Email.Status.BOUNCED,  # SES reports it as a bounce; the recipient keeps "suppressed"
    "bounced": Email.Status.BOUNCED,
    "complained": Email.Status.COMPLAINED,
}


def ses_event_record(*, notification: SnsNotification, message: dict[str, Any], replay: bool = False) -> str:
    """Turn one SES payload into timeline rows and everything that follows from them. Returns a summary.

    A replay stores (and acts on) only the recipients this notification has no row for yet, so replaying a
    notification twice, or one processed before, never doubles a row, a webhook, a contact event or a count."""
    parsed = parsing.parse(message)
    notification.event_type = parsed.raw_type[:60]
    notification.ses_message_id = parsed.ses_message_id[:255]
    email = None
    if parsed.ses_message_id:
        email = Email.objects.filter(account_id=notification.account_id, ses_message_id=parsed.ses_message_id).first()
    occurred_at = parsed.occurred_at or notification.sns_timestamp or notification.received_at
    recipients = [recipient[:320] for recipient in parsed.recipients or [""]]
    if replay:
        stored = set(EmailEvent.objects.filter(notification=notification).values_list("recipient", flat=True))
        recipients = [recipient for recipient in recipients if recipient not in stored]
    rows = EmailEvent.objects.bulk_create(
        [
            EmailEvent(
                account=notification.account,
                connection_id=notification.connection_id,
                email=email,
                ses_message_id=parsed.ses_message_id[:255],
                source=EmailEvent.Source.SES,
                event_type=parsed.event_type,
                subtype=parsed.subtype[:80],
                recipient=recipient,
                detail=_detail(parsed, recipient),
                payload=message,
                notification=notification,
                occurred_at=occurred_at,
            )
            for recipient in recipients
        ]
    )
    suppressed = [row.recipient for row in rows if _suppress_if_needed(row, email)]
    for row in rows:
        _contact_append(row, email)
    outbound.webhook_deliveries_create(events=rows, email=email)
    if email is not None:
        email_outcomes_refresh(email_id=email.pk)
    rollups.email_events_rolled_up(
        rows=rows, tags=email.tags if email else [], custom_fields=email.custom_fields if email else {}
    )
    summary = f"{len(rows)} {'new ' if replay else ''}{parsed.event_type} event(s)"
    summary += f" for email {email.pk}" if email else f" for unknown SES message {parsed.ses_message_id or '(none)'}"
    if suppressed:
        summary += f"; suppressed {', '.join(suppressed)}"
    return summary


def _detail(parsed: parsing.ParsedEvent, recipient: str) -> str:
    extra = parsed.recipient_details.get(recipient)
    return f"{parsed.detail}: {extra}" if extra else parsed.detail


# --- the email's outcome -----------------------------------------------------------------------------------


@transaction.atomic
def email_outcomes_refresh(*, email_id: Any) -> Email | None:
    """Recompute recipient outcomes, status, first open/click and counts from the email's SES rows.

    Recomputing from the rows (rather than applying one event) makes out-of-order and repeated events harmless.
    """
    email = Email.objects.select_for_update().filter(pk=email_id).first()
    if email is None or email.status not in FOLLOWS_EVENTS:
        return email
    rows = EmailEvent.objects.filter(email=email, source=EmailEvent.Source.SES)
    outcomes: dict[str, str] = {k: v for k, v in (email.recipient_outcomes or {}).items() if isinstance(v, str)}
    everyone = [parsing.normalise_address(a) for a in email.recipients]
    for event_type, recipient in rows.filter(event_type__in=OUTCOME_OF_EVENT).values_list("event_type", "recipient"):
        outcome = OUTCOME_OF_EVENT[event_type]
        for address in [recipient] if recipient else everyone:
            if RANK[outcome] > RANK.get(outcomes.get(address, "sent"), 0):
                outcomes[address] = outcome
    stats = rows.aggregate(
        delivered_at=Min("occurred_at", filter=Q(event_type=parsing.DELIVERY)),
        opened_at=Min("occurred_at", filter=Q(event_type=parsing.OPEN)),
        clicked_at=Min("occurred_at", filter=Q(event_type=parsing.CLICK)),
        opens=Count("id", filter=Q(event_type=parsing.OPEN)),
        clicks=Count("id", filter=Q(event_type=parsing.CLICK)),
    )
    email.recipient_outcomes = outcomes
    email.delivered_at = stats["delivered_at"] or email.delivered_at
    email.opened_at = stats["opened_at"] or email.opened_at
    email.clicked_at = stats["clicked_at"] or email.clicked_at
    email.open_count = max(email.open_count, stats["opens"])
    email.click_count = max(email.click_count, stats["clicks"])
    strongest = max(outcomes.values(), key=lambda o: RANK.get(o, 0), default="sent")
    if RANK.get(strongest, 0) > RANK.get(str(email.status), 0) and strongest in STATUS_OF_OUTCOME:
        email.status = STATUS_OF_OUTCOME[strongest]
    email.save(
        update_fields=[
            "recipient_outcomes",
            "status",
            "delivered_at",
            "opened_at",
            "clicked_at",
            "open_count",
            "click_count",
        ]
    )
    return email


# --- events that arrived before their email ----------------------------------------------------------------


def email_events_adopt(*, email_id: Any) -> int:
    """Attach events that arrived before this email's SES message id was committed. Returns how many."""
    email = Email.objects.filter(pk=email_id).exclude(ses_message_id=None).first()
    if email is None:
        return 0
    with transaction.atomic():
        adopted = EmailEvent.objects.filter(
            email__isnull=True, account_id=email.account_id, ses_message_id=email.ses_message_id
        ).update(email=email)
        if adopted:
            email_outcomes_refresh(email_id=email.pk)
    return adopted


def orphan_events_adopt(*, limit: int = 500) -> int:
    """The sweep: find emails whose SES message id matches recent unmatched events, and attach them."""
    since = timezone.now() - timedelta(days=settings.SESAME_ORPHAN_EVENT_DAYS)
    orphans = EmailEvent.objects.filter(email__isnull=True, created_at__gte=since).exclude(ses_message_id="")
    matches = Email.objects.filter(ses_message_id__in=Subquery(orphans.values("ses_message_id"))).values_list(
        "pk", flat=True
    )[:limit]
    return sum(email_events_adopt(email_id=pk) for pk in matches)


# --- suppression and the contact's timeline ----------------------------------------------------------------


def _suppress_if_needed(row: EmailEvent, email: Email | None) -> bool:
    reason = _suppression_reason(row)
    if reason is None or row.account is None:
        return False
    from emails.services import suppression_add

    suppression_add(account=row.account, address=row.recipient, reason=reason, source_email=email)
    return True


def _suppression_reason(row: EmailEvent) -> "Suppression.Reason | None":
    from emails.models import Suppression

    if not row.recipient or row.account_id is None:
        return None
    if row.event_type == parsing.COMPLAINT:
        return Suppression.Reason.COMPLAINT
    if row.event_type == parsing.SUPPRESSED or (row.event_type == parsing.BOUNCE and row.subtype == "Permanent"):
        return Suppression.Reason.HARD_BOUNCE
    if row.event_type == parsing.BOUNCE and row.subtype == "Transient":
        since = row.occurred_at - timedelta(days=settings.SESAME_TRANSIENT_BOUNCE_DAYS)
        recent = EmailEvent.objects.filter(
            account_id=row.account_id,
            recipient=row.recipient,
            event_type=parsing.BOUNCE,
            subtype="Transient",
            occurred_at__gte=since,
        ).count()
        if recent >= settings.SESAME_TRANSIENT_BOUNCE_LIMIT:
            return Suppression.Reason.HARD_BOUNCE
    return None


def _contact_append(row: EmailEvent, email: Email | None) -> None:
    if not row.recipient:
        return
    try:
        append = importlib.import_module("contacts.services").contact_timeline_append_for_address
    except (ImportError, AttributeError):  # the contacts app may not offer timelines on this install yet
        return
    hard = row.event_type == parsing.SUPPRESSED or (row.event_type == parsing.BOUNCE and row.subtype == "Permanent")
    status = "bounced" if hard else "complained" if row.event_type == parsing.COMPLAINT else None
    properties = {
        "email_id": str(email.pk) if email else None,
        "subject": email.subject if email else None,
        "ses_message_id": row.ses_message_id,
        "subtype": row.subtype,
        "detail": row.detail,
    }
    try:
        with transaction.atomic():  # a savepoint: a contacts problem must not lose the event itself
            append(
                account_id=row.account_id,
                email=row.recipient,
                name=f"email.{row.event_type}",
                properties=properties,
                occurred_at=row.occurred_at,
                source="email",
                status=status,
            )
    except Exception:
        logger.exception("Contact timeline append failed event=%s", row.pk)
