from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend

from config.api.datetimes import InvalidDateTime, parse_iso_datetime
from config.api.errors import RequestValidationError


class QueryFilterBackend(DjangoFilterBackend):
    """django-filter, with bad query parameters reported as 422 at ["query", name]."""

    def filter_queryset(self, request: Any, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise RequestValidationError(dict(filterset.errors), location="query")
        return filterset.qs


class IsoDateTimeField(forms.DateTimeField):
    """ISO 8601 through the API's range-checked parser; a time without an offset is UTC."""

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value
        try:
            parsed = parse_iso_datetime(str(value))
        except InvalidDateTime as exc:
            raise forms.ValidationError(exc.message, code="invalid") from exc
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = IsoDateTimeField


def finite_number(text: str) -> int | float | None:
    """A query-string value read as a JSON number, when it is one that JSON can hold ("inf" and "nan" are not)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None
