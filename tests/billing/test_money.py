"""Table tests of the money: every amount an invoice shows, to the cent."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing import money
from billing.models import Invoice
from billing.periods import next_period_start, period_containing
from billing.services import period_close, subscription_change_plan
from tests.accounts.factories import default_plan
from tests.billing.factories import plan, subscribed, use

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


def _closed(subscription, *, on: date) -> Invoice:
    period = subscription.periods.get(starts_on__lt=on, ends_on__gte=on)
    invoice = period_close(period_id=period.pk, now=datetime(on.year, on.month, on.day, 0, 5, tzinfo=UTC))
    assert invoice is not None
    return invoice


def _lines(invoice: Invoice) -> list[tuple[int, str, Decimal]]:
    return [(line.number, line.kind, line.amount) for line in invoice.lines.order_by("number")]


@pytest.mark.parametrize(
    ("emails", "rate", "expected"),
    [
        (22_000, "0.60", "13.20"),  # Pendable's FAQ: 150,000 sent on the 128,000 plan
        (1, "0.60", "0.00"),  # 0.0006 rounds down
        (75, "0.60", "0.05"),  # 0.045: half-up, where banker's rounding would say 0.04
        (1_234_567, "0.30", "370.37"),
    ],
)
def test_overage_is_priced_per_email_at_the_rate_per_1000(emails, rate, expected):
    assert money.overage_amount(emails, price_per_1000=Decimal(rate)) == Decimal(expected)


@pytest.mark.parametrize(
    ("price", "days", "of_days", "expected"),
    [
        ("10.01", 15, 30, "5.01"),  # 5.005: the half cent rounds up
        ("10.03", 15, 30, "5.02"),  # 5.015
        ("49.00", 20, 30, "32.67"),
        ("149.00", 10, 30, "49.67"),
        ("0.00", 10, 30, "0.00"),
    ],
)
def test_proration_rounds_half_up_to_the_cent_per_line(price, days, of_days, expected):
    assert money.prorated(Decimal(price), days=days, of_days=of_days) == Decimal(expected)


def test_pendables_example_invoice_128k_plan_sending_150k():
    subscription = subscribed(plan_slug="paid", started_on=date(2026, 4, 1))
    use(subscription.account, 150_000)
    invoice = _closed(subscription, on=date(2026, 5, 1))
    assert _lines(invoice) == [(1, "base", Decimal("49.00")), (2, "overage", Decimal("13.20"))]
    assert invoice.total == Decimal("62.20")
    assert invoice.lines.get(kind="overage").quantity == 22_000
    assert (invoice.period_start, invoice.period_end) == (date(2026, 4, 1), date(2026, 4, 30))


def test_upgrade_on_day_10_of_30_credits_the_old_plan_and_charges_the_new():
    subscription = subscribed(plan_slug="paid", started_on=date(2026, 4, 1))  # Apr 1 - May 1: 30 days
    proration = subscription_change_plan(
        subscription=subscription, plan=default_plan("scale"), confirm=True, today=date(2026, 4, 11)
    )
    assert (proration.days_remaining, proration.credit, proration.charge) == (20, Decimal("32.67"), Decimal("99.33"))
    # 128,000 for 10 days and 512,000 for 20: 42,667 + 341,333
    assert proration.included_emails == 384_000
    use(subscription.account, 400_000)
    invoice = _closed(subscription, on=date(2026, 5, 1))
    assert _lines(invoice) == [
        (1, "base", Decimal("49.00")),
        (2, "proration_credit", Decimal("-32.67")),
        (3, "proration_charge", Decimal("99.33")),
        (4, "overage", Decimal("8.00")),  # 16,000 beyond 384,000 at Scale's $0.50
    ]
    assert invoice.total == Decimal("123.66")
    assert invoice.included_emails == 384_000


def test_downgrade_on_day_20_of_30():
    subscription = subscribed(plan_slug="scale", started_on=date(2026, 4, 1))
    proration = subscription_change_plan(
        subscription=subscription, plan=default_plan("paid"), confirm=True, today=date(2026, 4, 21)
    )
    assert (proration.credit, proration.charge, proration.net) == (
        Decimal("49.67"),
        Decimal("16.33"),
        Decimal("-33.34"),
    )
    assert proration.included_emails == 341_333 + 42_667
    invoice = _closed(subscription, on=date(2026, 5, 1))
    assert _lines(invoice) == [
        (1, "base", Decimal("149.00")),
        (2, "proration_credit", Decimal("-49.67")),
        (3, "proration_charge", Decimal("16.33")),
    ]
    assert invoice.total == Decimal("115.66")


def test_a_preview_changes_nothing():
    subscription = subscribed(plan_slug="paid", started_on=date(2026, 4, 1))
    subscription_change_plan(
        subscription=subscription, plan=default_plan("scale"), confirm=False, today=date(2026, 4, 11)
    )
    subscription.refresh_from_db()
    assert subscription.plan.slug == "paid"
    assert _lines(_closed(subscription, on=date(2026, 5, 1))) == [(1, "base", Decimal("49.00"))]


@pytest.mark.parametrize(
    ("start", "expected_ends"),
    [
        (date(2027, 1, 31), [date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30), date(2027, 5, 31)]),
        (date(2028, 1, 31), [date(2028, 2, 29), date(2028, 3, 31)]),  # leap year
        (date(2027, 1, 30), [date(2027, 2, 28), date(2027, 3, 30)]),
        (date(2027, 12, 15), [date(2028, 1, 15)]),
    ],
)
def test_anniversary_periods_fall_on_the_months_last_day_when_shorter(start, expected_ends):
    ends, current = [], start
    for _ in expected_ends:
        current = next_period_start(current, anchor_day=start.day)
        ends.append(current)
    assert ends == expected_ends
    assert period_containing(date(2027, 3, 1), anchor_day=31) == (date(2027, 2, 28), date(2027, 3, 31))


def test_a_subscription_started_jan_31_is_invoiced_per_anniversary_period():
    subscription = subscribed(plan_slug="paid", started_on=date(2027, 1, 31))
    first = _closed(subscription, on=date(2027, 2, 28))
    second = _closed(subscription, on=date(2027, 3, 31))
    assert (first.period_start, first.period_end, first.total) == (
        date(2027, 1, 31),
        date(2027, 2, 27),
        Decimal("49.00"),
    )
    assert (second.period_start, second.period_end) == (date(2027, 2, 28), date(2027, 3, 30))
    assert subscription.periods.get(status="open").starts_on == date(2027, 3, 31)


def test_a_mid_period_change_in_a_28_day_period_prorates_by_its_days():
    subscription = subscribed(plan_slug="paid", started_on=date(2027, 1, 31))  # Jan 31 - Feb 28: 28 days
    cheap = plan("half-cent", price="10.01", included=1_000, overage=None)
    proration = subscription_change_plan(subscription=subscription, plan=cheap, confirm=True, today=date(2027, 2, 14))
    assert (proration.days_remaining, proration.period_days) == (14, 28)
    assert proration.charge == Decimal("5.01")  # 10.01 * 14 / 28 = 5.005
    assert proration.credit == Decimal("24.50")
