from datetime import date
from decimal import Decimal
from typing import Any

from accounts.models import Account
from billing.models import BillingPeriod, Plan, Subscription
from billing.services import subscription_start
from tests.accounts.factories import AccountFactory, default_plan


def subscribed(*, plan_slug: str = "paid", started_on: date, **account: Any) -> Subscription:
    """An account whose subscription (and first period) started on `started_on`."""
    created = AccountFactory.create(plan_slug=plan_slug, subscription=False, **account)
    return subscription_start(account_id=created.pk, plan=default_plan(plan_slug), today=started_on)


def plan(slug: str, *, price: str, included: int, overage: str | None, rate: int = 60) -> Plan:
    found, _ = Plan.objects.update_or_create(
        slug=slug,
        defaults={
            "name": slug.title(),
            "monthly_price": Decimal(price),
            "included_emails": included,
            "overage_price_per_1000": Decimal(overage) if overage else None,
            "api_requests_per_minute": rate,
            "email_storage_limit": 1000,
        },
    )
    return found


def current_period(account: Account) -> BillingPeriod:
    return BillingPeriod.objects.filter(account=account, status=BillingPeriod.Status.OPEN).order_by("-starts_on")[0]


def use(account: Account, emails: int) -> None:
    """Set this period's usage as if `emails` had been accepted."""
    BillingPeriod.objects.filter(pk=current_period(account).pk).update(emails_used=emails)
