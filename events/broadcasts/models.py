"""A broadcast, and its ledger: one row per (broadcast, contact), written before anything is sent."""

import uuid

from django.db import models
from django.db.models import Q


class Broadcast(models.Model):
    """One send of a template to an audience (a saved segment, or filters), evaluated when it starts."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"  # waiting for send_at; the audience is not materialised yet
        SENDING = "sending", "Sending"
        PAUSED = "paused", "Paused"
        SENT = "sent", "Sent"  # every recipient was handed to the delivery engine
        CANCELLED = "cancelled", "Cancelled"

    class Channel(models.TextChoices):  # each has its BroadcastChannel (channels/)
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"
        PUSH = "push", "Push"

    ACTIVE = (Status.SCHEDULED, Status.SENDING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="broadcasts")
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    template = models.ForeignKey("emails.Template", on_delete=models.PROTECT, related_name="+")
    template_version = models.ForeignKey(
        "emails.TemplateVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The version sent: the template's current one when the broadcast started.",
    )
    variables = models.JSONField(default=dict, blank=True, help_text="Template variables shared by every recipient.")
    topic = models.ForeignKey("contacts.Topic", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    segment = models.ForeignKey("contacts.Segment", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    filters = models.JSONField(
        default=dict, blank=True, help_text="Ad hoc GET /v1/contacts filters, when no segment is given."
    )
    connection = models.ForeignKey(
        "accounts.AwsConnection",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The AWS connection it sends through; none for push (each device's app has its own).",
    )
    from_address = models.CharField(
        max_length=998, blank=True, help_text="Email: a verified identity. SMS: a sender ID or origination number."
    )
    reply_to = models.CharField(max_length=998, blank=True)
    tags = models.JSONField(default=list, blank=True)
    priority = models.PositiveSmallIntegerField(default=90, help_text="1 is the most urgent, 100 the least.")
    send_at = models.DateTimeField(null=True, blank=True, help_text="When to start; set by send or schedule.")
    window_start = models.TimeField(null=True, blank=True, help_text="Send only from this time of day ...")
    window_end = models.TimeField(null=True, blank=True, help_text="... until this time of day.")
    window_timezone = models.CharField(max_length=64, default="UTC")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    audience_count = models.PositiveIntegerField(null=True, blank=True, help_text="Ledger rows, once materialised.")
    materialised_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            models.Index(fields=["account", "-created_at"], name="broadcast_account_newest"),
            # Beat's tick: what is due or under way (few rows, whatever the history).
            models.Index(fields=["send_at"], condition=Q(status__in=["scheduled", "sending"]), name="broadcast_active"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=100), name="broadcast_priority_1_100"),
        ]

    def __str__(self) -> str:
        return self.name


class BroadcastRecipient(models.Model):
    """The ledger: a contact of a broadcast's audience, and what became of it. The unique key makes the audience
    a set; a row moves `pending` -> `queued` (with its message) in the transaction that stores the message, so a
    contact is handed to the engine once, and a row is never left behind (a crash rolls both back)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        QUEUED = "queued", "Queued"  # its message is in the outbox
        DONE = "done", "Done"  # its message left the queue (its outcome is the message's)
        EXCLUDED = "excluded", "Excluded"
        FAILED = "failed", "Failed"  # no message could be made: rendering, or the channel's rules refused it
        CANCELLED = "cancelled", "Cancelled"

    id = models.BigAutoField(primary_key=True)
    # No database FKs: the audience insert would queue a million identical checks of the broadcast (~5 s of its
    # ~20 s), which is locked by that insert anyway; deletes cascade through the ORM. A deleted contact leaves its
    # ledger row, the record of what was sent.
    broadcast = models.ForeignKey(
        Broadcast, on_delete=models.CASCADE, db_index=False, db_constraint=False, related_name="recipients"
    )
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, db_index=False, db_constraint=False, related_name="+"
    )
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.DO_NOTHING, db_index=False, db_constraint=False, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(
        max_length=200,
        blank=True,
        help_text="Why excluded or failed: unsubscribed, opted_out, suppressed, sms_opted_out, no_device, ...",
    )
    message_id = models.UUIDField(
        null=True,
        blank=True,
        help_text="The message sent to this contact: its email, its SMS, or its push (one delivery per device).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "contact"], name="broadcastrecipient_unique_contact")
        ]
        indexes = [
            # Feeding takes pending rows in id order; settling scans the queued ones. Both stay small.
            models.Index(fields=["broadcast", "id"], condition=Q(status="pending"), name="broadcastrcpt_pending"),
            models.Index(fields=["broadcast", "id"], condition=Q(status="queued"), name="broadcastrcpt_queued"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} of {self.broadcast_id} ({self.status})"
