from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api.serializers import StrictSerializer
from emails.forms.models import SignupForm
from emails.forms.validation import COLOURS, TEXTS


class CustomFieldSerializer(serializers.Serializer):
    # Declared in get_fields: `label` and `required` would shadow the Field attributes of the same names.
    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "key": serializers.CharField(help_text="Lower-case letters, digits and _; the contact attribute's key."),
            "label": serializers.CharField(help_text="What the visitor reads."),
            "required": serializers.BooleanField(default=False),
        }


class AppearanceSerializer(serializers.Serializer):
    """Colours as #rrggbb and the texts of the form and of its confirmation email; any left out take defaults."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields: dict[str, serializers.Field] = {
            name: serializers.CharField(required=False, help_text="#rrggbb") for name in COLOURS
        }
        for name, (default, length) in TEXTS.items():
            fields[name] = serializers.CharField(
                required=False, allow_blank=True, max_length=length, help_text=f"Default: {default!r}."
            )
        return fields


@extend_schema_field(AppearanceSerializer)
class AppearanceField(serializers.JSONField):
    """Checked as a whole by emails/forms/validation.py, so the API and the admin follow the same rules."""


@extend_schema_field(CustomFieldSerializer(many=True))
class CustomFieldsField(serializers.JSONField):
    pass


class SignupFormWriteSerializer(StrictSerializer):
    """Shapes only; the rules (verified sender, origins, colours) are checked by the service."""

    name = serializers.CharField(max_length=100)
    is_active = serializers.BooleanField(required=False)
    sender = serializers.CharField(
        max_length=320, help_text="From address of the confirmation email; must be a verified identity."
    )
    config_identifier = serializers.CharField(max_length=64, required=False, allow_blank=True)
    ask_name = serializers.BooleanField(required=False)
    require_name = serializers.BooleanField(required=False)
    custom_fields = CustomFieldsField(required=False)
    consent_text = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=20)
    topic = serializers.CharField(
        required=False, allow_null=True, max_length=64, help_text="A topic's key (GET /v1/topics); null for none."
    )
    allowed_origins = serializers.ListField(child=serializers.CharField(max_length=300), max_length=50)
    mode = serializers.ChoiceField(choices=SignupForm.Mode.choices, required=False)
    trigger = serializers.ChoiceField(choices=SignupForm.Trigger.choices, required=False)
    delay_seconds = serializers.IntegerField(min_value=0, max_value=3600, required=False)
    scroll_percent = serializers.IntegerField(min_value=1, max_value=100, required=False)
    appearance = AppearanceField(required=False)
    proof_of_work_bits = serializers.IntegerField(min_value=0, max_value=24, required=False)


class SignupFormSerializer(serializers.ModelSerializer):
    script_url = serializers.SerializerMethodField()
    embed_snippet = serializers.SerializerMethodField()
    signups = serializers.IntegerField(read_only=True, default=0, help_text="Sign-ups taken (confirmed or not).")
    confirmations = serializers.IntegerField(read_only=True, default=0)
    conversion_rate = serializers.FloatField(
        read_only=True, allow_null=True, default=None, help_text="confirmations / signups; null before any."
    )
    custom_fields = CustomFieldsField()
    appearance = AppearanceField()
    topic: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="key", read_only=True, allow_null=True
    )

    class Meta:
        model = SignupForm
        fields = (
            "id", "key", "name", "is_active", "sender", "config_identifier", "ask_name", "require_name",
            "custom_fields", "consent_text", "tags", "topic", "allowed_origins", "mode", "trigger", "delay_seconds",
            "scroll_percent", "appearance", "proof_of_work_bits", "script_url", "embed_snippet", "signups",
            "confirmations", "conversion_rate", "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = fields

    def get_script_url(self, form: SignupForm) -> str:
        return form.script_url

    def get_embed_snippet(self, form: SignupForm) -> str:
        return form.embed_snippet
