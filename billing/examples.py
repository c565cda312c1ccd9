"""Real-looking examples for the billing endpoints' OpenAPI schema."""

PLAN = {
    "slug": "paid",
    "name": "Growth 128K",
    "monthly_price": "49.00",
    "included_emails": 128000,
    "overage_price_per_1000": "0.6000",
    "api_requests_per_minute": 1800,
    "email_storage_limit": 100000,
}
_LINES = [
    {
        "number": 1, "kind": "base", "description": "Base: Growth 128K plan, Apr 1 to Apr 30, 2026 (30 of 30 days)",
        "quantity": 30, "unit_price": "1.633333", "amount": "49.00", "starts_on": "2026-04-01", "ends_on": "2026-04-30",
    },
    {
        "number": 2, "kind": "overage",
        "description": "Overage: 22,000 emails beyond the 128,000 included, at $0.6 per 1,000",
        "quantity": 22000, "unit_price": "0.000600", "amount": "13.20", "starts_on": None, "ends_on": None,
    },
]  # fmt: skip
BILLING = {
    "plan": PLAN,
    "status": "active",
    "cancel_at_period_end": False,
    "overage_cap": None,
    "period": {"starts_on": "2026-04-01", "ends_on": "2026-04-30", "renews_on": "2026-05-01"},
    "used": 150000,
    "included": 128000,
    "limit": None,
    "sms_sent": 120,
    "push_sent": 0,
    "overage_emails": 22000,
    "overage_amount": "13.20",
    "projected_invoice": {"lines": _LINES, "total": "62.20", "currency": "USD"},
}
PRORATION = {
    "applied": False,
    "from_plan": "paid",
    "to_plan": "scale",
    "effective_on": "2026-04-11",
    "days_remaining": 20,
    "period_days": 30,
    "credit": "32.67",
    "charge": "99.33",
    "net": "66.66",
    "included_emails": 384000,
    "email_limit": None,
}
INVOICE = {
    "id": "8d3f2a44-1c5e-4b7a-9f0e-2a6b5c4d3e21",
    "number": "SES-202605-000042",
    "status": "open",
    "currency": "USD",
    "period_start": "2026-04-01",
    "period_end": "2026-04-30",
    "emails_used": 150000,
    "included_emails": 128000,
    "total": "62.20",
    "issued_at": "2026-05-01T00:05:00Z",
    "paid_at": None,
    "voided_at": None,
    "lines": _LINES,
}
INVOICE_PAGE = {"next": None, "previous": None, "results": [INVOICE]}
