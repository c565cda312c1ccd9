import re
from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
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


CUSTOM_FIELD_PARAM = re.compile(r"^custom_fields__([A-Za-z0-9_-]+)$")


def _json_scalar_candidates(raw: str) -> list[Any]:
    """A query string is text; custom field values may be stored as numbers or booleans."""
    candidates: list[Any] = [raw]
    if raw in {"true", "false"}:
        candidates.append(raw == "true")
    number = finite_number(raw)
    if number is not None:
        candidates.append(number)
    return candidates


def filter_custom_fields(queryset: QuerySet[Any], params: Any) -> QuerySet[Any]:
    """`custom_fields__KEY=VALUE` query parameters, for lists of messages that carry `custom_fields`."""
    for param, value in params.items():
        match = CUSTOM_FIELD_PARAM.match(param)
        if match:
            condition = Q()
            for candidate in _json_scalar_candidates(str(value)):
                condition |= Q(**{f"custom_fields__{match.group(1)}": candidate})
            queryset = queryset.filter(condition)
    return queryset


class MessageFilterSet(django_filters.FilterSet):
    """What every channel's message list filters by; a channel adds its status choices and its own fields."""

    tag = django_filters.CharFilter(method="filter_tag", help_text="Messages carrying this tag.")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    def filter_tag(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(tags__has_element=value)  # config/lookups.py: the same on SQLite and PostgreSQL


class OutboxFilterSet(MessageFilterSet):
    """Messages of the delivery engine's outbox (emails, SMS): their connection, priority, due time and any
    custom field too."""

    config_identifier = django_filters.CharFilter(field_name="connection__identifier")
    priority = django_filters.NumberFilter()
    send_at_after = IsoDateTimeFilter(field_name="send_at", lookup_expr="gte")
    send_at_before = IsoDateTimeFilter(field_name="send_at", lookup_expr="lt")

    # Any custom field, for the one query-parameter rule (config/api/query.py).
    query_param_patterns = {"custom_fields__KEY": CUSTOM_FIELD_PARAM}

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return filter_custom_fields(super().filter_queryset(queryset), self.data)
