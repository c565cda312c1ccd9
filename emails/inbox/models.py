"""Team inbox rows: inbound domains, conversations, their messages, attachments and notes (all account-owned)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class InboundDomain(models.Model):
    """A domain whose mail SES receives for an account: the receipt rule Sesame provisioned for it."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="inbound_domains")
    connection = models.ForeignKey("accounts.AwsConnection", on_delete=models.CASCADE, related_name="inbound_domains")
    domain = models.CharField(max_length=253, help_text="Lower-cased, e.g. support.acme.test.")
    bucket = models.CharField(
        max_length=63, blank=True, help_text="S3 bucket that receives mail of any size; empty: SNS only (150 KB)."
    )
    rule_set_name = models.CharField(max_length=64, blank=True)
    rule_name = models.CharField(max_length=64, blank=True)
    acknowledgement_text = models.TextField(
        blank=True,
        help_text="When set, the first message of a new conversation is answered with this text (never an "
        "auto-reply, a bounce or flagged mail).",
    )
    provisioned_at = models.DateTimeField(null=True, blank=True)
    last_report = models.JSONField(default=list, blank=True, help_text="The last provisioning's steps.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("domain",)
        constraints = [models.UniqueConstraint(fields=["connection", "domain"], name="inbound_domain_unique")]

    def __str__(self) -> str:
        return self.domain

    @property
    def mx_record(self) -> tuple[str, str, str]:
        """The MX record to publish: (name, type, value with its preference)."""
        return (self.domain, "MX", f"10 inbound-smtp.{self.connection.region}.amazonaws.com")


class Conversation(models.Model):
    """A thread between the team and one correspondent: inbound messages and the team's replies."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SNOOZED = "snoozed", "Snoozed"
        CLOSED = "closed", "Closed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="conversations")
    connection = models.ForeignKey(
        "accounts.AwsConnection",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Where its mail arrived, and where replies leave.",
    )
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.SET_NULL, null=True, blank=True, db_constraint=False, related_name="+"
    )
    correspondent = models.CharField(max_length=998, help_text="The other side, as `Name <address>`.")
    correspondent_email = models.CharField(max_length=320, help_text="Lower-cased address of the other side.")
    team_address = models.CharField(max_length=320, help_text="Our address it was sent to; replies come from it.")
    subject = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    flagged = models.BooleanField(default=False, help_text="A message of it failed a spam, virus or auth check.")
    started_by_email = models.ForeignKey(
        "emails.Email",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="An email Sesame sent that the first message answers.",
    )
    last_message_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-last_message_at", "-id")
        indexes = [
            models.Index(fields=["account", "-last_message_at"], name="conversation_account_newest"),
            models.Index(fields=["account", "status", "-last_message_at"], name="conversation_account_status"),
            models.Index(fields=["account", "correspondent_email"], name="conversation_account_address"),
            models.Index(fields=["snoozed_until"], condition=Q(status="snoozed"), name="conversation_snoozed"),
        ]

    def __str__(self) -> str:
        return f"{self.subject[:60] or '(no subject)'} — {self.correspondent_email}"


class InboxMessage(models.Model):
    """One message of a conversation: received through SES (inbound), or a reply the team sent (outbound)."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Received"
        OUTBOUND = "outbound", "Sent by the team"

    class Kind(models.TextChoices):
        MESSAGE = "message", "Message"
        AUTO_REPLY = "auto_reply", "Auto-reply or bulk mail"
        BOUNCE = "bounce", "Bounce (mailer-daemon)"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribe request"
        ACKNOWLEDGEMENT = "acknowledgement", "Automatic acknowledgement"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
        help_text="Empty only for mail that could not be read at all.",
    )
    connection = models.ForeignKey("accounts.AwsConnection", on_delete=models.CASCADE, related_name="+")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.MESSAGE)
    ses_message_id = models.CharField(max_length=255, blank=True, help_text="SES's id of the received mail.")
    email = models.ForeignKey(
        "emails.Email",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The outbox email that carries a reply.",
    )
    message_id = models.CharField(max_length=998, blank=True, help_text="Message-ID, without angle brackets.")
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = models.JSONField(default=list, blank=True)
    from_address = models.CharField(max_length=998, blank=True)
    from_email = models.CharField(max_length=320, blank=True)
    to = models.JSONField(default=list, blank=True)
    cc = models.JSONField(default=list, blank=True)
    subject = models.TextField(blank=True)
    text_body = models.TextField(blank=True)
    html_body = models.TextField(blank=True, help_text="As received: never shown unsanitised.")
    html_sanitized = models.TextField(blank=True, help_text="What the admin and the API show.")
    headers = models.JSONField(default=list, blank=True, help_text="[name, value] pairs as received.")
    verdicts = models.JSONField(default=dict, blank=True, help_text="SES's spam, virus, spf, dkim, dmarc statuses.")
    flags = models.JSONField(default=list, blank=True, help_text="Why this mail is flagged (failed checks).")
    flagged = models.BooleanField(default=False)
    size_bytes = models.PositiveIntegerField(default=0)
    raw = models.BinaryField(null=True, blank=True, help_text="The raw MIME as received (inbound).")
    error = models.TextField(blank=True, help_text="What could not be read, and why.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("occurred_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "ses_message_id"],
                condition=Q(direction="inbound") & ~Q(ses_message_id=""),
                name="inbox_message_unique_received",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "occurred_at"], name="inbox_message_thread"),
            models.Index(fields=["account", "message_id"], name="inbox_message_message_id"),
            models.Index(fields=["email"], condition=Q(email__isnull=False), name="inbox_message_email"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()}: {self.subject[:60]}"


class InboxAttachment(models.Model):
    """An attachment or inline image of a received message, kept as a blob (within the size limit)."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(InboxMessage, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=255)
    content_id = models.CharField(max_length=255, blank=True, help_text="For inline images (cid: links).")
    inline = models.BooleanField(default=False)
    size_bytes = models.PositiveIntegerField()
    content = models.BinaryField(null=True, blank=True, help_text="Empty when not kept (see note).")
    note = models.CharField(max_length=300, blank=True, help_text="Why the content was not kept.")

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return self.filename or self.content_id or self.content_type


class ConversationNote(models.Model):
    """An internal note of the team on a conversation (never sent)."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    author_name = models.CharField(max_length=200, blank=True, help_text="Who wrote it (an operator or a token).")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return self.body[:60]
