"""Response shapes of the SMS and OTP API, and request shapes for the OpenAPI document (requests are validated by
sms/validation.py and the OTP service)."""

from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from config.api.serializers import StrictSerializer
from contacts.api.serializers import MobileField
from sms.models import OtpVerification, SmsEvent, SmsMessage, SmsOptOut, SmsPolicy, SmsSandboxNumber
from sms.validation import SmsCreateSerializer


class SmsBatchSchema(serializers.Serializer):
    sms = SmsCreateSerializer(many=True, help_text="1 to 500 SMS, each validated on its own.")


class SmsBatchResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = serializers.ListField(
        child=serializers.DictField(),
        help_text="One entry per SMS, in request order: the accepted SMS, or `errors` in the 422 shape.",
    )


class SmsAcceptedSerializer(serializers.ModelSerializer):
    class Meta:
        model = SmsMessage
        fields = ("id", "status", "to", "country", "encoding", "segments", "priority", "send_at", "created_at")
        read_only_fields = fields


class SmsTimelineEntrySerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="event_type")

    class Meta:
        model = SmsEvent
        fields = ("type", "source", "detail", "occurred_at", "payload")


class SmsSerializer(serializers.ModelSerializer):
    config_identifier = serializers.CharField(source="connection.identifier")
    otp_id = serializers.UUIDField(allow_null=True)

    class Meta:
        model = SmsMessage
        fields: tuple[str, ...] = (
            "id",
            "client_sms_id",
            "to",
            "country",
            "body",
            "encoding",
            "segments",
            "sms_type",
            "sender_id",
            "origination_number",
            "max_price",
            "status",
            "priority",
            "tags",
            "custom_fields",
            "config_identifier",
            "otp_id",
            "scheduled_for",
            "send_at",
            "created_at",
            "sent_at",
            "sns_message_id",
            "attempts",
            "failure_reason",
            "delivered_at",
            "price_usd",
            "provider_response",
        )
        read_only_fields = fields


class SmsDetailSerializer(SmsSerializer):
    template_version = serializers.UUIDField(
        source="template_version_id",
        read_only=True,
        allow_null=True,
        help_text="The template version the SMS was rendered from (GET /v1/templates/{id}/versions), or null.",
    )
    timeline = serializers.SerializerMethodField()

    class Meta(SmsSerializer.Meta):
        fields = (*SmsSerializer.Meta.fields, "template_version", "timeline")
        read_only_fields = fields

    def get_timeline(self, message: SmsMessage) -> list[dict[str, Any]]:
        """Sesame's milestones (from the SMS's fields) merged with the stored events, oldest first."""
        entries = [_milestone("accepted", message.created_at, f"priority {message.priority}")]
        if message.scheduled_for:
            entries.append(_milestone("scheduled", message.created_at, f"for {message.scheduled_for.isoformat()}"))
        if message.sent_at:
            entries.append(_milestone("sent", message.sent_at, f"SNS message id {message.sns_message_id}"))
        entries.extend(SmsTimelineEntrySerializer(message.events.all(), many=True).data)
        return sorted(entries, key=lambda entry: parse_datetime(entry["occurred_at"]) or message.created_at)


def _milestone(kind: str, moment: datetime, detail: str) -> dict[str, Any]:
    return {
        "type": kind,
        "source": "sesame",
        "detail": detail,
        "occurred_at": serializers.DateTimeField().to_representation(moment),
        "payload": {},
    }


class OtpCreateSchema(serializers.Serializer):
    to = serializers.CharField(help_text="E.164 number (sms) or email address (email).")
    channel = serializers.ChoiceField(choices=OtpVerification.Channel.choices, default="sms")
    template = serializers.CharField(required=False, help_text="Your text with {{code}} (and {{minutes}}).")
    locale = serializers.CharField(required=False, default="en", help_text="de, en, es, fr or pt.")


class OtpSerializer(serializers.ModelSerializer):
    class Meta:
        model = OtpVerification
        fields = ("id", "channel", "to", "status", "expires_at", "sends", "checks", "created_at")
        read_only_fields = fields


class OtpCheckSchema(serializers.Serializer):
    code = serializers.CharField(help_text="The 4 to 10 digits received.")


class OtpCheckResultSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=OtpVerification.Status.choices)


class SmsSandboxNumberSerializer(serializers.ModelSerializer):
    config_identifier = serializers.CharField(source="connection.identifier")

    class Meta:
        model = SmsSandboxNumber
        fields = ("id", "phone_number", "status", "config_identifier", "created_at", "verified_at")
        read_only_fields = fields


class SmsSandboxNumberCreateSerializer(StrictSerializer):
    phone_number = MobileField(help_text="E.164; SNS texts it a verification code.")
    config_identifier = serializers.CharField(required=False, help_text="AWS connection; default otherwise.")


class SmsSandboxVerifySerializer(StrictSerializer):
    code = serializers.RegexField(r"^[0-9]{4,10}$", error_messages={"invalid": "The digits SNS texted, e.g. 123456."})


class SmsOptOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = SmsOptOut
        fields = ("id", "phone_number", "source", "created_at")
        read_only_fields = fields


class SmsOptOutCreateSerializer(StrictSerializer):
    phone_number = MobileField(help_text="E.164; this account never texts it again (until removed).")


class SmsPolicySerializer(serializers.ModelSerializer):
    allowed_countries = serializers.SerializerMethodField()
    spent_this_month_usd = serializers.SerializerMethodField()

    class Meta:
        model = SmsPolicy
        fields = (
            "country",
            "allowed_countries",
            "monthly_spend_limit_usd",
            "spent_this_month_usd",
            "otp_code_length",
            "otp_email_from",
            "updated_at",
        )
        read_only_fields = fields

    def get_allowed_countries(self, policy: SmsPolicy) -> list[str]:
        return policy.countries

    def get_spent_this_month_usd(self, policy: SmsPolicy) -> str:
        return str(self.context.get("spent", "0"))


class SmsPolicyUpdateSerializer(StrictSerializer):
    country = serializers.CharField(required=False, help_text="Your own country, ISO 3166 (e.g. GB).")
    allowed_countries = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        max_length=250,
        help_text="Where SMS and passcodes may go; [] means your own country only.",
    )
    monthly_spend_limit_usd = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)
    otp_code_length = serializers.IntegerField(min_value=4, max_value=10, required=False)
    otp_email_from = serializers.EmailField(required=False, allow_blank=True)

    def _region(self, value: str) -> str:
        import phonenumbers

        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise serializers.ValidationError(f"{value!r} is not an ISO 3166 country code, e.g. US, GB, IN.")
        return region

    def validate_country(self, value: str) -> str:
        return self._region(value)

    def validate_allowed_countries(self, value: list[str]) -> list[str]:
        return sorted({self._region(item) for item in value})
