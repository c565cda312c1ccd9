"""Serializer conventions shared by every app: unknown fields are errors, and error bodies are documented."""

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError


class StrictSerializer(serializers.Serializer):
    """Rejects keys it does not know, naming the allowed ones, so a typo never silently drops data."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValidationError(
                {
                    "non_field_errors": [
                        ErrorDetail(f"Expected a JSON object, got {type(data).__name__}.", code="type_error.dict")
                    ]
                }
            )
        writable = {name for name, field in self.fields.items() if not field.read_only}
        unknown = [key for key in data if key not in writable]
        errors: dict[str, Any] = {}
        try:
            value = super().to_internal_value(data)
        except ValidationError as exc:
            errors.update(exc.detail if isinstance(exc.detail, Mapping) else {"non_field_errors": exc.detail})
            value = None
        for key in unknown:
            errors[key] = [
                ErrorDetail(f"Unknown field {key!r}; allowed fields are: {', '.join(sorted(writable))}.", code="extra")
            ]
        if errors:
            raise ValidationError(errors)
        return value


class StrictModelSerializer(StrictSerializer, serializers.ModelSerializer):
    pass


@extend_schema_field({"anyOf": [{"type": "string"}, {"type": "integer"}]})
class LocPartField(serializers.Field):
    """A field name or object key (string), or a position in a list (integer): ["body", "cc", 1]."""

    def to_representation(self, value: Any) -> Any:
        return value


class ValidationErrorItemSerializer(serializers.Serializer):
    loc = serializers.ListField(
        child=LocPartField(), help_text='Where the problem is: ["body", "to"], or ["body", "cc", 1] in a list.'
    )
    msg = serializers.CharField(help_text="What is wrong and how to fix it.")
    type = serializers.CharField(help_text="Machine-readable kind, e.g. value_error.missing.")


class ValidationErrorSerializer(serializers.Serializer):
    detail = ValidationErrorItemSerializer(many=True)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
