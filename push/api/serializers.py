"""Request and response shapes of the push API. Input serializers only validate and shape; views call services."""

import re
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from config.api.datetimes import InvalidDateTime, parse_iso_datetime
from config.api.serializers import StrictSerializer
from push.models import PushApp, PushDelivery, PushDevice, PushEvent, PushMessage
from push.payloads import reserved_data_keys

_KEY_ID = re.compile(r"^[A-Z0-9]{10}$")
_BUNDLE_ID = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_PEM = re.compile(r"-----BEGIN PRIVATE KEY-----.+-----END PRIVATE KEY-----", re.DOTALL)


@extend_schema_field({"type": "string", "format": "date-time", "example": "2030-01-01T09:00:00+00:00"})
class FutureDateTimeField(serializers.Field):
    """ISO 8601 with a UTC offset, in the future (the API's range-checked parser)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            raise serializers.ValidationError("must be an ISO 8601 date-time, e.g. 2030-01-01T09:00:00+00:00")
        try:
            parsed = parse_iso_datetime(data)
        except InvalidDateTime as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from exc
        if timezone.is_naive(parsed):
            raise serializers.ValidationError(
                "must include a UTC offset, e.g. 2030-01-01T09:00:00+00:00", code="value_error.datetime.offset"
            )
        if parsed <= timezone.now():
            raise serializers.ValidationError(
                f"must be in the future; {data} has passed", code="value_error.datetime.past"
            )
        return parsed


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}], "example": "ada@example.com"})
class ContactRefField(serializers.Field):
    """A contact named by its id, its email or its E.164 mobile."""

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, bool) or not isinstance(data, int | str) or (isinstance(data, str) and not data.strip()):
            raise serializers.ValidationError("give the contact's id, email or E.164 mobile", code="invalid")
        if isinstance(data, str) and data.strip().isdigit():
            return int(data.strip())
        return data.strip() if isinstance(data, str) else data


# -- apps -------------------------------------------------------------------------------------------------------


class ApnsCredentialsSchema(StrictSerializer):
    key_p8 = serializers.CharField(help_text="The .p8 signing key's contents, BEGIN/END lines included.")
    key_id = serializers.CharField(help_text="The key's 10-character id.")
    team_id = serializers.CharField(help_text="Your Apple developer team id (10 characters).")
    bundle_id = serializers.CharField(help_text="The app's bundle id, e.g. com.example.app.")

    def validate_key_p8(self, value: str) -> str:
        if not _PEM.search(value):
            raise serializers.ValidationError("not a .p8 key: paste the file, -----BEGIN PRIVATE KEY----- included")
        return value.strip()

    def validate_key_id(self, value: str) -> str:
        if not _KEY_ID.match(value):
            raise serializers.ValidationError("a key id is 10 capital letters and digits, e.g. ABC123DEFG")
        return value

    def validate_team_id(self, value: str) -> str:
        if not _KEY_ID.match(value):
            raise serializers.ValidationError("a team id is 10 capital letters and digits, e.g. DEF123GHIJ")
        return value

    def validate_bundle_id(self, value: str) -> str:
        if not _BUNDLE_ID.match(value):
            raise serializers.ValidationError("a bundle id is reverse-DNS, e.g. com.example.app")
        return value


class FcmCredentialsSchema(StrictSerializer):
    service_account = serializers.DictField(help_text="The Firebase service-account JSON file, as an object.")

    def validate_service_account(self, value: dict[str, Any]) -> dict[str, Any]:
        missing = [key for key in ("project_id", "private_key", "client_email") if not value.get(key)]
        if value.get("type") != "service_account" or missing:
            raise serializers.ValidationError(
                "not a service-account JSON (type service_account with project_id, private_key and client_email)"
                + (f"; missing {', '.join(missing)}" if missing else "")
            )
        return value


class PushAppCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    platform = serializers.ChoiceField(
        choices=PushApp.Platform.choices, required=False, help_text="Needed with credentials; read from an ARN."
    )
    config_identifier = serializers.CharField(required=False, help_text="AWS connection; default otherwise.")
    apns = ApnsCredentialsSchema(required=False, help_text="For APNS and APNS_SANDBOX.")
    fcm = FcmCredentialsSchema(required=False, help_text="For GCM (FCM HTTP v1).")
    platform_application_arn = serializers.CharField(
        required=False, max_length=400, help_text="Adopt an existing platform application instead of uploading keys."
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        given = [key for key in ("apns", "fcm", "platform_application_arn") if key in data]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"apns": "give exactly one of apns (a .p8 key), fcm (a service account) or platform_application_arn"}
            )
        platform = data.get("platform")
        if "platform_application_arn" not in data and not platform:
            raise serializers.ValidationError({"platform": "required with uploaded credentials"})
        if "apns" in data and platform == PushApp.Platform.GCM:
            raise serializers.ValidationError({"apns": "GCM apps take fcm credentials"})
        if "fcm" in data and platform != PushApp.Platform.GCM:
            raise serializers.ValidationError({"fcm": "fcm credentials are for the GCM platform"})
        return data


class PushAppSerializer(serializers.ModelSerializer):
    config_identifier = serializers.CharField(source="connection.identifier")
    credentials = serializers.JSONField(source="credential_summary", help_text="What may be shown: ids, never keys.")

    class Meta:
        model = PushApp
        fields = (
            "id",
            "name",
            "platform",
            "platform_application_arn",
            "config_identifier",
            "credential_kind",
            "credentials",
            "status",
            "paused_reason",
            "paused_at",
            "created_at",
        )
        read_only_fields = fields


# -- devices ----------------------------------------------------------------------------------------------------


class DeviceRegisterSerializer(StrictSerializer):
    app = serializers.UUIDField(help_text="The push app's id.")
    token = serializers.RegexField(
        r"^\S+$", max_length=4096, help_text="The APNs device token or FCM registration token."
    )
    device_id = serializers.UUIDField(
        required=False, help_text="An id an earlier registration answered: carries that device over to a new token."
    )
    contact = ContactRefField(required=False, help_text="id, email or E.164 mobile; created on first sight.")
    locale = serializers.CharField(required=False, max_length=35, allow_blank=True)
    attributes = serializers.DictField(required=False)


class DeviceSerializer(serializers.ModelSerializer):
    platform = serializers.CharField(source="app.platform")
    token_prefix = serializers.CharField(help_text="The token's first characters; the token is never shown.")
    contact = serializers.IntegerField(source="contact_id", allow_null=True)

    class Meta:
        model = PushDevice
        fields: tuple[str, ...] = (
            "id",
            "app",
            "platform",
            "token_prefix",
            "contact",
            "enabled",
            "disabled_reason",
            "disabled_at",
            "locale",
            "attributes",
            "registered_at",
            "created_at",
        )
        read_only_fields = fields


class TimelineSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="event_type")

    class Meta:
        model = PushEvent
        fields = ("type", "source", "detail", "occurred_at")
        read_only_fields = fields


class DeviceDetailSerializer(DeviceSerializer):
    timeline = TimelineSerializer(source="events", many=True)

    class Meta(DeviceSerializer.Meta):
        fields = (*DeviceSerializer.Meta.fields, "timeline")
        read_only_fields = fields


# -- pushes -----------------------------------------------------------------------------------------------------


class TargetSerializer(StrictSerializer):
    device = serializers.UUIDField(required=False)
    contact = ContactRefField(required=False)
    segment = serializers.IntegerField(required=False, min_value=1)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if len(data) != 1:
            raise serializers.ValidationError("give exactly one of device, contact or segment")
        return data


class PushCreateSerializer(StrictSerializer):
    to = TargetSerializer(help_text='{"device": id}, {"contact": id, email or mobile} or {"segment": id}.')
    title = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    body = serializers.CharField(max_length=4000, required=False, help_text="Required unless `template` is given.")
    template = serializers.CharField(
        required=False, help_text="A push template's id or name, instead of title, body and data."
    )
    variables = serializers.DictField(
        required=False, help_text="The template's variables; they win over the values of the push's contact."
    )
    badge = serializers.IntegerField(required=False, min_value=0, max_value=99999)
    sound = serializers.CharField(required=False, max_length=200, default="")
    ttl_seconds = serializers.IntegerField(
        required=False, min_value=0, max_value=2_419_200, help_text="How long the platform keeps trying (≤ 28 days)."
    )
    collapse_key = serializers.CharField(required=False, max_length=64, default="")
    urgency = serializers.ChoiceField(choices=PushMessage.Urgency.choices, default=PushMessage.Urgency.HIGH)
    priority = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=100,
        help_text="Sesame's queue priority, 1 highest (default 50; 80 for a segment).",
    )
    schedule_send_at = FutureDateTimeField(required=False)
    client_push_id = serializers.CharField(required=False, max_length=255, help_text="Your id; a repeat answers 409.")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, default=list, max_length=50
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # `data` is also the name of Serializer's output property: declared here, not as a class attribute.
        fields["data"] = serializers.DictField(required=False, default=dict, help_text="Custom keys for your app.")
        return fields

    def validate_data(self, value: dict[str, Any]) -> dict[str, Any]:
        reserved = reserved_data_keys(value)
        if reserved:
            raise serializers.ValidationError(
                f"{', '.join(reserved)}: reserved by APNs or FCM; use other keys", code="value_error.reserved"
            )
        return value

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if "body" not in data and "template" not in data:
            raise serializers.ValidationError({"body": [ErrorDetail("field required", code="required")]})
        return data


class PushAcceptedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    device_count = serializers.IntegerField()
    send_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()


class PushSerializer(serializers.ModelSerializer):
    to = serializers.SerializerMethodField()
    template_version = serializers.UUIDField(
        source="template_version_id",
        read_only=True,
        allow_null=True,
        help_text="The template version the push was rendered from (GET /v1/templates/{id}/versions), or null.",
    )

    class Meta:
        model = PushMessage
        fields: tuple[str, ...] = (
            "id",
            "client_push_id",
            "to",
            "title",
            "body",
            "data",
            "badge",
            "sound",
            "ttl_seconds",
            "collapse_key",
            "urgency",
            "priority",
            "tags",
            "status",
            "device_count",
            "template_version",
            "scheduled_for",
            "send_at",
            "created_at",
        )
        read_only_fields = fields

    @extend_schema_field({"type": "object", "example": {"contact": 1042}})
    def get_to(self, message: PushMessage) -> dict[str, Any]:
        target = {
            PushMessage.Target.DEVICE: str(message.device_id) if message.device_id else None,
            PushMessage.Target.CONTACT: message.contact_id,
            PushMessage.Target.SEGMENT: message.segment_id,
        }
        return {message.target: target[PushMessage.Target(message.target)]}


class DeliverySerializer(serializers.ModelSerializer):
    content = serializers.JSONField(
        read_only=True,
        allow_null=True,
        help_text="The title, body and data this device was sent, rendered for its contact (a templated segment "
        "push); null when it got the push's own.",
    )
    timeline = serializers.SerializerMethodField()

    class Meta:
        model = PushDelivery
        fields = (
            "id",
            "device",
            "contact_id",
            "content",
            "status",
            "attempts",
            "sent_at",
            "sns_message_id",
            "failure_reason",
            "timeline",
        )
        read_only_fields = fields

    @extend_schema_field(TimelineSerializer(many=True))
    def get_timeline(self, delivery: PushDelivery) -> list[dict[str, Any]]:
        """Sesame's milestones (from the delivery's fields) merged with its stored events, oldest first."""
        entries: list[dict[str, Any]] = [
            {
                "type": "queued",
                "source": "sesame",
                "detail": f"priority {delivery.priority}",
                "occurred_at": delivery.created_at,
            }
        ]
        if delivery.sent_at:
            entries.append(
                {
                    "type": "sent",
                    "source": "sesame",
                    "detail": f"SNS message id {delivery.sns_message_id}",
                    "occurred_at": delivery.sent_at,
                }
            )
        entries += [
            {"type": e.event_type, "source": e.source, "detail": e.detail, "occurred_at": e.occurred_at}
            for e in delivery.events.all()
        ]
        entries.sort(key=lambda entry: entry["occurred_at"])
        field = serializers.DateTimeField()
        return [{**entry, "occurred_at": field.to_representation(entry["occurred_at"])} for entry in entries]


class PushDetailSerializer(PushSerializer):
    outcomes = serializers.SerializerMethodField()
    deliveries = serializers.SerializerMethodField()

    class Meta(PushSerializer.Meta):
        fields = (*PushSerializer.Meta.fields, "outcomes", "deliveries")
        read_only_fields = fields

    @extend_schema_field({"type": "object", "example": {"sent": 2, "failed": 1}})
    def get_outcomes(self, message: PushMessage) -> dict[str, int]:
        return dict(self.context.get("outcomes", {}))

    @extend_schema_field(DeliverySerializer(many=True))
    def get_deliveries(self, message: PushMessage) -> list[dict[str, Any]]:
        return list(DeliverySerializer(self.context.get("deliveries", []), many=True).data)
