"""The one rounding rule: every invoice line is rounded on its own, half-up to the cent; a total is the sum of its
rounded lines. Unit prices are kept unrounded (they are shown, never multiplied back)."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
UNIT_PRICE = Decimal("0.000001")


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def prorated(price: Decimal, *, days: int, of_days: int) -> Decimal:
    """`price` for `days` of a period of `of_days` days, rounded."""
    return to_cents(price * days / of_days)


def per_day(price: Decimal, *, of_days: int) -> Decimal:
    return (price / of_days).quantize(UNIT_PRICE, rounding=ROUND_HALF_UP)


def overage_amount(emails: int, *, price_per_1000: Decimal) -> Decimal:
    """Overage is priced per email at the plan's rate per 1,000: 22,000 emails at 0.60 is 13.20."""
    return to_cents(price_per_1000 * emails / 1000)


def overage_emails_within(cap: Decimal, *, price_per_1000: Decimal) -> int:
    """How many overage emails a money cap allows: whole emails whose unrounded price stays within the cap."""
    if price_per_1000 <= 0:
        raise ValueError("A plan's overage price must be positive to be capped.")
    return int(cap * 1000 // price_per_1000)


def prorated_count(count: int, *, days: int, of_days: int) -> int:
    """Included emails for `days` of a period, half-up to a whole email."""
    return int((Decimal(count) * days / of_days).quantize(Decimal(1), rounding=ROUND_HALF_UP))
