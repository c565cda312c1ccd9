"""Quotas and the usage ledger: what the channels call.

Accepting an email reserves its unit with one statement: a conditional UPDATE of the account's current period
counter (`emails_used + n <= email_limit`) that, on PostgreSQL, also appends the ledger rows in the same statement.
Row locking makes concurrent requests take the last units one at a time, so a quota is never over-granted. Only
when that UPDATE matches nothing (quota spent, no period open yet, no subscription yet, cancelled) does the slow
path run, under a row lock, to say why or to open what is missing.

Releases (a cancel, a suppression before sending, a permanent failure) and SMS/push records are idempotent by the
ledger's unique (channel, message, kind) key: a retried task never counts, or gives back, a message twice. A
release only gives units back to a period that is still open; once its invoice is issued a message stays billed.
"""

import math
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.exceptions import APIException

from billing.models import BillingPeriod, Subscription, UsageAlert, UsageEntry
from billing.services.subscriptions import period_current, period_for_usage, subscription_for_account

# The fast path's conditional UPDATE and its ledger rows, as two CTEs (`period`, `entries`) a caller can end with its
# own statement: `guard` is one more SQL condition on the UPDATE (TRUE when there is none). Named placeholders, so
# the caller's own can sit beside them.
_RESERVE_CTES = """
period AS (
    UPDATE billing_billingperiod SET emails_used = emails_used + %(rn)s
    WHERE account_id = %(ra)s AND status = 'open' AND starts_on <= %(rt)s AND ends_on > %(rt)s
      AND (email_limit IS NULL OR emails_used + %(rn)s <= email_limit) AND {guard}
    RETURNING id, emails_used, included_emails
), entries AS (
    INSERT INTO billing_usageentry (account_id, period_id, channel, kind, message_id, units, created_at)
    SELECT %(ra)s, period.id, %(rc)s, 'reserved', message.id, 1, %(rw)s
    FROM period, unnest(%(ri)s::uuid[]) AS message(id)
)"""


def reserve_ctes(
    *, account_id: Any, channel: str, message_ids: Sequence[uuid.UUID], now: datetime, guard: str = "TRUE"
) -> tuple[str, dict[str, Any]]:
    """PostgreSQL only: the fast path of `usage_reserve` as the CTEs `period` (the reserved period's id, usage and
    included emails: one row when the units were granted, none otherwise) and `entries`, with their parameters. A
    caller folding its insert into the reservation ends them with its own statement and, when `period` returned a
    row, calls `usage_reserved` with it."""
    params = {"rn": len(message_ids), "ra": account_id, "rt": now.date(), "rc": channel, "rw": now}
    return _RESERVE_CTES.format(guard=guard), {**params, "ri": list(message_ids)}


def usage_reserved(*, account_id: Any, period: tuple[Any, int, int], granted: int, now: datetime) -> None:
    """What follows a reservation made through `reserve_ctes`: the usage alerts it crossed."""
    used, included = period[1], period[2]
    _alerts_record(account_id=account_id, period_id=period[0], used=used, granted=granted, included=included, now=now)


# Why a message of a batch was left out once the quota ran out part way (the first ones got their units).
QUOTA_SPENT = "the account's email quota for this billing period is spent (see GET /v1/billing)"


class QuotaExceeded(APIException):
    status_code = 402
    default_detail = "This account's email quota for the billing period is spent."
    default_code = "quota_exceeded"


def usage_reserve(
    *, account_id: Any, channel: str, message_ids: Sequence[uuid.UUID], partial: bool = False
) -> list[uuid.UUID]:
    """Reserve one unit per message in the account's current period. Returns the ids granted: all of them, or
    with `partial` the first ones that fit. Raises QuotaExceeded (402) when none (or, without `partial`, not all)
    fit, saying what was used, what the plan includes and how to raise it."""
    if not message_ids:
        return []
    now = timezone.now()
    today = now.date()
    n = len(message_ids)
    row = _reserve_fast(account_id, channel, list(message_ids), n, today, now)
    if row is not None:
        usage_reserved(account_id=account_id, period=row, granted=n, now=now)
        return list(message_ids)
    return _reserve_slow(account_id, channel, list(message_ids), today, now, partial)


def _reserve_fast(
    account_id: Any, channel: str, ids: list[uuid.UUID], n: int, today: date, now: datetime
) -> tuple[Any, int, int] | None:
    if connection.vendor == "postgresql":
        ctes, params = reserve_ctes(account_id=account_id, channel=channel, message_ids=ids, now=now)
        with connection.cursor() as cursor:
            cursor.execute(f"WITH {ctes} SELECT id, emails_used, included_emails FROM period", params)  # noqa: S608
            found = cursor.fetchone()
        return (found[0], found[1], found[2]) if found else None
    with transaction.atomic():
        current = BillingPeriod.objects.filter(
            account_id=account_id, status=BillingPeriod.Status.OPEN, starts_on__lte=today, ends_on__gt=today
        )
        fits = current.filter(email_limit__isnull=True) | current.filter(email_limit__gte=F("emails_used") + n)
        if not fits.update(emails_used=F("emails_used") + n):
            return None
        period = current.values_list("pk", "emails_used", "included_emails").get()
        _entries_add(account_id, period[0], channel, UsageEntry.Kind.RESERVED, ids, 1, now)
    return period


@transaction.atomic
def _reserve_slow(
    account_id: Any, channel: str, ids: list[uuid.UUID], today: date, now: datetime, partial: bool
) -> list[uuid.UUID]:
    subscription = subscription_for_account(account_id=account_id, today=today)
    found = period_current(subscription=subscription, today=today)
    if found is None:
        raise QuotaExceeded(
            f"This account's subscription ({subscription.plan.name}) was cancelled at the end of its last billing "
            "period, so it cannot send email. Choose a plan with POST /v1/billing/change-plan to send again."
        )
    period = BillingPeriod.objects.select_for_update().get(pk=found.pk)
    available = len(ids) if period.email_limit is None else max(0, period.email_limit - period.emails_used)
    granted = ids[:available] if partial or available >= len(ids) else []
    if not granted:
        raise QuotaExceeded(quota_message(period=period, subscription=subscription, wanted=len(ids)))
    BillingPeriod.objects.filter(pk=period.pk).update(emails_used=F("emails_used") + len(granted))
    _entries_add(account_id, period.pk, channel, UsageEntry.Kind.RESERVED, granted, 1, now)
    _alerts_record(
        account_id=account_id,
        period_id=period.pk,
        used=period.emails_used + len(granted),
        granted=len(granted),
        included=period.included_emails,
        now=now,
    )
    return granted


def quota_message(*, period: BillingPeriod, subscription: Subscription, wanted: int) -> str:
    plan = subscription.plan
    last_day = period.ends_on.toordinal() - 1
    span = f"{period.starts_on:%b %-d} to {date.fromordinal(last_day):%b %-d, %Y}"
    used = f"This account has used {period.emails_used:,} emails this billing period ({span})"
    included = f"the {plan.name} plan includes {period.included_emails:,}"
    if not plan.has_overage:
        tail = "and has no overage"
        fix = "Upgrade with POST /v1/billing/change-plan to send more"
    else:
        allowed = (period.email_limit or 0) - period.included_emails
        tail = f"and your overage cap of ${subscription.overage_cap} allows {allowed:,} more"
        fix = (
            "Raise or remove the overage cap with POST /v1/billing/overage-cap, or upgrade with POST "
            "/v1/billing/change-plan"
        )
    needs = f" ({wanted:,} more requested)" if wanted > 1 else ""
    return f"{used}; {included} {tail}{needs}. {fix}; the quota renews on {period.ends_on:%b %-d, %Y}."


def _entries_add(
    account_id: Any, period_id: Any, channel: str, kind: str, ids: Iterable[uuid.UUID], units: int, now: datetime
) -> None:
    UsageEntry.objects.bulk_create(
        UsageEntry(
            account_id=account_id,
            period_id=period_id,
            channel=channel,
            kind=kind,
            message_id=message_id,
            units=units,
            created_at=now,
        )
        for message_id in ids
    )


def thresholds_crossed(*, before: int, after: int, included: int) -> list[int]:
    """The alert thresholds (percent of included emails) that usage passed going from `before` to `after`."""
    if included <= 0:
        return []
    marks = [(t, math.ceil(included * t / 100)) for t in UsageAlert.THRESHOLDS]
    return [t for t, mark in marks if before < mark <= after]


def _alerts_record(*, account_id: Any, period_id: Any, used: int, granted: int, included: int, now: datetime) -> None:
    crossed = thresholds_crossed(before=used - granted, after=used, included=included)
    if crossed:
        UsageAlert.objects.bulk_create(
            [
                UsageAlert(
                    account_id=account_id,
                    period_id=period_id,
                    threshold=t,
                    emails_used=used,
                    included_emails=included,
                    crossed_at=now,
                )
                for t in crossed
            ],
            ignore_conflicts=True,  # the unique (period, threshold) makes each fire once per period
        )


@transaction.atomic
def usage_release(*, channel: str, message_ids: Sequence[uuid.UUID]) -> int:
    """Give back the units these messages reserved, once each, to periods still open. Returns units released."""
    if not message_ids:
        return 0
    reserved = UsageEntry.objects.filter(channel=channel, message_id__in=message_ids, kind=UsageEntry.Kind.RESERVED)
    period_ids = set(reserved.values_list("period_id", flat=True))
    if not period_ids:
        return 0
    # Lock the periods first: a concurrent release of the same message waits here, then sees this one's rows.
    open_ids = set(
        BillingPeriod.objects.select_for_update()
        .filter(pk__in=period_ids, status=BillingPeriod.Status.OPEN)
        .values_list("pk", flat=True)
    )
    done = set(
        UsageEntry.objects.filter(
            channel=channel, message_id__in=message_ids, kind=UsageEntry.Kind.RELEASED
        ).values_list("message_id", flat=True)
    )
    todo = [e for e in reserved.filter(period_id__in=open_ids) if e.message_id not in done]
    now = timezone.now()
    by_period: dict[Any, list[UsageEntry]] = {}
    for entry in todo:
        by_period.setdefault(entry.period_id, []).append(entry)
    for period_id, entries in by_period.items():
        _entries_add(
            entries[0].account_id,
            period_id,
            channel,
            UsageEntry.Kind.RELEASED,
            [e.message_id for e in entries],
            -1,
            now,
        )
        BillingPeriod.objects.filter(pk=period_id).update(emails_used=F("emails_used") - len(entries))
    return len(todo)


# SMS and push sent, counted in one statement (the engine's settler runs it for every few milliseconds of sends):
# ledger rows for messages not counted yet, in each account's current period, and the period counters bumped by
# what was inserted. It returns the accounts that have no current period, for the slow path.
_RECORD_SQL = """
WITH message AS (
    SELECT * FROM unnest(%s::uuid[], %s::uuid[]) AS m(account_id, id)
), period AS (
    SELECT id, account_id FROM billing_billingperiod
    WHERE account_id IN (SELECT account_id FROM message) AND status = 'open' AND starts_on <= %s AND ends_on > %s
), entries AS (
    INSERT INTO billing_usageentry (account_id, period_id, channel, kind, message_id, units, created_at)
    SELECT message.account_id, period.id, %s, 'sent', message.id, 1, %s
    FROM message JOIN period ON period.account_id = message.account_id
    ON CONFLICT DO NOTHING RETURNING period_id
), bump AS (
    UPDATE billing_billingperiod SET {field} = {field} + added.n
    FROM (SELECT period_id, count(*) AS n FROM entries GROUP BY period_id) AS added
    WHERE billing_billingperiod.id = added.period_id
)
SELECT DISTINCT account_id FROM message WHERE account_id NOT IN (SELECT account_id FROM period)
"""


def usage_record(*, channel: str, messages: Sequence[tuple[Any, uuid.UUID]]) -> None:
    """Count sent SMS or push messages ((account id, message id) pairs) for reporting, once each (the ledger's
    unique key makes a retried send count nothing more), in each account's current period, or its last one when
    the subscription has ended. No quota applies."""
    field = {UsageEntry.Channel.SMS: "sms_sent", UsageEntry.Channel.PUSH: "push_sent"}[UsageEntry.Channel(channel)]
    now = timezone.now()
    pending = list(messages)
    if connection.vendor == "postgresql" and pending:
        with connection.cursor() as cursor:
            cursor.execute(
                _RECORD_SQL.format(field=field),
                [[a for a, _ in pending], [m for _, m in pending], now.date(), now.date(), channel, now],
            )
            without_period = {row[0] for row in cursor.fetchall()}
        pending = [(a, m) for a, m in pending if a in without_period]
    for account_id in dict.fromkeys(a for a, _ in pending):
        _record_slow(account_id, channel, field, [m for a, m in pending if a == account_id], now)


@transaction.atomic
def _record_slow(account_id: Any, channel: str, field: str, ids: list[uuid.UUID], now: datetime) -> None:
    period = period_for_usage(account_id=account_id, today=now.date())
    # Under the period's row lock a concurrent record of the same messages waits, then sees these rows.
    list(BillingPeriod.objects.select_for_update().filter(pk=period.pk).values_list("pk", flat=True))
    done = set(
        UsageEntry.objects.filter(channel=channel, message_id__in=ids, kind=UsageEntry.Kind.SENT).values_list(
            "message_id", flat=True
        )
    )
    new_ids = [message_id for message_id in dict.fromkeys(ids) if message_id not in done]
    _entries_add(account_id, period.pk, channel, UsageEntry.Kind.SENT, new_ids, 1, now)
    BillingPeriod.objects.filter(pk=period.pk).update(**{field: F(field) + len(new_ids)})
