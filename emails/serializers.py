"""Response shapes of the email API, and request shapes for the OpenAPI document.

Email bodies are validated by emails/validation.py (fast enough for batches); the request serializers here
describe the same fields for the schema and are never used to validate."""

from typing import Any

from rest_framework import serializers

from config.api.serializers import StrictSerializer
from emails.models import BlockedDomain, Email, EmailEvent, Identity, Suppression
from emails.selectors import TimelineEntry, email_timeline


class AttachmentSchema(serializers.Serializer):
    filename = serializers.CharField()
    content_type = serializers.CharField(default="application/octet-stream")
    content_base64 = serializers.CharField(help_text="The file, base64-encoded (standard alphabet).")


class EmailCreateSchema(serializers.Serializer):
    client_email_id = serializers.CharField(required=False, help_text="Your id; a repeat answers 409.")
    to = serializers.CharField(help_text="One address: a@b.com or Jon Doe <a@b.com>.")
    cc = serializers.ListField(child=serializers.CharField(), required=False)
    bcc = serializers.ListField(child=serializers.CharField(), required=False)
    reply_to = serializers.CharField(required=False)
    subject = serializers.CharField(required=False, help_text="Required unless `template` is given.")
    html_body = serializers.CharField(required=False, help_text="Needed for open and click tracking.")
    text_body = serializers.CharField(required=False)
    schedule_send_at = serializers.DateTimeField(required=False, help_text="ISO 8601 with offset, in the future.")
    custom_fields = serializers.DictField(required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    priority = serializers.IntegerField(min_value=1, max_value=100, default=50, help_text="1 is the highest.")
    config_identifier = serializers.CharField(required=False, help_text="AWS connection; default otherwise.")
    headers = serializers.DictField(child=serializers.CharField(), required=False)
    attachments = AttachmentSchema(many=True, required=False)
    template = serializers.CharField(
        required=False,
        help_text="An email template's id or name, instead of subject, html_body and text_body (rendered now).",
    )
    variables = serializers.DictField(
        required=False, help_text="The template's variables; they win over the values of the contact at `to`."
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.CharField(help_text="A verified identity (address or domain) of the connection.")
        return fields


class EmailBatchSchema(serializers.Serializer):
    emails = EmailCreateSchema(many=True, help_text="1 to 500 emails, each validated on its own.")


class EmailBatchResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = serializers.ListField(
        child=serializers.DictField(),
        help_text="One entry per email, in request order: the accepted ids, or `errors` in the 422 shape.",
    )


class EmailAcceptedSerializer(serializers.Serializer):
    pendable_id = serializers.UUIDField()
    pendable_received_on = serializers.DateTimeField()
    id = serializers.UUIDField()
    status = serializers.CharField()
    send_at = serializers.DateTimeField()

    @staticmethod
    def of(email: Email) -> dict[str, Any]:
        return {
            "pendable_id": str(email.id),
            "pendable_received_on": email.created_at.isoformat(),
            "id": str(email.id),
            "status": email.status,
            "send_at": email.send_at.isoformat(),
        }


class TimelineEntrySerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="event_type")

    class Meta:
        model = EmailEvent
        fields = ("type", "subtype", "source", "recipient", "detail", "occurred_at", "payload")


class EmailSerializer(serializers.ModelSerializer):
    pendable_id = serializers.UUIDField(source="id", read_only=True)
    pendable_received_on = serializers.DateTimeField(source="created_at", read_only=True)
    to = serializers.CharField(source="to_address")
    config_identifier = serializers.CharField(source="connection.identifier")

    class Meta:
        model = Email
        fields: tuple[str, ...] = (
            "id",
            "pendable_id",
            "pendable_received_on",
            "client_email_id",
            "to",
            "cc",
            "bcc",
            "reply_to",
            "subject",
            "status",
            "priority",
            "tags",
            "custom_fields",
            "config_identifier",
            "scheduled_for",
            "send_at",
            "created_at",
            "sent_at",
            "ses_message_id",
            "attempts",
            "failure_reason",
            "dropped_recipients",
            "recipient_outcomes",
            "delivered_at",
            "opened_at",
            "clicked_at",
            "open_count",
            "click_count",
            "resent_from",
        )
        read_only_fields = fields

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.CharField(source="from_address", read_only=True)
        return fields


class EmailDetailSerializer(EmailSerializer):
    attachments = serializers.SerializerMethodField()
    template_version = serializers.UUIDField(
        source="template_version_id",
        read_only=True,
        allow_null=True,
        help_text="The template version the email was rendered from (GET /v1/templates/{id}/versions), or null.",
    )
    timeline = serializers.SerializerMethodField()

    class Meta(EmailSerializer.Meta):
        fields = (
            *EmailSerializer.Meta.fields,
            "html_body",
            "text_body",
            "headers",
            "attachments",
            "body_pruned_at",
            "template_version",
            "timeline",
        )
        read_only_fields = fields

    def to_representation(self, instance: Email) -> dict[str, Any]:
        data = super().to_representation(instance)
        if instance.sealed:  # a one-time passcode: its text is never shown
            data["html_body"] = data["text_body"] = None
        return data

    def get_attachments(self, email: Email) -> list[dict[str, Any]]:
        return [
            {
                "filename": a["filename"],
                "content_type": a["content_type"],
                "size": len(a["content_base64"]) * 3 // 4 - a["content_base64"].count("="),
            }
            for a in email.attachments or []
        ]

    def get_timeline(self, email: Email) -> list[dict[str, Any]]:
        """Sesame's own milestones (from the email's fields) merged with the stored events, oldest first."""
        return [
            TimelineEntrySerializer(entry.event).data if entry.event else _milestone(entry)
            for entry in email_timeline(email)
        ]


def _milestone(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "type": entry.type,
        "subtype": "",
        "source": "sesame",
        "recipient": "",
        "detail": entry.detail,
        "occurred_at": serializers.DateTimeField().to_representation(entry.occurred_at),
        "payload": {},
    }


class SuppressionSerializer(serializers.ModelSerializer):
    source_email = serializers.UUIDField(source="source_email_id", read_only=True, allow_null=True)

    class Meta:
        model = Suppression
        fields = ("id", "address", "reason", "source_email", "created_at")
        read_only_fields = fields


class SuppressionCreateSerializer(StrictSerializer):
    address = serializers.EmailField()
    reason = serializers.ChoiceField(choices=Suppression.Reason.choices, default=Suppression.Reason.MANUAL)


class BlockedDomainSerializer(serializers.ModelSerializer):
    class Meta:
        model = BlockedDomain
        fields = ("id", "domain", "created_at")
        read_only_fields = fields


class BlockedDomainCreateSerializer(StrictSerializer):
    domain = serializers.RegexField(
        r"^(?=.{1,253}$)([a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}\.?$",
        error_messages={"invalid": "Not a domain name, e.g. spammy.example."},
    )


class IdentitySerializer(serializers.ModelSerializer):
    config_identifier = serializers.CharField(source="connection.identifier")
    dkim_records = serializers.SerializerMethodField()

    class Meta:
        model = Identity
        fields = ("id", "name", "kind", "status", "config_identifier", "dkim_records", "checked_at", "created_at")
        read_only_fields = fields

    def get_dkim_records(self, identity: Identity) -> list[dict[str, str]]:
        return [{"name": name, "type": kind, "value": value} for name, kind, value in identity.dkim_records]


class IdentityCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=320, help_text="A domain (example.com) or an address.")
    config_identifier = serializers.CharField(required=False, help_text="AWS connection; default otherwise.")
