"""Reads of broadcasts, always within one account, and their progress from the ledger and its emails."""

from datetime import datetime, timedelta
from typing import Any

from django.db import connection as db
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Account
from emails.models import Email
from events.broadcasts.channels import broadcast_channel
from events.broadcasts.models import Broadcast, BroadcastRecipient

# What an email's status says about the broadcast's progress.
_SENT = {"sent", "delivered", "delayed", "bounced", "complained"}
_FAILED = {"failed", "rejected"}
_WAITING = {"scheduled", "queued", "sending"}


def broadcast_list(*, account: Account) -> QuerySet[Broadcast]:
    return Broadcast.objects.filter(account=account)


def broadcast_progress(*, broadcast: Broadcast, now: datetime | None = None) -> dict[str, Any]:
    """Counts over the ledger joined to its emails (one query), and an ETA at the connection's current rate.
    `suppressed` counts contacts left out (the ledger's reasons, in `excluded`) and emails the policy dropped."""
    ledger, emails = BroadcastRecipient._meta.db_table, Email._meta.db_table
    sql = f"""
        SELECT l.status, l.reason, e.status, count(*), count(e.opened_at), count(e.clicked_at)
        FROM {ledger} AS l LEFT JOIN {emails} AS e ON e.id = l.email_id
        WHERE l.broadcast_id = %s
        GROUP BY l.status, l.reason, e.status
    """  # noqa: S608
    progress = {"audience": 0, "to_send": 0, "sent": 0, "failed": 0, "suppressed": 0, "cancelled": 0}
    opens = clicks = 0
    excluded: dict[str, int] = {}
    broadcast_id = BroadcastRecipient._meta.get_field("broadcast").get_db_prep_value(broadcast.pk, db)
    with db.cursor() as cursor:
        cursor.execute(sql, [broadcast_id])
        for row_status, reason, email_status, count, opened, clicked in cursor.fetchall():
            progress["audience"] += count
            opens, clicks = opens + opened, clicks + clicked
            if row_status == BroadcastRecipient.Status.EXCLUDED:
                excluded[reason] = excluded.get(reason, 0) + count
                progress["suppressed"] += count
            elif row_status == BroadcastRecipient.Status.PENDING or email_status in _WAITING:
                progress["to_send"] += count
            elif row_status == BroadcastRecipient.Status.FAILED or email_status in _FAILED:
                progress["failed"] += count
            elif email_status == "suppressed":
                progress["suppressed"] += count
            elif email_status in _SENT:
                progress["sent"] += count
            else:  # cancelled rows, and emails withdrawn by a cancel
                progress["cancelled"] += count
    rate = broadcast_channel(broadcast.channel).rate(broadcast.connection)
    eta = None
    if broadcast.status == Broadcast.Status.SENDING and rate > 0:
        eta = (now or timezone.now()) + timedelta(seconds=progress["to_send"] / rate)
    return {
        **progress,
        "excluded": dict(sorted(excluded.items())),
        "opens": opens,
        "clicks": clicks,
        "send_rate": rate,
        "eta": eta,
    }
