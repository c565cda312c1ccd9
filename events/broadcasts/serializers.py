from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api.serializers import StrictSerializer
from events.broadcasts.models import Broadcast


class WindowSerializer(StrictSerializer):
    start = serializers.TimeField(format="%H:%M", help_text="Local time of day sending may start, e.g. 09:00.")
    end = serializers.TimeField(format="%H:%M", help_text="Local time of day sending stops, e.g. 18:00.")
    timezone = serializers.CharField(default="UTC", help_text="An IANA time zone, e.g. Europe/Paris.")

    def validate_timezone(self, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise serializers.ValidationError(f"{value!r} is not an IANA time zone, e.g. Europe/Paris.") from exc
        return value


class BroadcastWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    channel = serializers.ChoiceField(
        choices=Broadcast.Channel.choices,
        default=Broadcast.Channel.EMAIL,
        help_text="email, sms (to contacts' mobiles) or push (to contacts' enabled devices).",
    )
    template = serializers.CharField(
        help_text="A template of the broadcast's channel, by id or name. An email template's HTML must link "
        "{{ unsubscribe_url }} visibly; an SMS gets 'Reply STOP to opt out.' unless its text says STOP."
    )
    variables = serializers.DictField(required=False, help_text="Template variables shared by every recipient.")
    topic = serializers.CharField(
        required=False, allow_null=True, help_text="A topic key (GET /v1/topics): its opt-outs are left out."
    )
    segment = serializers.IntegerField(required=False, allow_null=True, help_text="A saved segment's id.")
    filters = serializers.DictField(
        required=False, help_text='Ad hoc GET /v1/contacts filters instead of a segment, e.g. {"tags": ["vip"]}.'
    )
    reply_to = serializers.CharField(required=False, allow_blank=True, max_length=998, help_text="Email only.")
    config_identifier = serializers.CharField(
        required=False, help_text="The AWS connection (email, SMS); the default if omitted. Not for push."
    )
    priority = serializers.IntegerField(min_value=1, max_value=100, default=90)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=20)
    window = WindowSerializer(required=False, allow_null=True, help_text="Send only within these hours each day.")

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = serializers.CharField(
            max_length=998,
            required=False,
            allow_blank=True,
            help_text="Email (required): a verified identity of the connection. SMS (optional): a sender ID such as "
            "ACME, or one of your origination numbers in E.164. Not for push.",
        )
        return fields

    def for_service(self) -> dict[str, Any]:
        data = dict(self.validated_data)
        if "from" in data:
            data["from_address"] = data.pop("from")
        if "window" in data:
            window = data.pop("window") or {}
            data["window_start"], data["window_end"] = window.get("start"), window.get("end")
            data["window_timezone"] = window.get("timezone", "UTC")
        return data


class BroadcastSendSerializer(StrictSerializer):
    send_at = serializers.DateTimeField(required=False, help_text="Start then (ISO 8601); now if omitted.")


class ProgressSerializer(serializers.Serializer):
    audience = serializers.IntegerField(help_text="Contacts in the audience when it started.")
    to_send = serializers.IntegerField()
    sent = serializers.IntegerField(help_text="Contacts whose message was sent (a push: to at least one device).")
    failed = serializers.IntegerField(help_text="Contacts whose message could not be made or failed (a push: on all).")
    suppressed = serializers.IntegerField(
        help_text="Left out (see `excluded`), or dropped at send by the suppression list or an SMS opt-out."
    )
    cancelled = serializers.IntegerField()
    excluded = serializers.DictField(child=serializers.IntegerField(), help_text="Contacts left out, by reason.")
    opens = serializers.IntegerField(allow_null=True, help_text="Emails opened at least once (null: SMS, push).")
    clicks = serializers.IntegerField(allow_null=True, help_text="Emails with at least one click (null: SMS, push).")
    send_rate = serializers.FloatField(help_text="Messages per second the channel sends now on the connection(s).")
    eta = serializers.DateTimeField(allow_null=True, help_text="When the last message should leave, at that rate.")


class BroadcastSerializer(serializers.ModelSerializer):
    template = serializers.UUIDField(source="template_id", read_only=True)
    template_version = serializers.IntegerField(source="template_version.number", read_only=True, allow_null=True)
    topic = serializers.CharField(source="topic.key", read_only=True, allow_null=True)
    segment = serializers.IntegerField(source="segment_id", read_only=True, allow_null=True)
    config_identifier = serializers.CharField(source="connection.identifier", read_only=True, allow_null=True)
    window = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Broadcast
        fields = (
            "id", "name", "channel", "status", "template", "template_version", "variables", "topic", "segment",
            "filters", "reply_to", "config_identifier", "priority", "tags", "window", "send_at", "audience_count",
            "progress", "created_at", "started_at", "finished_at",
        )  # fmt: skip
        read_only_fields = fields

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = serializers.CharField(source="from_address", read_only=True)
        return fields

    @extend_schema_field(WindowSerializer(allow_null=True))
    def get_window(self, broadcast: Broadcast) -> dict[str, str] | None:
        if broadcast.window_start is None or broadcast.window_end is None:
            return None
        return {
            "start": broadcast.window_start.strftime("%H:%M"),
            "end": broadcast.window_end.strftime("%H:%M"),
            "timezone": broadcast.window_timezone,
        }

    @extend_schema_field(ProgressSerializer(allow_null=True))
    def get_progress(self, broadcast: Broadcast) -> Any:
        progress = self.context.get("progress", {}).get(broadcast.pk)
        return None if progress is None else ProgressSerializer(progress).data
