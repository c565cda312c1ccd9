"""The plans every installation starts with (migration 0002 creates them, 0004 prices them). The tiers are modelled
on Pendable's (a free plan that stops at its quota; paid plans by included emails with overage, among them the
128,000-email plan at $0.60 per 1,000 of Pendable's billing FAQ), with Send With SES's API budgets and Pendable's
"last N emails" storage rule. Operators change prices in the admin."""

from decimal import Decimal

DEFAULT_PLANS = [
    {
        "slug": "free", "name": "Free", "monthly_price": Decimal("0.00"), "included_emails": 3_000,
        "overage_price_per_1000": None, "api_requests_per_minute": 60, "email_storage_limit": 5_000,
    },
    {
        "slug": "starter", "name": "Starter 32K", "monthly_price": Decimal("19.00"), "included_emails": 32_000,
        "overage_price_per_1000": Decimal("0.60"), "api_requests_per_minute": 600, "email_storage_limit": 25_000,
    },
    {
        "slug": "paid", "name": "Growth 128K", "monthly_price": Decimal("49.00"), "included_emails": 128_000,
        "overage_price_per_1000": Decimal("0.60"), "api_requests_per_minute": 1_800, "email_storage_limit": 100_000,
    },
    {
        "slug": "scale", "name": "Scale 512K", "monthly_price": Decimal("149.00"), "included_emails": 512_000,
        "overage_price_per_1000": Decimal("0.50"), "api_requests_per_minute": 6_000, "email_storage_limit": 500_000,
    },
    {
        "slug": "enterprise", "name": "Enterprise 5M", "monthly_price": Decimal("599.00"), "included_emails": 5_000_000,
        "overage_price_per_1000": Decimal("0.30"), "api_requests_per_minute": 60_000,
        "email_storage_limit": 5_000_000,
    },
]  # fmt: skip
