"""Reads of broadcasts, always within one account, and their progress from the ledger and its messages."""

from datetime import datetime, timedelta
from typing import Any

from django.db import connection as db
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Account
from events.broadcasts.channels import broadcast_channel
from events.broadcasts.models import Broadcast, BroadcastRecipient

# What a message's status (a push's: see PushBroadcastChannel.outcome_sql) says about the broadcast's progress.
_SENT = {"sent", "delivered", "delayed", "bounced", "complained"}
_FAILED = {"failed", "rejected"}
_WAITING = {"scheduled", "queued", "sending"}


def broadcast_list(*, account: Account) -> QuerySet[Broadcast]:
    return Broadcast.objects.filter(account=account)


def broadcast_progress(*, broadcast: Broadcast, now: datetime | None = None) -> dict[str, Any]:
    """Counts over the ledger joined to its messages (one query), and an ETA at the channel's current rate.
    `suppressed` counts contacts left out (the ledger's reasons, in `excluded`) and messages the channel's policy
    dropped (suppression list, SMS opt-outs). Opens and clicks are email's only (null for SMS and push)."""
    channel = broadcast_channel(broadcast.channel)
    join, message_status, opened, clicked = channel.outcome_sql()
    sql = f"""
        SELECT row_status, reason, message_status, count(*), count(opened), count(clicked) FROM (
            SELECT l.status AS row_status, l.reason AS reason, {message_status} AS message_status,
                {opened} AS opened, {clicked} AS clicked
            FROM {BroadcastRecipient._meta.db_table} AS l {join}
            WHERE l.broadcast_id = %s
        ) AS outcome
        GROUP BY row_status, reason, message_status
    """  # noqa: S608
    progress = {"audience": 0, "to_send": 0, "sent": 0, "failed": 0, "suppressed": 0, "cancelled": 0}
    opens = clicks = 0
    excluded: dict[str, int] = {}
    broadcast_id = BroadcastRecipient._meta.get_field("broadcast").get_db_prep_value(broadcast.pk, db)
    with db.cursor() as cursor:
        cursor.execute(sql, [broadcast_id])
        for row_status, reason, message_status, count, was_opened, was_clicked in cursor.fetchall():
            progress["audience"] += count
            opens, clicks = opens + was_opened, clicks + was_clicked
            if row_status == BroadcastRecipient.Status.EXCLUDED:
                excluded[reason] = excluded.get(reason, 0) + count
                progress["suppressed"] += count
            elif row_status == BroadcastRecipient.Status.PENDING or message_status in _WAITING:
                progress["to_send"] += count
            elif row_status == BroadcastRecipient.Status.FAILED or message_status in _FAILED:
                progress["failed"] += count
            elif message_status == "suppressed":
                progress["suppressed"] += count
            elif message_status in _SENT:
                progress["sent"] += count
            else:  # cancelled rows, and messages withdrawn by a cancel
                progress["cancelled"] += count
    rate = channel.rate(broadcast)
    eta = None
    if broadcast.status == Broadcast.Status.SENDING and rate > 0:
        eta = (now or timezone.now()) + timedelta(seconds=progress["to_send"] / rate)
    return {
        **progress,
        "excluded": dict(sorted(excluded.items())),
        "opens": opens if channel.tracks_opens else None,
        "clicks": clicks if channel.tracks_opens else None,
        "send_rate": rate,
        "eta": eta,
    }
