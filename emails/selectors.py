"""Reads of the emails app."""

from dataclasses import dataclass
from datetime import datetime

from emails.models import Email, EmailEvent


@dataclass(frozen=True)
class TimelineEntry:
    """One line of an email's timeline: a milestone from the email's own fields, or a stored event."""

    type: str
    occurred_at: datetime
    detail: str
    event: EmailEvent | None = None

    @property
    def source(self) -> str:
        return self.event.source if self.event else EmailEvent.Source.SESAME

    @property
    def subtype(self) -> str:
        return self.event.subtype if self.event else ""

    @property
    def recipient(self) -> str:
        return self.event.recipient if self.event else ""


def email_timeline(email: Email) -> list[TimelineEntry]:
    """Sesame's milestones (accepted, scheduled, sent) merged with the stored events, oldest first: what the API's
    `timeline` and the admin's email page both show. Uses `email.events.all()`, so prefetch it for many emails."""
    entries = [TimelineEntry("accepted", email.created_at, f"priority {email.priority}")]
    if email.scheduled_for:
        entries.append(TimelineEntry("scheduled", email.created_at, f"for {email.scheduled_for.isoformat()}"))
    if email.sent_at:
        entries.append(TimelineEntry("sent", email.sent_at, f"SES message id {email.ses_message_id}"))
    entries.extend(TimelineEntry(e.event_type, e.occurred_at, e.detail, e) for e in email.events.all())
    return sorted(entries, key=lambda entry: entry.occurred_at)
