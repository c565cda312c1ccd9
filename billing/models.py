"""Plans, subscriptions, the usage ledger with its per-period counter, and invoices. Money is Decimal; the rounding
rule is in billing/money.py."""

import uuid

from django.db import models
from django.db.models import Q


class Plan(models.Model):
    """A subscription tier: its price, the emails it includes per period, what an email beyond them costs, what an
    account may do per minute and how much history it keeps."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    monthly_price = models.DecimalField(max_digits=10, decimal_places=2, default=0, help_text="USD per period.")
    included_emails = models.PositiveIntegerField(default=0, help_text="Emails included in each billing period.")
    overage_price_per_1000 = models.DecimalField(
        max_digits=8,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="USD per 1,000 emails beyond the included ones, charged per email. Empty: no overage, sending "
        "stops at the included emails.",
    )
    api_requests_per_minute = models.PositiveIntegerField(
        help_text="API calls allowed in any rolling 60 seconds; bursts may spend the whole budget at once."
    )
    email_storage_limit = models.PositiveIntegerField(
        help_text="How many of the newest emails keep their bodies; older ones keep metadata and timeline only."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("monthly_price", "api_requests_per_minute")

    def __str__(self) -> str:
        return self.name

    @property
    def has_overage(self) -> bool:
        return self.overage_price_per_1000 is not None


class Subscription(models.Model):
    """An account's plan and billing cycle: periods run from one anniversary of `anchor_day` to the next (a 31st
    falls on the month's last day in shorter months)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Past due"
        CANCELLED = "cancelled", "Cancelled"

    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    anchor_day = models.PositiveSmallIntegerField(help_text="Day of the month each period starts (1-31).")
    started_on = models.DateField()
    overage_cap = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Most overage (USD) the owner allows per period; sending stops there. Empty: no cap.",
    )
    cancel_at_period_end = models.BooleanField(default=False)
    cancelled_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status", "plan"])]

    def __str__(self) -> str:
        return f"{self.account} on {self.plan}"


class BillingPeriod(models.Model):
    """One billing period of a subscription, [starts_on, ends_on), with its usage rolled up from the ledger.

    `emails_used` is what accepting reserves against: a conditional UPDATE that succeeds only while `emails_used`
    stays within `email_limit` (the prorated included emails plus the overage the plan and the owner's cap allow;
    null: no limit). `plan` is the plan the period started on; mid-period changes are PlanChange rows."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="billing_periods")
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="periods")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    starts_on = models.DateField()
    ends_on = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    included_emails = models.PositiveIntegerField()
    email_limit = models.PositiveIntegerField(null=True, blank=True)
    emails_used = models.IntegerField(default=0)
    sms_sent = models.IntegerField(default=0)
    push_sent = models.IntegerField(default=0)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-starts_on",)
        constraints = [
            models.UniqueConstraint(fields=["subscription", "starts_on"], name="billing_period_unique_start"),
            models.CheckConstraint(condition=Q(ends_on__gt=models.F("starts_on")), name="billing_period_not_empty"),
        ]
        indexes = [
            # The accept path's UPDATE finds the account's current period by these.
            models.Index(fields=["account", "starts_on"], name="billing_period_account_start"),
            models.Index(fields=["ends_on"], condition=Q(status="open"), name="billing_period_open_end"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.starts_on:%Y-%m-%d}..{self.ends_on:%Y-%m-%d}"

    @property
    def days(self) -> int:
        return (self.ends_on - self.starts_on).days


class UsageEntry(models.Model):
    """The append-only usage ledger: one row per message and kind. The unique key (channel, message, kind) makes
    every write idempotent, so a retried task or request never counts a message twice. Email units are `reserved`
    at accept and `released` (negative) when the message is cancelled, suppressed or fails for good; SMS and push
    are recorded as `sent`, for reporting."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"
        PUSH = "push", "Push"

    class Kind(models.TextChoices):
        RESERVED = "reserved", "Reserved"
        RELEASED = "released", "Released"
        SENT = "sent", "Sent"

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    # No index of its own: usage_entry_period (period, channel) serves every lookup by period, and each index is
    # one more write on every accepted message.
    period = models.ForeignKey(BillingPeriod, on_delete=models.CASCADE, related_name="entries", db_index=False)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    message_id = models.UUIDField()
    units = models.IntegerField()
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "usage entries"
        ordering = ("-id",)
        constraints = [
            models.UniqueConstraint(fields=["channel", "message_id", "kind"], name="usage_entry_idempotent"),
        ]
        indexes = [models.Index(fields=["period", "channel"], name="usage_entry_period")]

    def __str__(self) -> str:
        return f"{self.channel} {self.kind} {self.units:+d} ({self.message_id})"


class PlanChange(models.Model):
    """A plan change inside a period, effective from `effective_on` to the period's end: invoiced as a credit of
    the old plan and a charge of the new one for those days."""

    period = models.ForeignKey(BillingPeriod, on_delete=models.CASCADE, related_name="plan_changes")
    from_plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    to_plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    effective_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return f"{self.from_plan} → {self.to_plan} on {self.effective_on}"


class UsageAlert(models.Model):
    """A period's usage crossed a share of its included emails. Recorded once per period and threshold by billing;
    the owner's email and the webhook event are sent by `events`, which stamps `notified_at`."""

    THRESHOLDS = (80, 90, 100)

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    period = models.ForeignKey(BillingPeriod, on_delete=models.CASCADE, related_name="alerts")
    threshold = models.PositiveSmallIntegerField(help_text="Percent of the period's included emails.")
    emails_used = models.IntegerField(help_text="Usage when the threshold was crossed.")
    included_emails = models.PositiveIntegerField()
    crossed_at = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)
    notice = models.TextField(blank=True, help_text="What sending the notice did (or why it could not).")

    class Meta:
        ordering = ("-crossed_at",)
        constraints = [models.UniqueConstraint(fields=["period", "threshold"], name="usage_alert_once")]
        indexes = [models.Index(fields=["crossed_at"], condition=Q(notified_at=None), name="usage_alert_unsent")]

    def __str__(self) -> str:
        return f"{self.account} at {self.threshold}%"


class Invoice(models.Model):
    """What a period cost, issued when it closes. Totals are the sum of the lines, each rounded on its own."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        PAID = "paid", "Paid"
        VOID = "void", "Void"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="invoices")
    period = models.OneToOneField(BillingPeriod, on_delete=models.PROTECT, related_name="invoice")
    number = models.CharField(max_length=32, unique=True, null=True, blank=True, help_text="Given when issued.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    currency = models.CharField(max_length=3, default="USD")
    period_start = models.DateField()
    period_end = models.DateField(help_text="The period's last day.")
    emails_used = models.IntegerField()
    included_emails = models.PositiveIntegerField()
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    issued_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-period_start", "-created_at")
        indexes = [models.Index(fields=["account", "-period_start"], name="invoice_account_newest")]

    def __str__(self) -> str:
        return self.number or f"draft {self.period_start}"


class InvoiceLine(models.Model):
    class Kind(models.TextChoices):
        BASE = "base", "Base plan"
        PRORATION_CREDIT = "proration_credit", "Proration credit"
        PRORATION_CHARGE = "proration_charge", "Proration charge"
        OVERAGE = "overage", "Overage"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    number = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.CharField(max_length=300)
    quantity = models.IntegerField(help_text="Days for plan lines, emails for overage.")
    unit_price = models.DecimalField(max_digits=12, decimal_places=6, help_text="Per day or per email, unrounded.")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True, help_text="Last day covered.")

    class Meta:
        ordering = ("invoice", "number")
        constraints = [models.UniqueConstraint(fields=["invoice", "number"], name="invoice_line_unique_number")]

    def __str__(self) -> str:
        return f"{self.number}. {self.description}: {self.amount}"
