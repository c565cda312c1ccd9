"""Invoices: their lines (the base plan, a credit and a charge per mid-period plan change, the overage), closing
ended periods exactly once, and the operator's paid / void.

Rounding: each line is rounded half-up to the cent on its own (billing/money.py); the total is the sum of the lines.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import money
from billing.models import BillingPeriod, Invoice, InvoiceLine, Plan, PlanChange, Subscription
from billing.services.subscriptions import period_open, plan_segments

logger = logging.getLogger("sesame.billing")


class InvoiceStateError(ValueError):
    pass


@dataclass(frozen=True)
class LineDraft:
    kind: str
    description: str
    quantity: int
    unit_price: Decimal
    amount: Decimal
    starts_on: date | None = None
    ends_on: date | None = None  # the last day covered


def _span(start: date, end: date) -> str:
    last = end - timedelta(days=1)
    return f"{start:%b %-d} to {last:%b %-d, %Y}"


def _plan_line(kind: str, plan: Plan, start: date, end: date, period_days: int, sign: int, label: str) -> LineDraft:
    days = (end - start).days
    amount = money.prorated(plan.monthly_price, days=days, of_days=period_days)
    return LineDraft(
        kind=kind,
        description=f"{label}: {plan.name} plan, {_span(start, end)} ({days} of {period_days} days)",
        quantity=days,
        unit_price=money.per_day(plan.monthly_price, of_days=period_days) * sign,
        amount=amount * sign,
        starts_on=start,
        ends_on=end - timedelta(days=1),
    )


def invoice_lines(*, period: BillingPeriod, changes: list[PlanChange], emails_used: int) -> list[LineDraft]:
    """The lines of `period` with `emails_used` emails: what its invoice says, or would say if it closed now."""
    days = period.days
    lines = [_plan_line(InvoiceLine.Kind.BASE, period.plan, period.starts_on, period.ends_on, days, 1, "Base")]
    for change in changes:
        start = change.effective_on
        lines.append(
            _plan_line(
                InvoiceLine.Kind.PRORATION_CREDIT,
                change.from_plan,
                start,
                period.ends_on,
                days,
                -1,
                "Unused time credited",
            )
        )
        lines.append(
            _plan_line(
                InvoiceLine.Kind.PRORATION_CHARGE,
                change.to_plan,
                start,
                period.ends_on,
                days,
                1,
                "Remaining time charged",
            )
        )
    extra = max(0, emails_used - period.included_emails)
    rate = plan_segments(period, changes)[-1][0].overage_price_per_1000
    if extra and rate is not None:
        lines.append(
            LineDraft(
                kind=InvoiceLine.Kind.OVERAGE,
                description=f"Overage: {extra:,} emails beyond the {period.included_emails:,} included, "
                f"at ${rate.normalize():f} per 1,000",
                quantity=extra,
                unit_price=rate / 1000,
                amount=money.overage_amount(extra, price_per_1000=rate),
            )
        )
    return lines


def lines_total(lines: list[LineDraft]) -> Decimal:
    return sum((line.amount for line in lines), Decimal("0.00"))


def period_changes(period: BillingPeriod) -> list[PlanChange]:
    return list(period.plan_changes.select_related("from_plan", "to_plan"))


@transaction.atomic
def period_close(*, period_id: Any, now: datetime | None = None) -> Invoice | None:
    """Close an ended period: issue its invoice and open the next period (or end a subscription set to cancel).
    Exactly once: the row lock and the `open` status make a second run, on any host, do nothing (None)."""
    now = now or timezone.now()
    period = (
        BillingPeriod.objects.select_for_update(skip_locked=True)
        .select_related("plan", "subscription__plan")
        .filter(pk=period_id, status=BillingPeriod.Status.OPEN, ends_on__lte=now.date())
        .first()
    )
    if period is None:
        return None
    lines = invoice_lines(period=period, changes=period_changes(period), emails_used=period.emails_used)
    invoice = Invoice.objects.create(
        account_id=period.account_id,
        period=period,
        period_start=period.starts_on,
        period_end=period.ends_on - timedelta(days=1),
        emails_used=period.emails_used,
        included_emails=period.included_emails,
        total=lines_total(lines),
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            number=number,
            kind=line.kind,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
            starts_on=line.starts_on,
            ends_on=line.ends_on,
        )
        for number, line in enumerate(lines, start=1)
    )
    invoice_issue(invoice=invoice, now=now)
    BillingPeriod.objects.filter(pk=period.pk).update(status=BillingPeriod.Status.CLOSED, closed_at=now)
    subscription = period.subscription
    if subscription.cancel_at_period_end:
        Subscription.objects.filter(pk=subscription.pk).update(
            status=Subscription.Status.CANCELLED, cancelled_on=period.ends_on, updated_at=now
        )
    elif subscription.status != Subscription.Status.CANCELLED:
        period_open(subscription=subscription, starts_on=period.ends_on)
    return invoice


def periods_due(*, today: date) -> list[BillingPeriod]:
    return list(
        BillingPeriod.objects.filter(status=BillingPeriod.Status.OPEN, ends_on__lte=today)
        .select_related("account", "plan")
        .order_by("ends_on", "pk")
    )


def periods_close_due(*, now: datetime | None = None) -> list[Invoice]:
    """Close every ended period, each in its own transaction. Returns the invoices this run issued."""
    now = now or timezone.now()
    issued = []
    for period in periods_due(today=now.date()):
        try:
            invoice = period_close(period_id=period.pk, now=now)
        except IntegrityError:  # an invoice number taken concurrently (see invoice_issue): the next run retries
            logger.warning("billing period %s not closed this run: invoice number taken", period.pk)
            continue
        if invoice is not None:
            issued.append(invoice)
    return issued


def invoice_issue(*, invoice: Invoice, now: datetime) -> Invoice:
    """draft → open, with its number (the year and month it was issued, then its sequence in the installation)."""
    if invoice.status != Invoice.Status.DRAFT:
        raise InvoiceStateError(f"Invoice {invoice} is {invoice.status}; only drafts are issued.")
    # Two hosts issuing at once may pick the same number: the unique index refuses the second, whose close then
    # rolls back whole and is taken again by the next run.
    number = f"SES-{now:%Y%m}-{Invoice.objects.filter(number__isnull=False).count() + 1:06d}"
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.OPEN, number=number, issued_at=now)
    invoice.status, invoice.number, invoice.issued_at = Invoice.Status.OPEN, number, now
    return invoice


def invoice_mark_paid(*, invoice: Invoice, now: datetime | None = None) -> Invoice:
    now = now or timezone.now()
    if not Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.OPEN).update(
        status=Invoice.Status.PAID, paid_at=now
    ):
        raise InvoiceStateError(f"Invoice {invoice} is {invoice.status}; only open invoices can be marked paid.")
    invoice.status, invoice.paid_at = Invoice.Status.PAID, now
    return invoice


def invoice_void(*, invoice: Invoice, now: datetime | None = None) -> Invoice:
    now = now or timezone.now()
    voidable = [Invoice.Status.DRAFT, Invoice.Status.OPEN]
    if not Invoice.objects.filter(pk=invoice.pk, status__in=voidable).update(status=Invoice.Status.VOID, voided_at=now):
        raise InvoiceStateError(f"Invoice {invoice} is {invoice.status}; only draft or open invoices can be voided.")
    invoice.status, invoice.voided_at = Invoice.Status.VOID, now
    return invoice
