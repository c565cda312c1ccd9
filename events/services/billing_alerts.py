"""Billing's usage alerts, sent: billing records each crossing of 80, 90 and 100% of a period's included emails
(once per period and threshold); here each one becomes an email to the account's owner, through Sesame itself, and a
`billing.usage_alert` webhook event. Claimed with a row lock and stamped in the same transaction, so on any number
of hosts each alert is sent once."""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from billing.models import UsageAlert
from emails.services.notices import owner_notify
from events.services.outbound import webhook_account_event_emit

logger = logging.getLogger("sesame.events")


def _notice(alert: UsageAlert) -> tuple[str, str]:
    period = alert.period
    last_day = period.ends_on - timedelta(days=1)
    if alert.threshold >= 100:
        headline = "has used all the emails its plan includes"
    else:
        headline = f"has used {alert.threshold}% of the emails its plan includes"
    subject = f"Sesame: {alert.account.name} {headline}"
    plan = period.subscription.plan
    if plan.overage_price_per_1000 is None:
        after = f"The {plan.name} plan has no overage: once they are used, new emails are refused (402)"
    else:
        after = (
            f"Past them, each email costs ${plan.overage_price_per_1000.normalize():f} per 1,000 on the {plan.name} "
            "plan, up to any overage cap you set"
        )
    text = (
        f"{alert.account.name} has sent {alert.emails_used:,} of the {alert.included_emails:,} emails included in "
        f"its billing period {period.starts_on:%b %-d} to {last_day:%b %-d, %Y} ({alert.threshold}%).\n\n"
        f"{after}, until the period renews on {period.ends_on:%b %-d, %Y}.\n\n"
        "See GET /v1/billing, or change plan with POST /v1/billing/change-plan."
    )
    return subject, text


def billing_alerts_send(*, limit: int = 100) -> int:
    """Send the alerts not yet sent, oldest first, each in its own transaction. Returns how many were sent."""
    sent = 0
    for _ in range(limit):
        with transaction.atomic():
            alert = (
                UsageAlert.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("account", "period__subscription__plan")
                .filter(notified_at=None)
                .order_by("crossed_at")
                .first()
            )
            if alert is None:
                return sent
            subject, text = _notice(alert)
            email_id, why_not = owner_notify(account=alert.account, subject=subject, text=text)
            webhook_account_event_emit(
                account_id=alert.account_id,
                event_type="billing.usage_alert",
                payload={
                    "id": str(alert.pk),
                    "occurred_at": alert.crossed_at.isoformat().replace("+00:00", "Z"),
                    "threshold": alert.threshold,
                    "emails_used": alert.emails_used,
                    "included_emails": alert.included_emails,
                    "period_start": alert.period.starts_on.isoformat(),
                    "period_end": (alert.period.ends_on - timedelta(days=1)).isoformat(),
                },
            )
            notice = f"Emailed the owner (email {email_id})." if email_id else why_not
            UsageAlert.objects.filter(pk=alert.pk).update(notified_at=timezone.now(), notice=notice)
            sent += 1
    return sent
