"""The SMS request body: shapes and rules (E.164 numbers, sender ids, prices, segments), one 422 entry per problem."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import phonenumbers
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from config.api.datetimes import InvalidDateTime, parse_iso_datetime
from config.api.errors import ErrorEntry, Loc, flatten_errors
from config.api.serializers import StrictSerializer
from contacts.api.serializers import MobileField
from emails.templating import TemplateVersion
from sms.encoding import MAX_SEGMENTS, BodyEncoding, body_encoding, non_gsm_characters
from sms.models import SmsMessage

MAX_TAGS = 50
MAX_CUSTOM_FIELDS = 50


@extend_schema_field({"type": "string", "format": "date-time", "example": "2030-01-01T09:00:00+00:00"})
class FutureDateTimeField(serializers.Field):
    """ISO 8601 with an offset, in the future (the API's range-checked parser)."""

    def to_internal_value(self, data: Any) -> datetime:
        if not isinstance(data, str):
            raise serializers.ValidationError(
                "must be an ISO 8601 date-time, e.g. 2030-01-01T09:00:00+00:00", code="value_error.datetime"
            )
        try:
            parsed = parse_iso_datetime(data)
        except InvalidDateTime as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from exc
        if timezone.is_naive(parsed):
            raise serializers.ValidationError(
                "must include a UTC offset, e.g. 2030-01-01T09:00:00+00:00", code="value_error.datetime.offset"
            )
        now = timezone.now()
        if parsed <= now:
            raise serializers.ValidationError(
                f"must be in the future; {data} has passed (now {now.isoformat()})", code="value_error.datetime.past"
            )
        return parsed

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class SmsCreateSerializer(StrictSerializer):
    to = MobileField(help_text="E.164: a plus, the country code and the number, e.g. +14254147755.")
    body = serializers.CharField(
        max_length=1600,
        trim_whitespace=False,
        required=False,
        help_text="At most 10 segments. Required unless `template` is given.",
    )
    sms_type = serializers.ChoiceField(choices=SmsMessage.Type.choices, default=SmsMessage.Type.TRANSACTIONAL)
    sender_id = serializers.RegexField(
        r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$",
        required=False,
        error_messages={"invalid": "1 to 11 letters and digits, at least one letter (e.g. ACME), no spaces."},
        help_text="Alphanumeric sender id, where the destination country supports one.",
    )
    origination_number = MobileField(required=False, help_text="One of your SNS origination numbers, E.164.")
    max_price = serializers.DecimalField(
        max_digits=9,
        decimal_places=5,
        min_value=Decimal("0.00001"),
        max_value=Decimal(1000),
        required=False,
        help_text="Most USD you will pay for this SMS; SNS does not send it if it would cost more.",
    )
    priority = serializers.IntegerField(min_value=1, max_value=100, default=50, help_text="1 is the highest.")
    schedule_send_at = FutureDateTimeField(required=False)
    client_sms_id = serializers.CharField(max_length=255, required=False, help_text="Your id; a repeat answers 409.")
    tags = serializers.ListField(child=serializers.CharField(max_length=100), max_length=MAX_TAGS, required=False)
    custom_fields = serializers.DictField(required=False)
    config_identifier = serializers.CharField(
        max_length=64, required=False, help_text="AWS connection; default otherwise."
    )
    # A send with a template: emails/templating/sending.py puts the rendered body in their place before validation.
    template = serializers.CharField(required=False, help_text="An SMS template's id or name, instead of `body`.")
    variables = serializers.DictField(
        required=False, help_text="The template's variables; they win over the values of the contact with this mobile."
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if "body" not in data:
            raise serializers.ValidationError({"body": [ErrorDetail("field required", code="required")]})
        return data

    def validate_custom_fields(self, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > MAX_CUSTOM_FIELDS:
            raise serializers.ValidationError(
                f"at most {MAX_CUSTOM_FIELDS} keys (got {len(value)})", code="value_error.dict.max_items"
            )
        return value

    def validate_body(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("must not be blank", code="blank")
        encoded = body_encoding(value)
        if encoded.segments > MAX_SEGMENTS:
            hint = ""
            if encoded.encoding == "UCS-2":
                hint = (
                    f"; it is sent as UCS-2 (70 characters a segment, 67 when split) because of "
                    f"{non_gsm_characters(value)[:20]!r}"
                )
            raise serializers.ValidationError(
                f"is {encoded.segments} segments ({encoded.units} {encoded.encoding} units); at most {MAX_SEGMENTS} "
                f"are allowed{hint}",
                code="value_error.sms.segments",
            )
        return value


@dataclass
class SmsDraft:
    to: str
    country: str
    body: str
    encoding: BodyEncoding
    sms_type: str = SmsMessage.Type.TRANSACTIONAL
    sender_id: str = ""
    origination_number: str = ""
    max_price: Decimal | None = None
    priority: int = 50
    schedule_send_at: datetime | None = None
    client_sms_id: str | None = None
    tags: list[str] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    config_identifier: str | None = None
    template_version: TemplateVersion | None = None


def country_of(phone_number: str) -> str:
    return phonenumbers.region_code_for_number(phonenumbers.parse(phone_number)) or ""


def validate_sms_body(data: Any, *, base: Loc | None = None) -> tuple[SmsDraft | None, list[ErrorEntry]]:
    serializer = SmsCreateSerializer(data=data)
    if not serializer.is_valid():
        return None, flatten_errors(serializer.errors, base or ["body"])
    values = dict(serializer.validated_data)
    to, body = values.pop("to"), values.pop("body")
    return SmsDraft(to=to, country=country_of(to), body=body, encoding=body_encoding(body), **values), []
