"""Billing reads, account-scoped for the API; the operator's revenue figures for the admin."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, QuerySet, Sum
from django.utils import timezone

from accounts.models import Account
from billing.models import BillingPeriod, Invoice, Plan, Subscription
from billing.services import (
    LineDraft,
    invoice_lines,
    lines_total,
    period_changes,
    period_current,
    subscription_for_account,
)


@dataclass(frozen=True)
class BillingOverview:
    subscription: Subscription
    period: BillingPeriod | None
    lines: list[LineDraft]

    @property
    def projected_total(self) -> Decimal:
        return lines_total(self.lines)

    @property
    def overage_emails(self) -> int:
        return max(0, self.period.emails_used - self.period.included_emails) if self.period else 0

    @property
    def overage_amount(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.kind == "overage"), Decimal("0.00"))


def billing_overview(*, account: Account, today: date | None = None) -> BillingOverview:
    """The account's plan, current period and usage, and the invoice the period would get if it closed now."""
    today = today or timezone.now().date()
    subscription = subscription_for_account(account_id=account.pk, today=today)
    period = period_current(subscription=subscription, today=today)
    if period is None:
        period = subscription.periods.select_related("plan").order_by("-starts_on").first()
    lines = (
        invoice_lines(period=period, changes=period_changes(period), emails_used=period.emails_used) if period else []
    )
    return BillingOverview(subscription=subscription, period=period, lines=lines)


def invoices_for(*, account: Account) -> QuerySet[Invoice]:
    return Invoice.objects.filter(account=account).prefetch_related("lines")


def periods_for_month(*, year: int, month: int) -> QuerySet[BillingPeriod]:
    """Periods that start in the month, with their account and plans, for the billing report."""
    return (
        BillingPeriod.objects.filter(starts_on__year=year, starts_on__month=month)
        .select_related("account", "plan", "subscription__plan", "invoice")
        .order_by("account__name", "starts_on")
    )


@dataclass(frozen=True)
class PlanRevenue:
    plan: Plan
    subscriptions: int
    mrr: Decimal


def revenue_by_plan() -> list[PlanRevenue]:
    """Monthly recurring revenue: each plan's price times its active (or past due) subscriptions."""
    live = Subscription.objects.exclude(status=Subscription.Status.CANCELLED)
    counts = dict(live.values("plan").annotate(n=Count("pk")).values_list("plan", "n"))
    return [
        PlanRevenue(plan=plan, subscriptions=counts.get(plan.pk, 0), mrr=plan.monthly_price * counts.get(plan.pk, 0))
        for plan in Plan.objects.all()
    ]


def overage_this_period(*, today: date | None = None) -> tuple[int, Decimal]:
    """Emails beyond the included ones across current periods, and what they would cost if the periods closed now."""
    today = today or timezone.now().date()
    periods = BillingPeriod.objects.filter(
        starts_on__lte=today, ends_on__gt=today, emails_used__gt=F("included_emails")
    ).select_related("plan")
    emails, amount = 0, Decimal("0.00")
    for period in periods:
        lines = invoice_lines(period=period, changes=period_changes(period), emails_used=period.emails_used)
        emails += period.emails_used - period.included_emails
        amount += sum((line.amount for line in lines if line.kind == "overage"), Decimal("0.00"))
    return emails, amount


def invoiced_total(*, invoices: QuerySet[Invoice]) -> Any:
    return invoices.exclude(status=Invoice.Status.VOID).aggregate(total=Sum("total"))["total"] or Decimal("0.00")
