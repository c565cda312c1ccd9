"""An account's SMS rules and a connection's SMS state, created on first use, and the month's spend."""

import uuid
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F

from accounts.models import Account, AwsConnection
from config.api.errors import UnprocessableEntity, error_entry
from sms.models import SmsConnectionState, SmsMonthlySpend, SmsPolicy

# Money is Decimal; prices are kept as SNS reports them (5 decimal places) and shown rounded half-up to cents.
CENT = Decimal("0.01")


def usd(amount: Decimal) -> str:
    return f"${amount.quantize(CENT, rounding=ROUND_HALF_UP)}"


def sms_policy_for(*, account: Account) -> SmsPolicy:
    policy, _ = SmsPolicy.objects.get_or_create(
        account=account,
        defaults={
            "country": settings.SESAME_SMS_DEFAULT_COUNTRY,
            "monthly_spend_limit_usd": settings.SESAME_SMS_DEFAULT_MONTHLY_LIMIT_USD,
        },
    )
    return policy


def sms_policy_update(*, account: Account, **changes: object) -> SmsPolicy:
    with transaction.atomic():
        policy = sms_policy_for(account=account)
        for name, value in changes.items():
            setattr(policy, name, value)
        policy.save()
    return policy


def sms_state_for(*, connection: AwsConnection) -> SmsConnectionState:
    state, _ = SmsConnectionState.objects.get_or_create(connection=connection)
    return state


def sms_rate(state: SmsConnectionState | None) -> float:
    """SMS per second this connection may send: its own SNS SMS TPS, else the deployment's default."""
    if state is None or state.sms_rate is None:
        return float(settings.SESAME_SMS_DEFAULT_RATE)
    return max(0.0, state.sms_rate)


def month_of(moment: datetime) -> date:
    return moment.date().replace(day=1)


def sms_spend_month(*, account_id: uuid.UUID, month: date) -> Decimal:
    spent = SmsMonthlySpend.objects.filter(account_id=account_id, month=month).values_list("spent_usd", flat=True)
    return next(iter(spent), Decimal(0))


def sms_spend_add(*, account_id: uuid.UUID, moment: datetime, amount: Decimal) -> None:
    """Add a reported price to its month (one row per account and month, updated in place)."""
    month = month_of(moment)
    if not SmsMonthlySpend.objects.filter(account_id=account_id, month=month).update(spent_usd=F("spent_usd") + amount):
        row, created = SmsMonthlySpend.objects.get_or_create(
            account_id=account_id, month=month, defaults={"spent_usd": amount}
        )
        if not created:
            SmsMonthlySpend.objects.filter(pk=row.pk).update(spent_usd=F("spent_usd") + amount)


def spend_limit_problem(*, policy: SmsPolicy, now: datetime) -> str | None:
    """Why no SMS may go out now, or None while the month's spend is under the limit."""
    spent = sms_spend_month(account_id=policy.account_id, month=month_of(now))
    if spent < policy.monthly_spend_limit_usd:
        return None
    return (
        f"the monthly SMS spend limit of {usd(policy.monthly_spend_limit_usd)} is reached "
        f"({usd(spent)} spent in {now:%B %Y}); raise it (PATCH /v1/sms/settings) or wait for next month"
    )


def spend_limit_check(*, policy: SmsPolicy, now: datetime) -> None:
    problem = spend_limit_problem(policy=policy, now=now)
    if problem:
        raise UnprocessableEntity([error_entry(["body"], problem, "value_error.spend_limit")])
