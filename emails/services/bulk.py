"""Emails that Sesame renders itself for many contacts (broadcasts, automations): stored in batches under a
`client_email_id` each, so a batch stored twice stores nothing twice, and taken back while still waiting.

The caller has checked the sender and the connection once for the whole send; recipient policy (suppression list,
blocked and disposable domains, unsubscribes when the account applies them to all mail) and the billing quota are
checked here, per batch, as at accept. An email the quota no longer allows is stored `failed`, saying so, so a
broadcast shows why it stopped reaching people.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, AwsConnection
from billing.quota import QUOTA_SPENT, QuotaExceeded, usage_reserve
from config.delivery.batches import outbox_store_batch, outbox_withdraw
from emails.addresses import Address
from emails.channel import email_channel
from emails.models import Email, EmailEvent
from emails.policy import RecipientPolicy
from emails.services.accept import sesame_event, suppressed_events


@dataclass(frozen=True)
class BulkEmail:
    client_email_id: str
    to: Address
    subject: str
    html_body: str
    text_body: str
    headers: dict[str, str] = field(default_factory=dict)
    template_version_id: Any = None


@dataclass(frozen=True)
class BulkSender:
    """What every email of one bulk send shares."""

    account: Account
    connection: AwsConnection
    from_address: str
    reply_to: str
    priority: int
    tags: list[str]
    custom_fields: dict[str, Any]


def emails_enqueue_bulk(*, sender: BulkSender, items: Sequence[BulkEmail]) -> dict[str, uuid.UUID]:
    """Store and queue one email per item, in the caller's transaction. Returns client_email_id -> email id for
    every item: the new email's, or the one that already held that client_email_id."""
    if not items:
        return {}
    now = timezone.now()
    policy = RecipientPolicy(account=sender.account, addresses=[item.to for item in items])
    rows = []
    for item in items:
        email = Email(
            account=sender.account,
            connection=sender.connection,
            client_email_id=item.client_email_id,
            from_address=sender.from_address,
            to_address=item.to.formatted(),
            to_email=item.to.key,
            reply_to=sender.reply_to,
            subject=item.subject,
            html_body=item.html_body,
            text_body=item.text_body,
            headers=item.headers,
            tags=sender.tags,
            custom_fields=sender.custom_fields,
            priority=sender.priority,
            send_at=now,
            status=Email.Status.QUEUED,
            template_version_id=item.template_version_id,
        )
        reason = policy.drop_reason(item.to)
        if reason is not None:
            email.dropped_recipients = [{"address": item.to.email, "reason": reason}]
            email.status = Email.Status.SUPPRESSED
        rows.append(email)
    with transaction.atomic():
        reserved = _reserve(sender.account, rows, now)
        kept, holders = outbox_store_batch(
            rows,
            channel=email_channel,
            account_id=sender.account.pk,
            client_id_field="client_email_id",
            timeline=lambda kept: [*suppressed_events(kept), *_quota_events(kept)],
            reserved=reserved,
        )
    stored = {email.client_email_id: email.pk for email in kept}
    return {item.client_email_id: stored.get(item.client_email_id) or holders[item.client_email_id] for item in items}


def _reserve(account: Account, rows: Sequence[Email], now: datetime) -> list[uuid.UUID]:
    """Quota units for the queued rows, in order; those it no longer allows become `failed`. Returns the ids
    that hold a unit."""
    queued = [email.pk for email in rows if email.status == Email.Status.QUEUED]
    try:
        granted = usage_reserve(account_id=account.pk, channel="email", message_ids=queued, partial=True)
        reason = QUOTA_SPENT
    except QuotaExceeded as exc:
        granted, reason = [], str(exc.detail)
    allowed = set(granted)
    for email in rows:
        if email.status == Email.Status.QUEUED and email.pk not in allowed:
            email.status, email.failure_reason = Email.Status.FAILED, f"not sent: {reason}"
    return granted


def _quota_events(emails: Sequence[Email]) -> list[EmailEvent]:
    failed = [email for email in emails if email.status == Email.Status.FAILED]
    return [sesame_event(email, "failed", email.failure_reason) for email in failed]


def emails_withdraw(*, email_ids: Sequence[Any], reason: str) -> set[uuid.UUID]:
    """Cancel those of these emails that are still waiting (see `outbox_withdraw`); returns their ids."""
    return outbox_withdraw(channel=email_channel, ids=email_ids, client_id_field="client_email_id", reason=reason)
