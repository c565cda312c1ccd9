import re
from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from config.api.filters import IsoDateTimeFilter, finite_number
from emails.models import Email, Suppression

_CUSTOM_FIELD_PARAM = re.compile(r"^custom_fields__([A-Za-z0-9_-]+)$")


def _json_scalar_candidates(raw: str) -> list[Any]:
    """A query string is text; custom field values may be stored as numbers or booleans."""
    candidates: list[Any] = [raw]
    if raw in {"true", "false"}:
        candidates.append(raw == "true")
    number = finite_number(raw)
    if number is not None:
        candidates.append(number)
    return candidates


class EmailFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Email.Status.choices, help_text="Repeat for several.")
    tag = django_filters.CharFilter(method="filter_tag", help_text="Emails carrying this tag.")
    to = django_filters.CharFilter(method="filter_to", help_text="The `to` address (case-insensitive).")
    sender = django_filters.CharFilter(field_name="from_address", lookup_expr="icontains", label="from")
    client_email_id = django_filters.CharFilter()
    config_identifier = django_filters.CharFilter(field_name="connection__identifier")
    priority = django_filters.NumberFilter()
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    send_at_after = IsoDateTimeFilter(field_name="send_at", lookup_expr="gte")
    send_at_before = IsoDateTimeFilter(field_name="send_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="filter_search", help_text="Text in the subject or an address.")

    class Meta:
        model = Email
        fields: list[str] = []

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        # `from` is a Python keyword; accept it as the query parameter name.
        if data is not None and "from" in data:
            data = data.copy()
            data.setlist("sender", data.getlist("from"))
        super().__init__(data, *args, **kwargs)

    def filter_to(self, queryset: QuerySet[Email], name: str, value: str) -> QuerySet[Email]:
        return queryset.filter(to_email=value.strip().lower())

    def filter_tag(self, queryset: QuerySet[Email], name: str, value: str) -> QuerySet[Email]:
        return queryset.filter(tags__contains=[value])

    def filter_search(self, queryset: QuerySet[Email], name: str, value: str) -> QuerySet[Email]:
        return queryset.filter(
            Q(subject__icontains=value) | Q(to_address__icontains=value) | Q(from_address__icontains=value)
        )

    def filter_queryset(self, queryset: QuerySet[Email]) -> QuerySet[Email]:
        queryset = super().filter_queryset(queryset)
        for param, value in self.data.items():
            match = _CUSTOM_FIELD_PARAM.match(param)
            if match:
                key = match.group(1)
                condition = Q()
                for candidate in _json_scalar_candidates(str(value)):
                    condition |= Q(**{f"custom_fields__{key}": candidate})
                queryset = queryset.filter(condition)
        return queryset


class SuppressionFilter(django_filters.FilterSet):
    address = django_filters.CharFilter(lookup_expr="iexact")
    reason = django_filters.MultipleChoiceFilter(choices=Suppression.Reason.choices)
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Suppression
        fields: list[str] = []
