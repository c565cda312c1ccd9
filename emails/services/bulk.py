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
from django.db.models import CharField, F, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from accounts.models import Account, AwsConnection
from billing.quota import QUOTA_SPENT, QuotaExceeded, usage_release, usage_reserve
from config.delivery.rows import outbox_store_new
from config.delivery.services import delivery_announce
from emails.addresses import Address
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
        kept, holders = outbox_store_new(rows, account_id=sender.account.pk, client_id_field="client_email_id")
        kept_ids = {email.pk for email in kept}
        usage_release(channel="email", message_ids=[pk for pk in reserved if pk not in kept_ids])
        EmailEvent.objects.bulk_create([*suppressed_events(kept), *_quota_events(kept)])
        if any(email.status == Email.Status.QUEUED for email in kept):
            delivery_announce(channel="email", connection_ids=[sender.connection.pk])
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
    """Cancel those of these emails that are still waiting (never handed to a sender), in the caller's
    transaction; returns their ids. Their client_email_id gets a suffix, so the same item can be stored again
    later. An email a sender claimed meanwhile is `sending` and stays: the lock below waits for the claim, and then
    the row no longer matches. So a withdrawn email was never sent and never will be."""
    if not email_ids:
        return set()
    with transaction.atomic():
        found = list(
            Email.objects.select_for_update()
            .filter(pk__in=list(email_ids), status__in=Email.WAITING)
            .only("pk", "account_id", "connection_id")
        )
        Email.objects.filter(pk__in=[email.pk for email in found]).update(
            status=Email.Status.CANCELLED,
            client_email_id=Concat(F("client_email_id"), Value("~withdrawn~"), Cast(F("id"), CharField())),
        )
        now = timezone.now()
        EmailEvent.objects.bulk_create(
            EmailEvent(
                account_id=email.account_id,
                email_id=email.pk,
                connection_id=email.connection_id,
                source=EmailEvent.Source.SESAME,
                event_type="cancelled",
                detail=reason,
                occurred_at=now,
            )
            for email in found
        )
    return {email.pk for email in found}
