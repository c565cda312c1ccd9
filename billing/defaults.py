"""The plans every installation starts with (created by migration 0002): Send With SES's published API
budgets, and Pendable's "last N emails" storage rule."""

DEFAULT_PLANS = [
    {"slug": "free", "name": "Free", "api_requests_per_minute": 60, "email_storage_limit": 5_000},
    {"slug": "paid", "name": "Paid", "api_requests_per_minute": 1_800, "email_storage_limit": 100_000},
    {"slug": "enterprise", "name": "Enterprise", "api_requests_per_minute": 60_000, "email_storage_limit": 5_000_000},
]
