"""Segments: the filters of GET /v1/contacts, which saved segments store as the same query parameters."""

from collections.abc import Mapping
from typing import Any

import django_filters
from django import forms
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.request import Request

from accounts.models import Account
from accounts.permissions import request_account
from config.api.errors import RequestValidationError
from config.api.filters import IsoDateTimeFilter, finite_number
from contacts.models import Contact, ContactEvent, Segment
from contacts.normalize import clean_tag_names, tag_key
from contacts.tagging import tags_resolve

# Parameters that shape the response rather than select contacts.
PAGING_PARAMS = frozenset({"cursor", "limit", "count"})


class _RepeatableField(forms.Field):
    """`?attribute=a:1&attribute=b:2`: every value of a repeated parameter, each checked to be `key:value`."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[tuple[str, str]]:
        if value in (None, "", []):
            return []
        pairs = []
        for item in [value] if isinstance(value, str) else value:
            key, sep, expected = str(item).partition(":")
            if not sep or not key.strip():
                raise forms.ValidationError(f"{item!r} is not key:value, e.g. attribute=plan:pro.", code="invalid")
            pairs.append((key.strip(), expected))
        return pairs


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class AttributeFilter(django_filters.Filter):
    field_class = _RepeatableField


@extend_schema_field(OpenApiTypes.STR)
class TagNamesFilter(django_filters.CharFilter):
    """A comma-separated list of tag names, matched case-insensitively."""


class StatusInFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    pass


def _json_alternatives(expected: str) -> list[Any]:
    """`plan:3` matches the string "3" and the number 3; `vip:true` matches "true" and true."""
    values: list[Any] = [expected]
    lowered = expected.lower()
    if lowered in ("true", "false"):
        values.append(lowered == "true")
    else:
        number = finite_number(expected)
        if number is not None:
            values.append(number)
    return values


class ContactFilter(django_filters.FilterSet):
    email = django_filters.CharFilter(method="filter_email", help_text="Exact address (any case).")
    mobile = django_filters.CharFilter(field_name="mobile", help_text="Exact E.164 number.")
    status = StatusInFilter(
        field_name="status", choices=Contact.Status.choices, help_text="One or more, comma-separated."
    )
    tags = TagNamesFilter(method="filter_tags_all", help_text="Has all of these tags (comma-separated).")
    tags_any = TagNamesFilter(method="filter_tags_any", help_text="Has at least one of these tags.")
    tags_none = TagNamesFilter(method="filter_tags_none", help_text="Has none of these tags.")
    attribute = AttributeFilter(
        method="filter_attributes", help_text="`key:value` equality on attributes; repeat for several (AND)."
    )
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    last_seen_after = IsoDateTimeFilter(field_name="last_seen_at", lookup_expr="gte")
    last_seen_before = IsoDateTimeFilter(field_name="last_seen_at", lookup_expr="lt")
    did_event = django_filters.CharFilter(method="_joint", help_text="Did the event with this name …")
    did_event_times = django_filters.NumberFilter(method="_joint", min_value=1, help_text="… at least N times …")
    did_event_since = IsoDateTimeFilter(method="_joint", help_text="… since this time.")
    did_not_event = django_filters.CharFilter(method="_joint", help_text="Did not do the event with this name …")
    did_not_event_since = IsoDateTimeFilter(method="_joint", help_text="… since this time.")
    segment = django_filters.NumberFilter(method="filter_segment", help_text="Members of this saved segment.")

    class Meta:
        model = Contact
        fields: list[str] = []

    def __init__(
        self,
        data: Any = None,
        queryset: QuerySet[Contact] | None = None,
        *,
        request: Request | None = None,
        account: Account | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(data, queryset, request=request, **kwargs)
        self.account = account if account is not None else (request_account(request) if request else None)

    def clean_form(self) -> dict[str, Any]:
        data = self.form.cleaned_data
        problems = {}
        if data.get("did_event_times") is not None and not data.get("did_event"):
            problems["did_event_times"] = "did_event_times needs did_event (the event's name)."
        if data.get("did_event_since") and not data.get("did_event"):
            problems["did_event_since"] = "did_event_since needs did_event (the event's name)."
        if data.get("did_not_event_since") and not data.get("did_not_event"):
            problems["did_not_event_since"] = "did_not_event_since needs did_not_event (the event's name)."
        for name, message in problems.items():
            self.form.add_error(name, message)
        return data

    def is_valid(self) -> bool:
        if not self.form.is_valid():
            return False
        self.clean_form()
        return not self.form.errors

    def filter_queryset(self, queryset: QuerySet[Contact]) -> QuerySet[Contact]:
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        if data.get("did_event"):
            queryset = self._did(queryset, data["did_event"], data.get("did_event_since"), data.get("did_event_times"))
        if data.get("did_not_event"):
            events = self._events(data["did_not_event"], data.get("did_not_event_since"))
            queryset = queryset.filter(~Exists(events.filter(contact_id=OuterRef("pk"))))
        return queryset

    def _events(self, name: str, since: Any) -> QuerySet[ContactEvent]:
        events = ContactEvent.objects.filter(account=self.account, name=name.strip())
        return events.filter(occurred_at__gte=since) if since else events

    def _did(self, queryset: QuerySet[Contact], name: str, since: Any, times: Any) -> QuerySet[Contact]:
        events = self._events(name, since)
        if not times or int(times) <= 1:
            return queryset.filter(Exists(events.filter(contact_id=OuterRef("pk"))))
        often = events.values("contact_id").annotate(n=Count("id")).filter(n__gte=int(times)).values("contact_id")
        return queryset.filter(pk__in=often)

    def _joint(self, queryset: QuerySet[Contact], name: str, value: Any) -> QuerySet[Contact]:
        return queryset  # the did_* parameters depend on each other: filter_queryset applies them together

    def _tag_ids(self, value: str) -> tuple[set[int], bool]:
        """The ids of the named tags, and whether every name is a tag of this account."""
        names = clean_tag_names(value)
        found = tags_resolve(account_id=self.account.pk if self.account else None, names=names, create=False)
        return {tag.pk for tag in found.values()}, len(found) == len({tag_key(n) for n in names})

    def filter_email(self, queryset: QuerySet[Contact], name: str, value: str) -> QuerySet[Contact]:
        return queryset.filter(email=value.strip().lower())

    def filter_tags_all(self, queryset: QuerySet[Contact], name: str, value: str) -> QuerySet[Contact]:
        ids, complete = self._tag_ids(value)
        return queryset.filter(tag_ids__has_all=ids) if complete else queryset.none()

    def filter_tags_any(self, queryset: QuerySet[Contact], name: str, value: str) -> QuerySet[Contact]:
        ids, _ = self._tag_ids(value)
        return queryset.filter(tag_ids__has_any=ids) if ids else queryset.none()

    def filter_tags_none(self, queryset: QuerySet[Contact], name: str, value: str) -> QuerySet[Contact]:
        ids, _ = self._tag_ids(value)
        return queryset.exclude(tag_ids__has_any=ids) if ids else queryset

    def filter_attributes(
        self, queryset: QuerySet[Contact], name: str, value: list[tuple[str, str]]
    ) -> QuerySet[Contact]:
        for key, expected in value:
            match = Q()
            for alternative in _json_alternatives(expected):
                match |= Q(**{f"attributes__{key}": alternative})
            queryset = queryset.filter(match)
        return queryset

    def filter_segment(self, queryset: QuerySet[Contact], name: str, value: Any) -> QuerySet[Contact]:
        segment = Segment.objects.filter(account=self.account, pk=int(value)).first()
        if segment is None:
            raise RequestValidationError({"segment": ["No such segment in your account."]}, location="query")
        nested = ContactFilter(segment_query(segment.filters), queryset, account=self.account)
        if not nested.is_valid():
            raise RequestValidationError({"segment": [f"Segment {segment.name!r} has invalid filters."]}, "query")
        return nested.qs


def segment_query(filters: Mapping[str, Any]) -> QueryDict:
    """A saved segment's filters as the query parameters GET /v1/contacts would receive."""
    query = QueryDict(mutable=True)
    for key, value in filters.items():
        if isinstance(value, list | tuple):
            if key in ("tags", "tags_any", "tags_none", "status"):
                query[key] = ",".join(str(item) for item in value)
            else:
                query.setlist(key, [str(item) for item in value])
        elif isinstance(value, bool):
            query[key] = "true" if value else "false"
        elif value is not None:
            query[key] = str(value)
    return query


def unknown_params(keys: Any, *, allowed: frozenset[str] = PAGING_PARAMS) -> list[str]:
    known = set(ContactFilter.base_filters) | allowed
    return sorted(key for key in keys if key not in known)
