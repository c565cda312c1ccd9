import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Q

from accounts.fields import EncryptedTextField
from config.delivery.outbox import OutboxMessage, outbox_indexes
from emails.templating.models import template_version_link


class SmsMessage(OutboxMessage):
    """One accepted SMS: the SMS channel's outbox row of the delivery engine."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        SUPPRESSED = "suppressed", "Suppressed"
        CANCELLED = "cancelled", "Cancelled"

    class Type(models.TextChoices):
        TRANSACTIONAL = "transactional", "Transactional"
        PROMOTIONAL = "promotional", "Promotional"

    class Encoding(models.TextChoices):
        GSM7 = "GSM-7", "GSM-7"
        UCS2 = "UCS-2", "UCS-2"

    WAITING = (Status.SCHEDULED, Status.QUEUED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="sms_messages")
    connection = models.ForeignKey("accounts.AwsConnection", on_delete=models.PROTECT, related_name="sms_messages")
    client_sms_id = models.CharField(max_length=255, null=True, blank=True)
    to = models.CharField(max_length=16, help_text="E.164.")
    country = models.CharField(max_length=2, help_text="ISO 3166 region of `to`.")
    # What the API and the admin show. A one-time passcode is shown masked; its real text waits in sealed_body.
    body = models.TextField()
    sealed_body = EncryptedTextField(
        blank=True, help_text="An OTP's text with its code, encrypted, kept only until it leaves the queue."
    )
    template_version = template_version_link()
    encoding = models.CharField(max_length=5, choices=Encoding.choices)
    segments = models.PositiveSmallIntegerField()
    sms_type = models.CharField(max_length=13, choices=Type.choices, default=Type.TRANSACTIONAL)
    sender_id = models.CharField(max_length=11, blank=True)
    origination_number = models.CharField(max_length=16, blank=True)
    max_price = models.DecimalField(max_digits=9, decimal_places=5, null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    otp = models.ForeignKey(
        "sms.OtpVerification", on_delete=models.SET_NULL, null=True, blank=True, related_name="sms_messages"
    )

    # priority, send_at, claimed_at, sent_at, attempts, cost and failure_reason: see OutboxMessage.
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sns_message_id = models.CharField(max_length=255, null=True, blank=True)
    # Reported by the delivery-status logs.
    delivered_at = models.DateTimeField(null=True, blank=True)
    price_usd = models.DecimalField(max_digits=12, decimal_places=5, null=True, blank=True)
    provider_response = models.TextField(blank=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "SMS"
        verbose_name_plural = "SMS"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "client_sms_id"],
                condition=Q(client_sms_id__isnull=False),
                name="sms_unique_client_sms_id",
            ),
            models.UniqueConstraint(
                fields=["sns_message_id"], condition=Q(sns_message_id__isnull=False), name="sms_unique_sns_id"
            ),
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=100), name="sms_priority_1_100"),
        ]
        indexes = [
            *outbox_indexes("sms"),
            models.Index(fields=["account", "-created_at"], name="sms_account_newest"),
            models.Index(fields=["account", "status", "-created_at"], name="sms_account_status_newest"),
            models.Index(fields=["account", "to", "-created_at"], name="sms_account_to"),
            # The passcode texts still to wipe.
            models.Index(fields=["created_at"], condition=~Q(sealed_body=""), name="sms_sealed"),
        ]

    def __str__(self) -> str:
        return f"{self.to}: {self.body[:40]}"


class SmsEvent(models.Model):
    """One line of an SMS's timeline: something Sesame did, or a delivery-status log event from SNS."""

    class Source(models.TextChoices):
        SESAME = "sesame", "Sesame"
        SNS = "sns", "Amazon SNS"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(SmsMessage, on_delete=models.CASCADE, related_name="events", null=True, blank=True)
    connection = models.ForeignKey("accounts.AwsConnection", on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=10, choices=Source.choices)
    event_type = models.CharField(max_length=40, help_text="accepted, sent, delivered, failed, suppressed, ...")
    detail = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True, help_text="The log event's delivery fields.")
    sns_message_id = models.CharField(max_length=255, blank=True)
    # CloudWatch Logs' event id: a log event read twice is stored (and counted) once.
    log_event_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("occurred_at", "id")
        indexes = [
            models.Index(fields=["message", "occurred_at"], name="sms_event_timeline"),
            models.Index(fields=["created_at"], condition=Q(message__isnull=True), name="sms_event_orphans"),
        ]

    def __str__(self) -> str:
        return self.event_type


class SmsOptOut(models.Model):
    """A number this account never sends SMS to: opted out at SNS (synced), or suppressed by the account."""

    class Source(models.TextChoices):
        SNS = "sns", "Opted out at SNS"
        DELIVERY = "delivery", "Reported opted out by delivery status"
        MANUAL = "manual", "Suppressed by the account"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="sms_opt_outs")
    phone_number = models.CharField(max_length=16)
    source = models.CharField(max_length=10, choices=Source.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "SMS opt-out"
        constraints = [models.UniqueConstraint(fields=["account", "phone_number"], name="sms_optout_unique")]
        indexes = [models.Index(fields=["account", "-created_at"], name="sms_optout_newest")]

    def __str__(self) -> str:
        return self.phone_number


class SmsSandboxNumber(models.Model):
    """A destination number added to the SNS SMS sandbox of one connection (CreateSMSSandboxPhoneNumber)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (code sent)"
        VERIFIED = "verified", "Verified"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="sms_sandbox_numbers")
    connection = models.ForeignKey("accounts.AwsConnection", on_delete=models.CASCADE, related_name="+")
    phone_number = models.CharField(max_length=16)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [models.UniqueConstraint(fields=["connection", "phone_number"], name="sms_sandbox_number_unique")]
        indexes = [models.Index(fields=["account", "-created_at"], name="sms_sandbox_newest")]

    def __str__(self) -> str:
        return self.phone_number


class SmsConnectionState(models.Model):
    """What the SMS channel knows of one AWS connection: its SMS rate, sandbox status, quota hold and where the
    delivery-status log reading stopped."""

    connection = models.OneToOneField("accounts.AwsConnection", on_delete=models.CASCADE, related_name="sms_state")
    sms_rate = models.FloatField(
        null=True, blank=True, help_text="SMS per second (SNS's SMS TPS quota); empty: SESAME_SMS_DEFAULT_RATE."
    )
    in_sandbox = models.BooleanField(default=False)
    sandbox_checked_at = models.DateTimeField(null=True, blank=True)
    held_until = models.DateTimeField(null=True, blank=True, help_text="SNS's spend or quota stop: no SMS before.")
    aws_account_id = models.CharField(max_length=12, blank=True, help_text="Names the delivery-status log groups.")
    delivery_status_provisioned_at = models.DateTimeField(null=True, blank=True)
    # {log group: {"next_token": ..., "start_ms": ...}}: where the next read resumes.
    log_cursors = models.JSONField(default=dict, blank=True)
    opt_outs_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "SMS connection state"

    def __str__(self) -> str:
        return f"SMS state of {self.connection_id}"


class SmsPolicy(models.Model):
    """An account's SMS and OTP rules: its country, where it may send, and its monthly spend limit."""

    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="sms_policy")
    country = models.CharField(max_length=2, help_text="The account's own country (ISO 3166, e.g. US).")
    allowed_countries = models.JSONField(
        default=list, blank=True, help_text="Countries SMS and OTP may go to; empty: the account's country only."
    )
    monthly_spend_limit_usd = models.DecimalField(max_digits=12, decimal_places=2)
    otp_code_length = models.PositiveSmallIntegerField(default=6, help_text="4 to 10 digits.")
    otp_email_from = models.CharField(
        max_length=320, blank=True, help_text="Sender of OTP emails: a verified identity of the default connection."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "SMS policy"
        verbose_name_plural = "SMS policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(otp_code_length__gte=4, otp_code_length__lte=10), name="sms_policy_otp_length_4_10"
            )
        ]

    def __str__(self) -> str:
        return f"SMS policy of {self.account_id}"

    @property
    def countries(self) -> list[str]:
        return list(self.allowed_countries) or [self.country]


class SmsMonthlySpend(models.Model):
    """What delivery status reported as spent by one account in one month, added as each priced event arrives."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="The first day of the month (UTC).")
    spent_usd = models.DecimalField(max_digits=14, decimal_places=5, default=Decimal(0))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "month"], name="sms_spend_unique_month")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: ${self.spent_usd}"


class OtpVerification(models.Model):
    """One one-time passcode. The code itself is never stored: only its keyed hash (HMAC-SHA256)."""

    class Channel(models.TextChoices):
        SMS = "sms", "SMS"
        EMAIL = "email", "Email"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        EXPIRED = "expired", "Expired"
        FAILED = "failed", "Failed (too many checks)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="otp_verifications")
    channel = models.CharField(max_length=5, choices=Channel.choices)
    to = models.CharField(max_length=320, help_text="E.164 number or lower-cased email address.")
    country = models.CharField(max_length=2, blank=True)
    code_hash = models.CharField(max_length=64, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    checks = models.PositiveSmallIntegerField(default=0)
    sends = models.PositiveSmallIntegerField(default=0)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "OTP verification"
        indexes = [
            models.Index(fields=["account", "channel", "to", "-created_at"], name="otp_by_destination"),
            models.Index(fields=["account", "country", "created_at"], name="otp_ratio_window"),
            models.Index(fields=["expires_at"], condition=Q(status="pending"), name="otp_pending_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} verification of {self.to}"


class OtpCountryPause(models.Model):
    """OTP sends to one country paused for one account: its verify-to-send ratio collapsed (SMS pumping)."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    country = models.CharField(max_length=2)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "OTP country pause"
        constraints = [models.UniqueConstraint(fields=["account", "country"], name="otp_pause_unique_country")]

    def __str__(self) -> str:
        return f"{self.country} paused"


class SimulatedSms(models.Model):
    """What the local SMS simulator 'delivered': the text, kept for the admin to show."""

    message_id = models.CharField(max_length=64, unique=True)
    sms = models.ForeignKey(SmsMessage, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    connection = models.ForeignKey("accounts.AwsConnection", on_delete=models.CASCADE, related_name="+")
    phone_number = models.CharField(max_length=16)
    text = models.TextField(help_text="As the phone shows it (a passcode masked).")
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "simulated SMS"
        verbose_name_plural = "simulated SMS"

    def __str__(self) -> str:
        return self.message_id
