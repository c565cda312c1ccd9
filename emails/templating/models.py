"""Message templates of every channel: a Template names the message, its TemplateVersions hold the text."""

import uuid

from django.db import models
from django.db.models import Q


def template_version_link() -> "models.ForeignKey[TemplateVersion | None, TemplateVersion | None]":
    """The nullable link of an email, SMS or push to the template version it was rendered from. No database
    constraint: the accept hot path skips a foreign-key check per insert (versions are never deleted on their own;
    Django still nulls the link if a template is)."""
    return models.ForeignKey(
        "emails.TemplateVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        help_text="The template version this message was rendered from, when sent with a template.",
    )


class Template(models.Model):
    """One account's named message for one channel. Editing never changes a version: it adds one and points
    `current_version` at it, so every send can say exactly which text it used."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"
        PUSH = "push", "Push"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="templates")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    name = models.CharField(max_length=100, help_text="Unique per account and channel; a send may name it.")
    description = models.CharField(max_length=500, blank=True)
    current_version = models.ForeignKey(
        "TemplateVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    archived_at = models.DateTimeField(null=True, blank=True, help_text="Archived templates cannot be sent.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            # An archived template frees its name for a new one.
            models.UniqueConstraint(
                fields=["account", "channel", "name"],
                condition=Q(archived_at__isnull=True),
                name="template_unique_name",
            ),
        ]
        indexes = [models.Index(fields=["account", "channel", "-created_at"], name="template_account_channel")]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel})"


class TemplateVersion(models.Model):
    """The text of a template at one point in time, never changed once written (sends point at it)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(help_text="1 for the first version, then 2, 3, ...")
    # Email: subject, html, text. SMS: body. Push: title, body, data.
    subject = models.TextField(blank=True)
    html = models.TextField(blank=True)
    text = models.TextField(blank=True)
    text_derived = models.BooleanField(default=False, help_text="The text part was derived from the HTML.")
    body = models.TextField(blank=True)
    title = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    variables = models.JSONField(
        default=list, blank=True, help_text="Declared variables: [{name, type, default?, required, description}]."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("template", "-number")
        constraints = [models.UniqueConstraint(fields=["template", "number"], name="templateversion_unique_number")]

    def __str__(self) -> str:
        return f"{self.template_id} v{self.number}"
