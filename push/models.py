import hashlib
import uuid

from django.db import models
from django.db.models import Q

from accounts.fields import EncryptedTextField
from config.delivery.outbox import OutboxMessage, outbox_indexes
from emails.templating.models import template_version_link

# How much of a device token may be shown anywhere outside the database (API, admin, logs).
TOKEN_PREFIX_LENGTH = 8


class PushApp(models.Model):
    """One SNS platform application of an account's AWS connection: APNs (production or sandbox) or FCM."""

    class Platform(models.TextChoices):
        APNS = "APNS", "APNs (production)"
        APNS_SANDBOX = "APNS_SANDBOX", "APNs (sandbox)"
        GCM = "GCM", "FCM (HTTP v1)"

    class Credential(models.TextChoices):
        APNS_KEY = "apns_key", "APNs .p8 signing key"
        FCM_SERVICE_ACCOUNT = "fcm_service_account", "FCM service-account JSON"
        ADOPTED = "adopted", "Adopted ARN (credentials kept in SNS)"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="push_apps")
    connection = models.ForeignKey("accounts.AwsConnection", on_delete=models.PROTECT, related_name="push_apps")
    name = models.CharField(
        max_length=200, help_text="Also the SNS platform application's name when Sesame creates it."
    )
    platform = models.CharField(max_length=20, choices=Platform.choices)
    platform_application_arn = models.CharField("SNS platform application ARN", max_length=400)
    credential_kind = models.CharField(max_length=30, choices=Credential.choices)
    # The uploaded key or service-account JSON: encrypted, never shown again (SNS holds its own copy).
    credentials = EncryptedTextField(blank=True)
    # What may be shown about the credentials: key id, team id, bundle id, FCM project and client email.
    credential_summary = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    paused_reason = models.TextField(blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_notice_id = models.UUIDField(null=True, blank=True, help_text="The owner's notice email, when one went out.")
    pause_notice_error = models.TextField(blank=True, help_text="Why no notice email went out.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="pushapp_unique_name"),
            models.UniqueConstraint(fields=["platform_application_arn"], name="pushapp_unique_arn"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.platform})"

    @property
    def is_paused(self) -> bool:
        return self.status == self.Status.PAUSED


class PushDevice(models.Model):
    """One app install: an SNS platform endpoint for a device token. The token is a secret of the end user: only
    its SHA-256 (to find the device again) and a short prefix (to recognise it) are stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="push_devices")
    app = models.ForeignKey(PushApp, on_delete=models.CASCADE, related_name="devices")
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="push_devices"
    )
    token_hash = models.CharField(max_length=64, editable=False)
    token_prefix = models.CharField(max_length=TOKEN_PREFIX_LENGTH)
    endpoint_arn = models.CharField("SNS endpoint ARN", max_length=500, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Disabled because a send failed (not by the caller): the broken-app guard may take that back.
    disabled_by_failure = models.BooleanField(default=False)
    # Kept enabled by the broken-app guard while SNS may have disabled its endpoint: re-enabled there on resume.
    endpoint_needs_enable = models.BooleanField(default=False)
    locale = models.CharField(max_length=35, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    registered_at = models.DateTimeField(help_text="The latest registration.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [models.UniqueConstraint(fields=["app", "token_hash"], name="pushdevice_unique_token")]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="pushdevice_account_newest"),
            models.Index(fields=["contact", "app"], condition=Q(enabled=True), name="pushdevice_enabled_by_contact"),
            models.Index(fields=["endpoint_arn"], name="pushdevice_endpoint"),
            models.Index(
                fields=["app", "disabled_at"], condition=Q(disabled_by_failure=True), name="pushdevice_failed"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.token_prefix}… ({self.app_id})"


class PushMessage(models.Model):
    """One `POST /v1/push`: what to show, and to whom (a device, a contact's devices or a segment's). Each device
    reached gets a PushDelivery, the delivery engine's outbox row."""

    class Target(models.TextChoices):
        DEVICE = "device", "Device"
        CONTACT = "contact", "Contact"
        SEGMENT = "segment", "Segment"

    class Status(models.TextChoices):
        FANNING_OUT = "fanning_out", "Fanning out"
        SCHEDULED = "scheduled", "Scheduled"
        QUEUED = "queued", "Queued"
        CANCELLED = "cancelled", "Cancelled"

    class Urgency(models.TextChoices):
        HIGH = "high", "High"
        NORMAL = "normal", "Normal"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="push_messages")
    client_push_id = models.CharField(max_length=255, null=True, blank=True)
    target = models.CharField(max_length=10, choices=Target.choices)
    device = models.ForeignKey(PushDevice, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    segment = models.ForeignKey("contacts.Segment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    title = models.CharField(max_length=500, blank=True)
    body = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    template_version = template_version_link()
    # Set only for a push rendered again for each contact (a templated segment push): the call's variables.
    variables = models.JSONField(
        null=True,
        blank=True,
        help_text="A templated segment push's variables: each contact's deliveries are rendered with them and its own.",
    )
    badge = models.PositiveIntegerField(null=True, blank=True)
    sound = models.CharField(max_length=200, blank=True)
    ttl_seconds = models.PositiveIntegerField(null=True, blank=True)
    collapse_key = models.CharField(max_length=64, blank=True)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.HIGH)
    priority = models.PositiveSmallIntegerField(default=50, help_text="The engine's priority: 1 is the most urgent.")
    tags = models.JSONField(default=list, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    send_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices)
    # A segment's fan-out walks its contacts by id: the last id done, so a retried chunk never repeats a device.
    fanout_cursor = models.BigIntegerField(default=0)
    fanout_touched_at = models.DateTimeField(null=True, blank=True)
    device_count = models.PositiveIntegerField(default=0, help_text="Deliveries created so far.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=["account", "client_push_id"],
                condition=Q(client_push_id__isnull=False),
                name="pushmessage_unique_client_id",
            ),
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=100), name="pushmessage_priority_1_100"),
        ]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="pushmessage_account_newest"),
            models.Index(fields=["fanout_touched_at"], condition=Q(status="fanning_out"), name="pushmessage_fanning"),
        ]

    def __str__(self) -> str:
        return (self.title or self.body)[:60]


class PushDelivery(OutboxMessage):
    """One message to one device: the delivery engine's outbox row for the push channel."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        QUEUED = "queued", "Queued"
        HELD = "held", "Held (app paused)"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    WAITING = (Status.SCHEDULED, Status.QUEUED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey("accounts.AwsConnection", on_delete=models.PROTECT, related_name="+")
    message = models.ForeignKey(PushMessage, on_delete=models.CASCADE, related_name="deliveries")
    # A deleted device's deliveries stay in their message's history.
    device = models.ForeignKey(PushDevice, on_delete=models.SET_NULL, null=True, related_name="deliveries")
    app = models.ForeignKey(PushApp, on_delete=models.CASCADE, related_name="deliveries")
    contact_id = models.BigIntegerField(null=True, blank=True, help_text="The device's contact when it was queued.")
    # A templated segment push is rendered for each contact: its title, body and data, in place of the push's own.
    content = models.JSONField(null=True, blank=True, help_text="Title, body and data rendered for this contact.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    sns_message_id = models.CharField(max_length=100, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at",)
        verbose_name_plural = "push deliveries"
        constraints = [
            # A device gets a message once, however often a fan-out chunk runs.
            models.UniqueConstraint(fields=["message", "device"], name="pushdelivery_once_per_device"),
        ]
        indexes = [
            *outbox_indexes("push"),
            models.Index(fields=["app", "claimed_at"], name="pushdelivery_app_claimed"),
            models.Index(fields=["app"], condition=Q(status="held"), name="pushdelivery_held"),
            models.Index(fields=["sns_message_id"], name="pushdelivery_sns_id"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.device_id}"


class PushEvent(models.Model):
    """A line of a delivery's and a device's timeline: registered, sent, failed, disabled, ..."""

    class Source(models.TextChoices):
        SESAME = "sesame", "Sesame"
        SNS = "sns", "Amazon SNS"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(PushDevice, on_delete=models.SET_NULL, null=True, blank=True, related_name="events")
    delivery = models.ForeignKey(PushDelivery, on_delete=models.CASCADE, null=True, blank=True, related_name="events")
    event_type = models.CharField(max_length=40)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.SESAME)
    detail = models.TextField(blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ("occurred_at", "id")
        indexes = [
            models.Index(fields=["delivery", "occurred_at"], name="pushevent_delivery"),
            models.Index(fields=["device", "occurred_at"], name="pushevent_device"),
        ]

    def __str__(self) -> str:
        return self.event_type


class PushConnectionRate(models.Model):
    """The push send rate of one AWS connection, when it differs from SESAME_PUSH_SEND_RATE."""

    connection = models.OneToOneField(
        "accounts.AwsConnection", on_delete=models.CASCADE, primary_key=True, related_name="push_rate"
    )
    rate = models.FloatField(help_text="SNS publishes per second for this connection's push messages.")
    held_until = models.DateTimeField(null=True, blank=True, help_text="SNS refused for quota: nothing before this.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.connection_id}: {self.rate}/s"


class SimulatedEndpoint(models.Model):
    """The local push simulator's platform endpoints (SESAME_AWS_MODE=simulator), keyed by their fake ARNs."""

    arn = models.CharField(max_length=500, unique=True)
    application_arn = models.CharField(max_length=400)
    token_hash = models.CharField(max_length=64)
    token = EncryptedTextField(help_text="Kept (encrypted) because SNS answers it in GetEndpointAttributes.")
    custom_user_data = models.CharField(max_length=2048, blank=True)
    enabled = models.BooleanField(default=True)
    outcome = models.CharField(max_length=20, help_text="What publishing to it does: delivered, disabled or failed.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application_arn", "token_hash"], name="simendpoint_unique_token")
        ]

    def __str__(self) -> str:
        return self.arn


class SimulatedPush(models.Model):
    """What the simulator 'published': the exact SNS message, kept for the admin to show."""

    message_id = models.CharField(max_length=100, unique=True)
    endpoint_arn = models.CharField(max_length=500)
    message = models.TextField()
    attributes = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name_plural = "simulated pushes"

    def __str__(self) -> str:
        return self.message_id


def token_hash(token: str) -> str:
    """How a device token is stored: device tokens are long random strings, so a plain SHA-256 cannot be reversed."""
    return hashlib.sha256(token.encode()).hexdigest()
