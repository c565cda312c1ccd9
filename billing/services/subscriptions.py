"""Subscriptions and their periods: subscribing an account, changing its plan (prorated), the overage cap, cancelling.

`Account.plan` stays as a mirror of the subscription's plan, written only here: the API's rate limit reads it from
the cached tenant context (accounts/tenant_cache.py) with no query per request, and a queryset update of it
invalidates that cache in every process.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Account
from billing import money
from billing.models import BillingPeriod, Plan, PlanChange, Subscription
from billing.periods import next_period_start, period_containing


class PlanNotFound(ValueError):
    pass


class PlanChangeRefused(ValueError):
    pass


def plan_by_slug(slug: str) -> Plan:
    try:
        return Plan.objects.get(slug=slug)
    except Plan.DoesNotExist as exc:
        known = ", ".join(Plan.objects.values_list("slug", flat=True))
        raise PlanNotFound(f"Unknown plan {slug!r}; known plans: {known}.") from exc


@transaction.atomic
def account_create_subscribed(
    *, name: str, plan_slug: str = "free", owner_email: str = "", today: date | None = None
) -> Account:
    """A new account on `plan_slug`, its subscription and first period starting today."""
    plan = plan_by_slug(plan_slug)
    account = account_services.account_create(name=name, plan_id=plan.pk, owner_email=owner_email)
    subscription_start(account_id=account.pk, plan=plan, today=today or timezone.now().date())
    account.plan = plan
    return account


@transaction.atomic
def subscription_start(*, account_id: Any, plan: Plan, today: date) -> Subscription:
    """The account's subscription (created on `plan` with its anniversary on today's day of the month when it has
    none), with the current period open."""
    subscription, created = Subscription.objects.select_related("plan").get_or_create(
        account_id=account_id, defaults={"plan": plan, "anchor_day": today.day, "started_on": today}
    )
    if created:
        period_open(subscription=subscription, starts_on=today)
        Account.objects.filter(pk=account_id).exclude(plan=plan).update(plan=plan)
    return subscription


def subscription_for_account(*, account_id: Any, today: date) -> Subscription:
    """The account's subscription; an account created before billing gets one on its current plan."""
    subscription = Subscription.objects.select_related("plan").filter(account_id=account_id).first()
    if subscription is not None:
        return subscription
    plan = Plan.objects.get(accounts__pk=account_id)
    return subscription_start(account_id=account_id, plan=plan, today=today)


def period_open(*, subscription: Subscription, starts_on: date) -> BillingPeriod:
    """The subscription's period starting on `starts_on`, created once (a unique key makes it safe to race)."""
    ends_on = next_period_start(starts_on, anchor_day=subscription.anchor_day)
    plan = subscription.plan
    included, limit = period_limits(plan=plan, included=plan.included_emails, overage_cap=subscription.overage_cap)
    period, _ = BillingPeriod.objects.get_or_create(
        subscription=subscription,
        starts_on=starts_on,
        defaults={
            "account_id": subscription.account_id,
            "plan": plan,
            "ends_on": ends_on,
            "included_emails": included,
            "email_limit": limit,
        },
    )
    return period


def period_current(*, subscription: Subscription, today: date) -> BillingPeriod | None:
    """The period holding `today`, opened when the last one has ended (beat closes ended ones on its own time).
    None once the subscription is cancelled, or set to cancel and its last period has ended."""
    if subscription.status == Subscription.Status.CANCELLED:
        return None
    period = subscription.periods.filter(starts_on__lte=today, ends_on__gt=today).first()
    if period is not None or subscription.cancel_at_period_end:
        return period
    starts_on, _ = period_containing(today, anchor_day=subscription.anchor_day)
    return period_open(subscription=subscription, starts_on=starts_on)


def period_for_usage(*, account_id: Any, today: date) -> BillingPeriod:
    """Where SMS and push usage is counted: the current period, or the last one of an ended subscription."""
    subscription = subscription_for_account(account_id=account_id, today=today)
    period = period_current(subscription=subscription, today=today)
    return (
        period
        or subscription.periods.order_by("-starts_on").first()
        or period_open(subscription=subscription, starts_on=today)
    )


def period_limits(*, plan: Plan, included: int, overage_cap: Decimal | None) -> tuple[int, int | None]:
    """(included emails, the most emails the period may accept: None for no limit)."""
    if plan.overage_price_per_1000 is None:
        return included, included
    if overage_cap is None or plan.overage_price_per_1000 == 0:  # a free overage cannot run up a bill
        return included, None
    return included, included + money.overage_emails_within(overage_cap, price_per_1000=plan.overage_price_per_1000)


def plan_segments(period: BillingPeriod, changes: list[PlanChange]) -> list[tuple[Plan, date, date]]:
    """The plans in force over the period, as (plan, first day, end) ranges."""
    segments: list[tuple[Plan, date, date]] = []
    plan, start = period.plan, period.starts_on
    for change in changes:
        if change.effective_on > start:
            segments.append((plan, start, change.effective_on))
        plan, start = change.to_plan, max(start, change.effective_on)
    segments.append((plan, start, period.ends_on))
    return segments


def included_for(period: BillingPeriod, changes: list[PlanChange]) -> int:
    """The period's included emails, each plan's share prorated by the days it covers."""
    return sum(
        money.prorated_count(plan.included_emails, days=(end - start).days, of_days=period.days)
        for plan, start, end in plan_segments(period, changes)
    )


@dataclass(frozen=True)
class Proration:
    from_plan: Plan
    to_plan: Plan
    effective_on: date
    days_remaining: int
    period_days: int
    credit: Decimal
    charge: Decimal
    included_emails: int
    email_limit: int | None

    @property
    def net(self) -> Decimal:
        return self.charge - self.credit


def _current_period(subscription: Subscription, today: date) -> BillingPeriod:
    period = period_current(subscription=subscription, today=today)
    if period is None:
        raise PlanChangeRefused("The subscription has ended; it has no current period to change.")
    return period


@transaction.atomic
def subscription_change_plan(
    *, subscription: Subscription, plan: Plan, confirm: bool, today: date | None = None
) -> Proration:
    """What moving to `plan` from today costs: the old plan's remaining days credited, the new plan's charged, and
    the period's included emails prorated the same way. Applied (with both as lines on the period's invoice) only
    when `confirm`; either way the proration is returned."""
    today = today or timezone.now().date()
    if subscription.plan_id == plan.pk:
        raise PlanChangeRefused(f"The subscription is already on the {plan.name} plan.")
    period = BillingPeriod.objects.select_for_update().get(pk=_current_period(subscription, today).pk)
    changes = list(period.plan_changes.select_related("from_plan", "to_plan"))
    change = PlanChange(period=period, from_plan=subscription.plan, to_plan=plan, effective_on=today)
    included = included_for(period, [*changes, change])
    _, limit = period_limits(plan=plan, included=included, overage_cap=subscription.overage_cap)
    remaining = (period.ends_on - today).days
    proration = Proration(
        from_plan=subscription.plan,
        to_plan=plan,
        effective_on=today,
        days_remaining=remaining,
        period_days=period.days,
        credit=money.prorated(subscription.plan.monthly_price, days=remaining, of_days=period.days),
        charge=money.prorated(plan.monthly_price, days=remaining, of_days=period.days),
        included_emails=included,
        email_limit=limit,
    )
    if confirm:
        change.save()
        BillingPeriod.objects.filter(pk=period.pk).update(included_emails=included, email_limit=limit)
        Subscription.objects.filter(pk=subscription.pk).update(plan=plan, updated_at=timezone.now())
        subscription.plan = plan
        # The mirror the rate limit reads; the queryset update bumps the tenant cache in every process.
        Account.objects.filter(pk=subscription.account_id).update(plan=plan)
    return proration


@transaction.atomic
def subscription_set_overage_cap(
    *, subscription: Subscription, cap: Decimal | None, today: date | None = None
) -> Subscription:
    """Set (or with None remove) the most overage money the owner allows per period, from the current period on."""
    if cap is not None and cap < 0:
        raise PlanChangeRefused("An overage cap cannot be negative.")
    if cap is not None and not subscription.plan.has_overage:
        raise PlanChangeRefused(f"The {subscription.plan.name} plan has no overage, so there is nothing to cap.")
    Subscription.objects.filter(pk=subscription.pk).update(overage_cap=cap, updated_at=timezone.now())
    subscription.overage_cap = cap
    period = period_current(subscription=subscription, today=today or timezone.now().date())
    if period is not None:
        period = BillingPeriod.objects.select_for_update().get(pk=period.pk)
        _, limit = period_limits(plan=subscription.plan, included=period.included_emails, overage_cap=cap)
        BillingPeriod.objects.filter(pk=period.pk).update(email_limit=limit)
    return subscription


def subscription_cancel(*, subscription: Subscription) -> Subscription:
    """Cancel at the end of the current period: sending stops then; the account and its data stay."""
    Subscription.objects.filter(pk=subscription.pk).update(cancel_at_period_end=True, updated_at=timezone.now())
    subscription.cancel_at_period_end = True
    return subscription
