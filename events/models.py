import uuid

from django.db import models
from django.db.models import Q

from accounts.fields import EncryptedTextField


class SnsNotification(models.Model):
    """A raw SNS POST that passed verification (or a simulator event), committed before any processing."""

    class Origin(models.TextChoices):
        SNS = "sns", "SNS (signature verified)"
        SIMULATOR = "simulator", "Local SES simulator"

    class Kind(models.TextChoices):
        PENDING = "", "Not processed yet"
        SES_EVENT = "ses_event", "SES event"
        INBOUND = "inbound", "Received mail"
        ALARM = "alarm", "CloudWatch alarm"
        SUBSCRIPTION = "subscription", "Subscription message"
        OTHER = "other", "Other message"

    connection = models.ForeignKey("accounts.AwsConnection", on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField("SNS MessageId", max_length=100)
    message_type = models.CharField(max_length=40, help_text="Notification, SubscriptionConfirmation, ...")
    topic_arn = models.CharField(max_length=300, blank=True)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.SNS)
    body = models.TextField(help_text="The envelope exactly as received.")
    sns_timestamp = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    source_ip = models.GenericIPAddressField(null=True, blank=True)

    kind = models.CharField(max_length=20, choices=Kind.choices, blank=True, default=Kind.PENDING)
    event_type = models.CharField(max_length=60, blank=True, help_text="eventType / notificationType / alarm name.")
    ses_message_id = models.CharField(max_length=255, blank=True)
    result = models.TextField(blank=True, help_text="What processing did, in words.")
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="Last handed to a worker.")
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    failed_at = models.DateTimeField(null=True, blank=True, help_text="Gave up after repeated errors.")

    class Meta:
        ordering = ("-received_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["connection", "message_id"], name="sns_notification_unique_message"),
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(processed_at__isnull=True, failed_at__isnull=True),
                name="sns_notification_unprocessed",
            ),
            models.Index(fields=["connection", "-received_at"], name="sns_notification_conn_newest"),
            # The drain walks the accounts with waiting notifications and takes each one's oldest.
            models.Index(
                fields=["account", "received_at"],
                condition=Q(processed_at__isnull=True, failed_at__isnull=True, enqueued_at__isnull=True),
                name="sns_notification_waiting",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_type} {self.message_id}"


class ConnectionReputation(models.Model):
    """Reputation protection's view of one AWS connection: current state, last rates, the alarm flag."""

    class State(models.TextChoices):
        HEALTHY = "healthy", "Healthy"
        THROTTLED = "throttled", "Throttled"
        PAUSED = "paused", "Paused"
        RECOVERING = "recovering", "Recovering"

    connection = models.OneToOneField(
        "accounts.AwsConnection", on_delete=models.CASCADE, primary_key=True, related_name="reputation"
    )
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=12, choices=State.choices, default=State.HEALTHY)
    sends = models.PositiveIntegerField(default=0, help_text="Recipients sent in the window.")
    bounces = models.PositiveIntegerField(default=0, help_text="Hard bounces in the window.")
    complaints = models.PositiveIntegerField(default=0)
    bounce_rate = models.FloatField(null=True, blank=True)
    complaint_rate = models.FloatField(null=True, blank=True)
    cloudwatch_bounce_rate = models.FloatField(null=True, blank=True)
    cloudwatch_complaint_rate = models.FloatField(null=True, blank=True)
    alarm_active = models.BooleanField(default=False, help_text="A CloudWatch reputation alarm is in ALARM.")
    counting_since = models.DateTimeField(
        null=True, blank=True, help_text="Events before this are ignored (set when an operator resumes by hand)."
    )
    healthy_since = models.DateTimeField(null=True, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("state", "connection")
        indexes = [models.Index(fields=["state"], name="reputation_state")]

    def __str__(self) -> str:
        return f"{self.connection_id}: {self.state}"


class ReputationChange(models.Model):
    """History: every state change of a connection's reputation protection, and whom it told."""

    reputation = models.ForeignKey(ConnectionReputation, on_delete=models.CASCADE, related_name="history")
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    from_state = models.CharField(max_length=12, choices=ConnectionReputation.State.choices)
    to_state = models.CharField(max_length=12, choices=ConnectionReputation.State.choices)
    send_rate_factor = models.FloatField()
    bounce_rate = models.FloatField(null=True, blank=True)
    complaint_rate = models.FloatField(null=True, blank=True)
    reason = models.TextField()
    notified_email = models.ForeignKey(
        "emails.Email", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notify_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["reputation", "-created_at"], name="reputation_change_newest")]

    def __str__(self) -> str:
        return f"{self.from_state} → {self.to_state}"


class WebhookEndpoint(models.Model):
    """A customer's HTTPS endpoint that receives delivery events, signed with its own secret.

    Failures are tracked per endpoint, not per delivery: after a failed attempt the whole endpoint waits
    (`retry_at`, growing exponentially with `consecutive_failures`), and one that keeps failing is disabled.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused by the customer"
        DISABLED = "disabled", "Disabled after failing"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    event_types = models.JSONField(default=list, help_text='Event types to receive, or ["*"] for all.')
    description = models.CharField(max_length=200, blank=True)
    secret = EncryptedTextField(help_text="HMAC-SHA256 key; shown to the customer once.")
    secret_prefix = models.CharField(max_length=16, help_text="The first characters, for recognition.")
    is_active = models.BooleanField(default=True, help_text="Off when paused by the customer or disabled by Sesame.")
    consecutive_failures = models.PositiveIntegerField(
        default=0, help_text="Failed attempts in a row (attempts made at the same time count once)."
    )
    failing_since = models.DateTimeField(null=True, blank=True, help_text="First failure of the current streak.")
    retry_at = models.DateTimeField(null=True, blank=True, help_text="Backed off: no attempt before this.")
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    disabled_notice = models.ForeignKey(
        "emails.Email",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The email that told the account owner.",
    )
    disabled_notice_error = models.TextField(blank=True, help_text="Why the owner was not emailed.")
    deliveries_dropped = models.PositiveIntegerField(
        default=0, help_text="Pending deliveries dropped because the account's pending limit was reached."
    )
    last_dropped_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["account", "-created_at"], name="webhook_endpoint_newest")]

    def __str__(self) -> str:
        return self.url

    @property
    def status(self) -> str:
        if self.disabled_at is not None:
            return self.Status.DISABLED
        return self.Status.ACTIVE if self.is_active else self.Status.PAUSED

    def wants(self, event_type: str) -> bool:
        return self.is_active and ("*" in self.event_types or event_type in self.event_types)


class WebhookDelivery(models.Model):
    """One event to POST to one endpoint, retried (as its endpoint's backoff allows) until it succeeds, its retry
    window ends, or the account's pending limit drops it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"
        DROPPED = "dropped", "Dropped (pending limit)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey("emails.EmailEvent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    event_type = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(
        null=True, blank=True, help_text="An attempt is in flight; after this a crashed attempt is taken again."
    )
    give_up_at = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_newest"),
            # The drain walks endpoints with pending work and takes each one's oldest due deliveries.
            models.Index(
                fields=["endpoint", "next_attempt_at"], condition=Q(status="pending"), name="webhook_delivery_queue"
            ),
            # The per-account pending limit counts these and drops the oldest.
            models.Index(
                fields=["account", "created_at"], condition=Q(status="pending"), name="webhook_delivery_backlog"
            ),
            models.Index(
                fields=["account"],
                condition=Q(status="pending", leased_until__isnull=False),
                name="webhook_delivery_in_flight",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ("-attempted_at", "-id")

    def __str__(self) -> str:
        return f"{self.status_code or self.error[:40]}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Rollup(models.Model):
    """How many of one metric (sent, delivered, bounced, ...) one channel counted in one hour or day, per account,
    connection and dimension: dashboards read these instead of the message and event tables.

    `dimension` is "" for everything, `tag:<tag>` or `field:<key>=<value>` for the messages carrying that tag or
    custom field. Rows are written only by the compaction of `RollupDelta` rows (events/services/rollups.py), never
    on the events path, so no event waits on another for a hot counter row."""

    class Period(models.TextChoices):
        HOUR = "hour", "Hour"
        DAY = "day", "Day"

    period = models.CharField(max_length=4, choices=Period.choices)
    bucket = models.DateTimeField(help_text="Start of the hour or day (UTC).")
    channel = models.CharField(max_length=16, help_text="email, sms, push, ...")
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey("accounts.AwsConnection", on_delete=models.CASCADE, related_name="+")
    dimension = models.CharField(max_length=200, blank=True, default="")
    metric = models.CharField(max_length=20)
    count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ("-bucket",)
        constraints = [
            # Leading with (period, dimension, channel, metric, bucket) also serves one metric across accounts (the
            # 24-hour sends of every connection, for "near their limits").
            models.UniqueConstraint(
                fields=["period", "dimension", "channel", "metric", "bucket", "account", "connection"],
                name="rollup_unique_key",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "period", "dimension", "bucket"], name="rollup_account"),
            models.Index(fields=["connection", "period", "dimension", "bucket"], name="rollup_connection"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.metric} {self.period} {self.bucket:%Y-%m-%d %H:00} {self.dimension}".strip()


class RollupTotal(models.Model):
    """The same counts summed over every account and connection: the overview reads a few hundred of these rows
    instead of one per connection (written by the same compaction, in the same transaction)."""

    period = models.CharField(max_length=4, choices=Rollup.Period.choices)
    bucket = models.DateTimeField()
    channel = models.CharField(max_length=16)
    dimension = models.CharField(max_length=200, blank=True, default="")
    metric = models.CharField(max_length=20)
    count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ("-bucket",)
        constraints = [
            models.UniqueConstraint(
                fields=["period", "dimension", "channel", "metric", "bucket"], name="rollup_total_unique_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.metric} {self.period} {self.bucket:%Y-%m-%d %H:00} {self.dimension}".strip()


class RollupDelta(models.Model):
    """An increment waiting to be folded into `Rollup`: the events path only ever inserts these (no conflicts, no
    row locks shared between workers); beat's compaction moves them into the hourly and daily rows, and readers add
    what is still waiting here."""

    bucket = models.DateTimeField(help_text="Start of the hour (UTC).")
    channel = models.CharField(max_length=16)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey("accounts.AwsConnection", on_delete=models.CASCADE, related_name="+")
    dimension = models.CharField(max_length=200, blank=True, default="")
    metric = models.CharField(max_length=20)
    count = models.IntegerField(default=1)

    class Meta:
        indexes = [models.Index(fields=["bucket"], name="rollup_delta_bucket")]

    def __str__(self) -> str:
        return f"+{self.count} {self.channel} {self.metric} {self.bucket:%Y-%m-%d %H:00} {self.dimension}".strip()


class ConnectionProvisioning(models.Model):
    """The last `provision_connection` run of a connection, step by step (with the IAM action AWS refused, if any),
    for the connection's health page and API."""

    connection = models.OneToOneField(
        "accounts.AwsConnection", on_delete=models.CASCADE, primary_key=True, related_name="provisioning"
    )
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    steps = models.JSONField(default=list, help_text='[{"name", "status", "detail", "permission"}]')
    ran_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Provisioning of {self.connection_id} at {self.ran_at:%Y-%m-%d %H:%M:%S}"


# Automations and broadcasts live in their own packages (events/automations/, events/broadcasts/); Django finds
# their models through this module.
from events.automations.models import (  # noqa: E402
    Automation,
    AutomationEntry,
    AutomationRun,
    AutomationRunStep,
    AutomationSegmentMember,
    AutomationVersion,
)
from events.broadcasts.models import Broadcast, BroadcastRecipient  # noqa: E402

__all__ = [
    "Automation",
    "AutomationEntry",
    "AutomationRun",
    "AutomationRunStep",
    "AutomationSegmentMember",
    "AutomationVersion",
    "Broadcast",
    "BroadcastRecipient",
]
