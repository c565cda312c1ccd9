"""Request and response shapes of /v1/templates. Template text is checked by the service (content.py), which
knows the channel's fields and reports syntax errors with their line."""

import uuid
from typing import Any

from rest_framework import serializers

from config.api.serializers import StrictSerializer
from emails.templating.content import CHANNEL_FIELDS
from emails.templating.models import Template, TemplateVersion


def _template_text(help_text: str) -> serializers.CharField:
    """A template field: any text (checked by the service, which knows the channel), spaces kept."""
    return serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, help_text=help_text)


class _ContentFields(StrictSerializer):
    subject = _template_text("Email: the subject line (a template).")
    html = _template_text("Email: the HTML body (a template; variables are HTML-escaped).")
    html_file = serializers.FileField(
        required=False, help_text="Email: the HTML body as an uploaded file (multipart/form-data), UTF-8."
    )
    text = _template_text("Email: the text body (a template); derived from the HTML when left out.")
    body = _template_text("SMS and push: the message text (a template).")
    title = _template_text("Push: the title (a template).")
    variables = serializers.JSONField(
        required=False, help_text="Declared variables: [{name, type, default, required, description}]."
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=500)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # `data` is also the name of Serializer's output property: declared here, not as a class attribute.
        fields["data"] = serializers.JSONField(
            required=False, help_text="Push: custom keys; string values are templates."
        )
        return fields

    def validate_name(self, value: str) -> str:
        try:
            uuid.UUID(value)
        except ValueError:
            return value
        raise serializers.ValidationError("a name cannot look like an id (a UUID)", code="invalid")


class TemplateCreateSerializer(_ContentFields):
    name = serializers.CharField(max_length=100, help_text="Unique per channel; sends may name the template by it.")
    channel = serializers.ChoiceField(choices=Template.Channel.choices)


class TemplateUpdateSerializer(_ContentFields):
    name = serializers.CharField(max_length=100, required=False)


class TemplateVersionSerializer(serializers.ModelSerializer):
    # Each version shows its channel's fields only (email: subject, html, text, text_derived; SMS: body; push:
    # title, body, data), so none of them is always present.
    subject = serializers.CharField(required=False)
    html = serializers.CharField(required=False)
    text = serializers.CharField(required=False)
    text_derived = serializers.BooleanField(required=False, help_text="Email: the text part is derived from the HTML.")
    body = serializers.CharField(required=False)
    title = serializers.CharField(required=False)

    class Meta:
        model = TemplateVersion
        fields = (
            "id", "number", "subject", "html", "text", "text_derived", "body", "title", "data", "variables",
            "created_at",
        )  # fmt: skip
        read_only_fields = fields

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["data"] = serializers.JSONField(required=False, help_text="Push: custom keys (templates).")
        return fields

    def to_representation(self, instance: TemplateVersion) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        own = set(CHANNEL_FIELDS[instance.template.channel])
        if instance.template.channel == Template.Channel.EMAIL:
            own.add("text_derived")
        return {key: value for key, value in data.items() if key not in _CONTENT or key in own}


# Content fields of some channel; a version shows only its own channel's.
_CONTENT = {"subject", "html", "text", "text_derived", "body", "title", "data"}


class TemplateSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="current_version.number", read_only=True, allow_null=True)

    class Meta:
        model = Template
        fields: tuple[str, ...] = (
            "id", "name", "channel", "description", "version", "archived_at", "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = fields


class TemplateDetailSerializer(TemplateSerializer):
    current_version = TemplateVersionSerializer(read_only=True)

    class Meta(TemplateSerializer.Meta):
        fields = (*TemplateSerializer.Meta.fields, "current_version")
        read_only_fields = fields


class PreviewSerializer(StrictSerializer):
    contact = serializers.JSONField(required=False, help_text="A contact's id, email or E.164 mobile.")
    variables = serializers.JSONField(required=False, help_text="Sample data; wins over the contact's values.")
    version = serializers.IntegerField(
        required=False, min_value=1, help_text="A version number; the current one otherwise."
    )


class PreviewResultSerializer(serializers.Serializer):
    """The rendered fields of the template's channel (email: subject, html, text; SMS: body; push: title, body,
    data) and what was missing."""

    template = serializers.UUIDField()
    version = serializers.IntegerField()
    channel = serializers.CharField()
    subject = serializers.CharField(required=False)
    html = serializers.CharField(required=False)
    text = serializers.CharField(required=False)
    body = serializers.CharField(required=False)
    title = serializers.CharField(required=False)
    missing = serializers.ListField(
        child=serializers.CharField(), help_text="Variables nobody supplied: required ones, and ones output blank."
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # `data` is also the name of Serializer's output property: declared here, not as a class attribute.
        fields["data"] = serializers.DictField(required=False, help_text="Push: the rendered custom keys.")
        return fields
