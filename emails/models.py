import uuid

from django.db import models
from django.db.models import Q

from config.delivery.outbox import OutboxMessage, outbox_indexes
from emails.inbox.models import Conversation, ConversationNote, InboundDomain, InboxAttachment, InboxMessage
from emails.templating.models import Template, TemplateVersion, template_version_link

# Message templates (emails.templating) and the team inbox (emails.inbox) live in packages; Django finds them here.
__all__ = [
    "Conversation",
    "ConversationNote",
    "InboundDomain",
    "InboxAttachment",
    "InboxMessage",
    "Template",
    "TemplateVersion",
]


class Email(OutboxMessage):
    """One accepted email: the outbox row of the delivery engine. Postgres is the queue; Redis holds only lanes
    and send buckets, which beat rebuilds."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELAYED = "delayed", "Delayed"
        DELIVERED = "delivered", "Delivered"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"
        SUPPRESSED = "suppressed", "Suppressed"
        CANCELLED = "cancelled", "Cancelled"

    # Waiting to be sent: the engine's claim and the cancel action only look at these.
    WAITING = (Status.SCHEDULED, Status.QUEUED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="emails")
    connection = models.ForeignKey("accounts.AwsConnection", on_delete=models.PROTECT, related_name="emails")
    client_email_id = models.CharField(max_length=255, null=True, blank=True)

    from_address = models.CharField(max_length=998)
    to_address = models.CharField(max_length=998)
    to_email = models.CharField(max_length=320, default="", help_text="The `to` address alone, lower-cased.")
    cc = models.JSONField(default=list, blank=True)
    bcc = models.JSONField(default=list, blank=True)
    reply_to = models.CharField(max_length=998, blank=True)
    subject = models.TextField()
    # Bodies and attachments are dropped (set to null) once the email falls outside the plan's storage limit.
    html_body = models.TextField(null=True, blank=True)
    text_body = models.TextField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    attachments = models.JSONField(default=list, blank=True, null=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    dropped_recipients = models.JSONField(
        default=list, blank=True, help_text="Recipients removed at accept time, with the reason."
    )

    # priority, send_at, claimed_at, sent_at, attempts, cost (recipients) and failure_reason: see OutboxMessage.
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    scheduled_for = models.DateTimeField(null=True, blank=True, help_text="schedule_send_at, when given.")
    created_at = models.DateTimeField(auto_now_add=True)
    ses_message_id = models.CharField(max_length=255, null=True, blank=True)
    size_bytes = models.PositiveIntegerField(default=0, help_text="Size of the MIME message.")
    resent_from = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="resends")
    body_pruned_at = models.DateTimeField(null=True, blank=True)
    template_version = template_version_link()
    sealed = models.BooleanField(
        default=False,
        help_text="The bodies carry a secret (a one-time passcode): the API, the admin and the simulator never show "
        "them, and they are dropped once sent.",
    )

    # Outcomes reported by SES events (the events app keeps them current).
    recipient_outcomes = models.JSONField(default=dict, blank=True, help_text="address -> strongest outcome")
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    open_count = models.PositiveIntegerField(default=0)
    click_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=["account", "client_email_id"],
                condition=Q(client_email_id__isnull=False),
                name="email_unique_client_email_id",
            ),
            models.UniqueConstraint(
                fields=["ses_message_id"], condition=Q(ses_message_id__isnull=False), name="email_unique_ses_id"
            ),
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=100), name="email_priority_1_100"),
        ]
        indexes = [
            *outbox_indexes("email"),
            models.Index(fields=["account", "-created_at"], name="email_account_newest"),
            models.Index(fields=["account", "status", "-created_at"], name="email_account_status_newest"),
            models.Index(fields=["account", "to_email", "-created_at"], name="email_account_to"),
        ]

    def __str__(self) -> str:
        return f"{self.subject[:60]} → {self.to_address}"

    @property
    def recipients(self) -> list[str]:
        return [self.to_address, *self.cc, *self.bcc]


class EmailEvent(models.Model):
    """One line of an email's timeline: something Sesame did, or an SES event, for one recipient.

    Rows from SES carry the SES message id; an event that arrives before its email row is committed is kept
    with `email` empty and matched when the email appears.
    """

    class Source(models.TextChoices):
        SESAME = "sesame", "Sesame"
        SES = "ses", "Amazon SES"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+", null=True)
    email = models.ForeignKey(Email, on_delete=models.CASCADE, related_name="events", null=True, blank=True)
    connection = models.ForeignKey(
        "accounts.AwsConnection", on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    ses_message_id = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    event_type = models.CharField(max_length=40, help_text="accepted, sent, failed, delivery, bounce, open, ...")
    subtype = models.CharField(
        max_length=80, blank=True, help_text="Bounce type, complaint feedback type or delay type, as SES reports it."
    )
    recipient = models.CharField(max_length=320, blank=True)
    detail = models.TextField(blank=True, help_text="A human-readable summary: bounce type, failure reason, link.")
    payload = models.JSONField(default=dict, blank=True)
    # The SNS notification it came from, named lazily: the events app writes these rows, emails never imports it.
    notification = models.ForeignKey(
        "events.SnsNotification", on_delete=models.SET_NULL, related_name="events", null=True, blank=True
    )
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("occurred_at", "id")
        indexes = [
            models.Index(fields=["email", "occurred_at"], name="email_event_timeline"),
            models.Index(fields=["ses_message_id"], name="email_event_ses_id"),
            models.Index(fields=["connection", "event_type", "occurred_at"], name="email_event_conn_type_time"),
            # The orphan sweep: SES events still waiting for their email row.
            models.Index(
                fields=["created_at"],
                condition=Q(email__isnull=True) & ~Q(ses_message_id=""),
                name="email_event_orphans",
            ),
            # "Three transient bounces in seven days" per address.
            models.Index(
                fields=["account", "recipient", "occurred_at"],
                condition=Q(event_type="bounce"),
                name="email_event_bounces_by_rcpt",
            ),
        ]
        constraints = [
            # Belt and braces for reprocessing: one row per notification and recipient.
            models.UniqueConstraint(
                fields=["notification", "recipient"],
                condition=Q(notification__isnull=False),
                name="email_event_unique_per_notification",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.recipient}".strip()


class Suppression(models.Model):
    """An address this account never sends to again (until an operator or the API removes it)."""

    class Reason(models.TextChoices):
        HARD_BOUNCE = "hard_bounce", "Hard bounce"
        COMPLAINT = "complaint", "Complaint"
        MANUAL = "manual", "Manual"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribe"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="suppressions")
    address = models.CharField(max_length=320, help_text="Lower-cased email address.")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    source_email = models.ForeignKey(Email, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [models.UniqueConstraint(fields=["account", "address"], name="suppression_unique_address")]
        indexes = [models.Index(fields=["account", "-created_at"], name="suppression_account_newest")]

    def __str__(self) -> str:
        return f"{self.address} ({self.reason})"


class BlockedDomain(models.Model):
    """A recipient domain this account refuses, on top of the shipped disposable-domain list."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="blocked_domains")
    domain = models.CharField(max_length=253)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("domain",)
        constraints = [models.UniqueConstraint(fields=["account", "domain"], name="blocked_domain_unique")]

    def __str__(self) -> str:
        return self.domain


class Identity(models.Model):
    """A sender identity (domain or address) of one AWS connection, with its cached verification state."""

    class Kind(models.TextChoices):
        DOMAIN = "domain", "Domain"
        ADDRESS = "address", "Email address"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        VERIFIED = "verified", "Verified"
        FAILED = "failed", "Failed"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="identities")
    connection = models.ForeignKey("accounts.AwsConnection", on_delete=models.CASCADE, related_name="identities")
    name = models.CharField(max_length=320, help_text="example.com or sender@example.com, lower-cased.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    dkim_tokens = models.JSONField(default=list, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "identities"
        constraints = [models.UniqueConstraint(fields=["connection", "name"], name="identity_unique_per_connection")]

    def __str__(self) -> str:
        return self.name

    @property
    def dkim_records(self) -> list[tuple[str, str, str]]:
        """The CNAME records to publish: (name, type, value)."""
        if self.kind != self.Kind.DOMAIN:
            return []
        return [(f"{t}._domainkey.{self.name}", "CNAME", f"{t}.dkim.amazonses.com") for t in self.dkim_tokens]


class SimulatedMessage(models.Model):
    """What the local SES simulator 'sent': the raw MIME, kept for the admin to show."""

    message_id = models.CharField(max_length=255, unique=True)
    email = models.ForeignKey(Email, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    connection = models.ForeignKey("accounts.AwsConnection", on_delete=models.CASCADE, related_name="+")
    destinations = models.JSONField(default=list)
    raw = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.message_id


# Sign-up forms live in their own package; Django finds models through this module.
from emails.forms.models import SignupForm, SignupRequest  # noqa: E402

__all__ = [
    "BlockedDomain",
    "Email",
    "EmailEvent",
    "Identity",
    "SignupForm",
    "SignupRequest",
    "SimulatedMessage",
    "Suppression",
]
