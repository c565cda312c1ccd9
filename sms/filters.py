from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from config.api.filters import CUSTOM_FIELD_PARAM, IsoDateTimeFilter, filter_custom_fields
from sms.models import SmsMessage, SmsOptOut, SmsSandboxNumber


class SmsFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=SmsMessage.Status.choices, help_text="Repeat for several.")
    sms_type = django_filters.ChoiceFilter(choices=SmsMessage.Type.choices)
    tag = django_filters.CharFilter(method="filter_tag", help_text="SMS carrying this tag.")
    to = django_filters.CharFilter(help_text="The E.164 number.")
    country = django_filters.CharFilter(method="filter_country", help_text="ISO 3166 region of `to`, e.g. US.")
    client_sms_id = django_filters.CharFilter()
    config_identifier = django_filters.CharFilter(field_name="connection__identifier")
    priority = django_filters.NumberFilter()
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    send_at_after = IsoDateTimeFilter(field_name="send_at", lookup_expr="gte")
    send_at_before = IsoDateTimeFilter(field_name="send_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="filter_search", help_text="Text in the body or the number.")

    # Any custom field, for the one query-parameter rule (config/api/query.py).
    query_param_patterns = {"custom_fields__KEY": CUSTOM_FIELD_PARAM}

    class Meta:
        model = SmsMessage
        fields: list[str] = []

    def filter_tag(self, queryset: QuerySet[SmsMessage], name: str, value: str) -> QuerySet[SmsMessage]:
        return queryset.filter(tags__has_element=value)

    def filter_country(self, queryset: QuerySet[SmsMessage], name: str, value: str) -> QuerySet[SmsMessage]:
        return queryset.filter(country=value.strip().upper())

    def filter_search(self, queryset: QuerySet[SmsMessage], name: str, value: str) -> QuerySet[SmsMessage]:
        return queryset.filter(Q(body__icontains=value) | Q(to__contains=value))

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return filter_custom_fields(super().filter_queryset(queryset), self.data)


class SmsOptOutFilter(django_filters.FilterSet):
    phone_number = django_filters.CharFilter()
    source = django_filters.MultipleChoiceFilter(choices=SmsOptOut.Source.choices)

    class Meta:
        model = SmsOptOut
        fields: list[str] = []


class SmsSandboxNumberFilter(django_filters.FilterSet):
    phone_number = django_filters.CharFilter()
    status = django_filters.ChoiceFilter(choices=SmsSandboxNumber.Status.choices)
    config_identifier = django_filters.CharFilter(field_name="connection__identifier")

    class Meta:
        model = SmsSandboxNumber
        fields: list[str] = []
