from datetime import date
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api.serializers import StrictSerializer
from contacts.models import Contact, ContactEvent, Segment, Tag, Topic
from contacts.normalize import clean_tag_names, normalize_email, normalize_mobile, parse_dob, parse_status
from contacts.selectors import segment_count


def _django_errors(exc: DjangoValidationError, code: str = "invalid") -> serializers.ValidationError:
    return serializers.ValidationError(exc.messages, code=exc.code or code)


class EmailField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        try:
            return normalize_email(super().to_internal_value(data))
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc


class MobileField(serializers.CharField):
    """Strict E.164; anything else is refused with the E.164 form that was probably meant."""

    def to_internal_value(self, data: Any) -> str:
        try:
            return normalize_mobile(super().to_internal_value(data))
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc


@extend_schema_field({"type": "string", "format": "date", "nullable": True, "example": "1990-10-10"})
class DobField(serializers.Field):
    """DD-MM-YYYY (Send With SES) or YYYY-MM-DD in; ISO out."""

    def to_internal_value(self, data: Any) -> date:
        if not isinstance(data, str):
            raise serializers.ValidationError("Give dob as a string, e.g. 10-10-1990.", code="invalid")
        try:
            return parse_dob(data)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc

    def to_representation(self, value: date) -> str:
        return value.isoformat()


@extend_schema_field(
    {
        "type": "string",
        "example": "Subscribe",
        "description": "subscribed, unsubscribed, bounced or complained; Send With SES's Subscribe and "
        "Unsubscribe are accepted too.",
    }
)
class StatusField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Contact.Status.choices, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        try:
            return parse_status(data)
        except DjangoValidationError as exc:
            raise _django_errors(exc, "invalid_choice") from exc


class TagNamesField(serializers.ListField):
    """A list of tag names, or one comma-separated string."""

    child = serializers.CharField()

    def to_internal_value(self, data: Any) -> list[str]:
        if isinstance(data, str):
            data = [data]
        values = super().to_internal_value(data)
        try:
            return clean_tag_names(values)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc


class ContactWriteSerializer(StrictSerializer):
    email = EmailField(required=False, allow_null=True)
    mobile = MobileField(required=False, allow_null=True, max_length=32)
    status = StatusField(required=False)
    full_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    dob = DobField(required=False, allow_null=True)
    gender = serializers.CharField(required=False, allow_blank=True, max_length=40)
    city = serializers.CharField(required=False, allow_blank=True, max_length=100)
    country = serializers.CharField(required=False, allow_blank=True, max_length=100)
    attributes = serializers.DictField(required=False, help_text="Free JSON; on update keys merge, null removes one.")
    tags = TagNamesField(required=False, help_text="The whole set of tags (replaces the current ones).")
    add_tags = TagNamesField(required=False)
    remove_tags = TagNamesField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "tags" in attrs and ("add_tags" in attrs or "remove_tags" in attrs):
            raise serializers.ValidationError({"tags": "Give either tags (the whole set) or add_tags/remove_tags."})
        return attrs

    def split(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(contact fields, tag arguments) for the services."""
        data = dict(self.validated_data)
        tag_args = {key: data.pop(key) for key in ("tags", "add_tags", "remove_tags") if key in data}
        return data, tag_args


class ContactCreateSerializer(ContactWriteSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if not attrs.get("email") and not attrs.get("mobile"):
            raise serializers.ValidationError(
                {"email": serializers.ErrorDetail("Give an email or a mobile number.", code="missing_key")}
            )
        return attrs


class ContactSerializer(serializers.ModelSerializer):
    dob = DobField(read_only=True)
    tags = serializers.SerializerMethodField()
    unsubscribed_topics = serializers.SerializerMethodField(
        help_text="Keys of the topics this contact opted out of (status `unsubscribed` means all bulk mail)."
    )

    class Meta:
        model = Contact
        fields = (
            "id",
            "email",
            "mobile",
            "status",
            "full_name",
            "dob",
            "gender",
            "city",
            "country",
            "attributes",
            "tags",
            "unsubscribed_topics",
            "created_at",
            "updated_at",
            "last_seen_at",
        )
        read_only_fields = fields

    def get_unsubscribed_topics(self, contact: Contact) -> list[str]:
        opted_out: dict[int, list[str]] = self.context.get("opted_out", {})
        return opted_out.get(contact.pk, [])

    def get_tags(self, contact: Contact) -> list[str]:
        names: dict[int, str] = self.context.get("tag_names", {})
        return sorted((names[tag_id] for tag_id in contact.tag_ids if tag_id in names), key=str.lower)


class TagsChangeSerializer(StrictSerializer):
    tags = TagNamesField(min_length=1, help_text="Tag names, or one comma-separated string.")


class ContactEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactEvent
        fields = ("id", "name", "properties", "occurred_at", "source")
        read_only_fields = fields


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ("id", "name", "contact_count", "created_at")
        read_only_fields = fields


class SegmentSerializer(serializers.ModelSerializer):
    count = serializers.SerializerMethodField(help_text="Contacts in the segment right now.")

    class Meta:
        model = Segment
        fields = ("id", "name", "description", "filters", "count", "created_at", "updated_at")
        read_only_fields = fields

    def get_count(self, segment: Segment) -> int | None:
        return segment_count(segment=segment)


class SegmentWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    filters = serializers.DictField(help_text='GET /v1/contacts filter parameters, e.g. {"tags": ["vip"]}.')


class EventsResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    contacts_created = serializers.IntegerField()
    errors = serializers.ListField(  # type: ignore[assignment]  # a field, not Serializer.errors
        child=serializers.DictField(), help_text="One {loc, msg, type} per problem."
    )


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class ContactPageSerializer(serializers.Serializer):
    """GET /v1/contacts's page, spelled out for the schema: with `?count=1` the answer is a count instead."""

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ContactSerializer(many=True)


class AddContactResultSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    error = serializers.CharField(required=False)


class AddContactSerializer(StrictSerializer):
    """Send With SES's add-contact body: every value a string, and an empty string means "not given"."""

    email = EmailField(required=False)
    mobile = MobileField(required=False, max_length=32)
    status = StatusField(required=False)
    full_name = serializers.CharField(required=False, max_length=200)
    dob = DobField(required=False)
    gender = serializers.CharField(required=False, max_length=40)
    city = serializers.CharField(required=False, max_length=100)
    country = serializers.CharField(required=False, max_length=100)
    add_tags = TagNamesField(required=False, help_text='Comma-separated, e.g. "aaa,bbb,ccc".')
    remove_tags = TagNamesField(required=False, help_text='Comma-separated, e.g. "ddd,eee,fff".')

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "dict"):  # a form's QueryDict: one value per key
            data = data.dict()
        if isinstance(data, dict):
            data = {key: value for key, value in data.items() if value not in ("", None)}
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("email") and not attrs.get("mobile"):
            raise serializers.ValidationError(
                {
                    "email": serializers.ErrorDetail(
                        "Give the contact's primary key: email or mobile.", code="missing_key"
                    )
                }
            )
        return attrs


class TopicSerializer(serializers.ModelSerializer):
    opted_out_count = serializers.IntegerField(read_only=True, help_text="Contacts who opted out of this topic.")

    class Meta:
        model = Topic
        fields = ("id", "key", "name", "description", "opted_out_count", "created_at")
        read_only_fields = fields


class TopicWriteSerializer(StrictSerializer):
    key = serializers.SlugField(max_length=64, help_text="Letters, digits, - and _; unique in the account.")
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
