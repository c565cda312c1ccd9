"""The columns every channel's outbox table shares, so the engine can claim, pace and settle any of them.

A channel's model inherits `OutboxMessage` and adds `id` (UUID), `account`, `connection` (to
accounts.AwsConnection), `status` (with at least the values in `OutboxStatus`), a provider message id column, and
the indexes from `outbox_indexes()`.
"""

from django.db import models
from django.db.models import Q


class OutboxStatus:
    """Status values the engine reads and writes; each channel's Status choices include these."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPPRESSED = "suppressed"
    WAITING = (SCHEDULED, QUEUED)


class OutboxMessage(models.Model):
    priority = models.PositiveSmallIntegerField(default=50, help_text="1 is the most urgent, 100 the least.")
    send_at = models.DateTimeField(help_text="When the message becomes due: its schedule, or when it was accepted.")
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a sender took it.")
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    cost = models.PositiveSmallIntegerField(
        default=1, help_text="Rate units this message takes from its connection's send bucket (SES: recipients)."
    )
    failure_reason = models.TextField(blank=True)

    class Meta:
        abstract = True


def outbox_indexes(prefix: str) -> list[models.Index]:
    """The indexes the engine's statements need: the claim, the tick's lane scan, the scheduled release and the
    sweeper's stale `sending` scan."""
    waiting = Q(status__in=list(OutboxStatus.WAITING))
    return [
        models.Index(
            fields=["connection", "priority", "send_at"], condition=waiting, name=f"{prefix}_waiting_by_priority"
        ),
        models.Index(fields=["connection", "send_at"], condition=waiting, name=f"{prefix}_waiting_by_due"),
        models.Index(fields=["send_at"], condition=Q(status=OutboxStatus.SCHEDULED), name=f"{prefix}_scheduled_due"),
        models.Index(fields=["claimed_at"], condition=Q(status=OutboxStatus.SENDING), name=f"{prefix}_sending_claimed"),
    ]
