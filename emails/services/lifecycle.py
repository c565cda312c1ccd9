"""Moving emails along after accept: cancel, resend, requeue, prune old bodies (the delivery engine does the rest)."""

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account
from billing.quota import usage_release
from config.api.errors import UnprocessableEntity, error_entry
from config.delivery.services import delivery_announce
from emails.models import Email, EmailEvent
from emails.services.accept import email_accept


class NotCancellable(Exception):
    pass


@transaction.atomic
def email_cancel(*, email: Email) -> Email:
    if not Email.objects.filter(pk=email.pk, status__in=Email.WAITING).update(status=Email.Status.CANCELLED):
        email.refresh_from_db(fields=["status"])
        raise NotCancellable(f"The email is {email.status}; only scheduled or queued emails can be cancelled.")
    usage_release(channel="email", message_ids=[email.pk])
    EmailEvent.objects.create(
        account_id=email.account_id,
        email=email,
        connection_id=email.connection_id,
        source=EmailEvent.Source.SESAME,
        event_type="cancelled",
        detail="cancelled before sending",
        occurred_at=timezone.now(),
    )
    email.status = Email.Status.CANCELLED
    return email


@transaction.atomic
def email_requeue(*, email_id: Any, by: str = "an operator") -> bool:
    """A failed email goes back to the queue with its attempts reset, keeping its priority and due time (so it
    goes out before what was accepted after it). Only a `failed` email moves, so a second run, or a worker
    sending meanwhile, changes nothing. Returns whether it moved."""
    email = Email.objects.select_for_update().filter(pk=email_id, status=Email.Status.FAILED).first()
    if email is None:
        return False
    previous = email.failure_reason
    Email.objects.filter(pk=email.pk).update(status=Email.Status.QUEUED, attempts=0, failure_reason="", claimed_at=None)
    EmailEvent.objects.create(
        account_id=email.account_id,
        email=email,
        connection_id=email.connection_id,
        source=EmailEvent.Source.SESAME,
        event_type="requeued",
        detail=f"requeued by {by} after: {previous}" if previous else f"requeued by {by}",
        occurred_at=timezone.now(),
    )
    delivery_announce(channel="email", connection_ids=[email.connection_id])
    return True


def email_resend(*, email: Email) -> Email:
    """A new email with the logged one's content, sent now through the same connection, linked to it."""
    if email.body_pruned_at is not None:
        raise UnprocessableEntity(
            [
                error_entry(
                    ["path", "id"],
                    "this email's body is no longer stored (plan storage limit); it cannot be resent",
                    "value_error.pruned",
                )
            ]
        )
    data = {
        "from": email.from_address,
        "to": email.to_address,
        "cc": email.cc,
        "bcc": email.bcc,
        "subject": email.subject,
        "html_body": email.html_body,
        "text_body": email.text_body,
        "custom_fields": email.custom_fields,
        "tags": email.tags,
        "priority": email.priority,
        "config_identifier": email.connection.identifier,
        "headers": email.headers,
        "attachments": email.attachments or [],
    }
    if email.reply_to:
        data["reply_to"] = email.reply_to
    data = {key: value for key, value in data.items() if value not in (None, "", [], {})}
    with transaction.atomic():
        copy = email_accept(account=email.account, data=data)
        # The copy has the same bodies, so it was rendered from the same template version.
        Email.objects.filter(pk=copy.pk).update(resent_from=email, template_version=email.template_version_id)
        EmailEvent.objects.create(
            account_id=email.account_id,
            email=email,
            connection_id=email.connection_id,
            source=EmailEvent.Source.SESAME,
            event_type="resent",
            detail=f"resent as {copy.pk}",
            occurred_at=timezone.now(),
        )
    copy.resent_from = email
    copy.template_version_id = email.template_version_id
    return copy


def email_bodies_prune(*, batch_size: int = 5000) -> int:
    """Keep bodies of each account's newest N emails (N = the plan's storage limit); older ones keep metadata
    and timeline only."""
    pruned = 0
    now = timezone.now()
    for account in Account.objects.select_related("plan"):
        cutoff = (
            Email.objects.filter(account=account)
            .order_by("-created_at")
            .values_list("created_at", flat=True)[
                account.plan.email_storage_limit : account.plan.email_storage_limit + 1
            ]
        )
        boundary = next(iter(cutoff), None)
        if boundary is None:
            continue
        while True:
            ids = list(
                Email.objects.filter(account=account, created_at__lte=boundary, body_pruned_at__isnull=True)
                .exclude(Q(status__in=[*Email.WAITING, Email.Status.SENDING]))
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            pruned += Email.objects.filter(pk__in=ids).update(
                html_body=None, text_body=None, attachments=None, body_pruned_at=now
            )
    return pruned
