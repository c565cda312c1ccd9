"""Closing periods: exactly once (twice, or from two hosts at once), the next period opens, cancelling ends sending
at the period's end, and the operators' commands."""

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from billing.models import BillingPeriod, Invoice, Subscription
from billing.services import period_close, periods_close_due, subscription_cancel
from billing.tasks import close_billing_periods
from tests.billing.factories import subscribed, use
from tests.emails.factories import email_body, sending_connection


def _ended_subscription(**kwargs) -> Subscription:
    """A subscription whose first period ended today."""
    today = timezone.now().date()
    started = today.replace(day=1) - timedelta(days=1)
    started = started.replace(day=min(today.day, 28))
    subscription = subscribed(started_on=started, **kwargs)
    BillingPeriod.objects.filter(subscription=subscription).update(ends_on=today)
    return subscription


@pytest.mark.django_db
def test_closing_a_period_twice_issues_one_invoice_and_opens_the_next():
    subscription = subscribed(plan_slug="paid", started_on=date(2026, 4, 1))
    first = period_close(period_id=subscription.periods.get().pk, now=datetime(2026, 5, 1, 0, 5, tzinfo=UTC))
    assert first is not None and first.number is not None
    again = period_close(period_id=first.period_id, now=datetime(2026, 5, 1, 0, 10, tzinfo=UTC))
    assert again is None
    assert Invoice.objects.filter(account=subscription.account).count() == 1
    assert first.status == "open" and first.number.startswith("SES-202605-")
    assert list(subscription.periods.values_list("starts_on", "status")) == [
        (date(2026, 5, 1), "open"),
        (date(2026, 4, 1), "closed"),
    ]


@pytest.mark.django_db(transaction=True)
def test_two_hosts_closing_at_once_issue_one_invoice():
    subscription = _ended_subscription(plan_slug="paid")
    results: list[int] = []
    start = threading.Barrier(2)

    def host() -> None:
        start.wait()
        try:
            results.append(len(periods_close_due()))
        finally:
            connection.close()

    threads = [threading.Thread(target=host) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [0, 1]
    assert Invoice.objects.filter(account=subscription.account).count() == 1
    assert close_billing_periods() == 0  # beat's task, later: nothing left to close


@pytest.mark.django_db
def test_a_period_not_yet_ended_is_left_open():
    subscription = subscribed(plan_slug="paid", started_on=timezone.now().date())
    assert periods_close_due() == []
    assert subscription.periods.get().status == "open"


@pytest.mark.django_db
def test_cancel_takes_effect_at_period_end_and_keeps_the_data(api):
    subscription = _ended_subscription(plan_slug="paid")
    account = subscription.account
    sending_connection(account)
    client = api(account)
    BillingPeriod.objects.filter(subscription=subscription).update(ends_on=timezone.now().date() + timedelta(days=3))
    cancelled = client.post("/v1/billing/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["cancel_at_period_end"] is True
    assert client.post("/v1/emails", email_body(), format="json").status_code == 200  # until the period ends
    BillingPeriod.objects.filter(subscription=subscription).update(ends_on=timezone.now().date())
    refused = client.post("/v1/emails", email_body(), format="json")
    assert refused.status_code == 402
    assert "cancelled" in refused.json()["detail"]
    [invoice] = periods_close_due()
    assert invoice.emails_used == 1
    subscription.refresh_from_db()
    assert (subscription.status, subscription.cancelled_on) == ("cancelled", timezone.now().date())
    assert client.get("/v1/emails").json()["results"][0]["status"] == "queued"  # data stays, reads work
    assert client.get("/v1/billing").json()["status"] == "cancelled"


@pytest.mark.django_db
def test_close_billing_periods_command_dry_run_changes_nothing():
    from io import StringIO

    subscription = _ended_subscription(plan_slug="paid", name="Dry Run Co")
    use(subscription.account, 150_000)
    out = StringIO()
    call_command("close_billing_periods", "--dry-run", stdout=out)
    assert "would close Dry Run Co" in out.getvalue() and "invoice total 62.20 USD" in out.getvalue()
    assert not Invoice.objects.exists()
    out = StringIO()
    call_command("close_billing_periods", stdout=out)
    assert "1 period(s) closed." in out.getvalue()
    assert Invoice.objects.get().total == Decimal("62.20")


@pytest.mark.django_db
def test_billing_report_lists_the_months_periods_with_invoices_and_projections():
    from io import StringIO

    from django.core.management.base import CommandError

    closed = subscribed(plan_slug="paid", started_on=date(2026, 4, 1), name="Closed Co")
    use(closed.account, 150_000)
    period_close(period_id=closed.periods.get().pk, now=datetime(2026, 5, 1, 1, tzinfo=UTC))
    subscribed(plan_slug="starter", started_on=date(2026, 4, 15), name="Open Co")
    out = StringIO()
    call_command("billing_report", "--period", "2026-04", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("Closed Co\tpaid\t2026-04-01..2026-05-01\t150000/128000\t0\t0\tSES-")
    assert lines[1].endswith("\topen\t62.20")
    assert lines[2].endswith("\t-\tprojected\t19.00")
    assert lines[-1] == "2 period(s); total 81.20 USD (void invoices not counted)"
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("billing_report", "--period", "2026-13")


@pytest.mark.django_db
def test_cancel_service_is_idempotent():
    subscription = subscribed(plan_slug="paid", started_on=timezone.now().date())
    subscription_cancel(subscription=subscription)
    subscription_cancel(subscription=subscription)
    assert Subscription.objects.get(pk=subscription.pk).cancel_at_period_end is True
