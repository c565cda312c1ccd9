
import django_filters
from django.db.models import Q, QuerySet

from config.api.filters import OutboxFilterSet
from sms.models import SmsMessage, SmsOptOut, SmsSandboxNumber


class SmsFilter(OutboxFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=SmsMessage.Status.choices, help_text="Repeat for several.")
    sms_type = django_filters.ChoiceFilter(choices=SmsMessage.Type.choices)
    to = django_filters.CharFilter(help_text="The E.164 number.")
    country = django_filters.CharFilter(method="filter_country", help_text="ISO 3166 region of `to`, e.g. US.")
    client_sms_id = django_filters.CharFilter()
    q = django_filters.CharFilter(method="filter_search", help_text="Text in the body or the number.")

    class Meta:
        model = SmsMessage
        fields: list[str] = []

    def filter_country(self, queryset: QuerySet[SmsMessage], name: str, value: str) -> QuerySet[SmsMessage]:
        return queryset.filter(country=value.strip().upper())

    def filter_search(self, queryset: QuerySet[SmsMessage], name: str, value: str) -> QuerySet[SmsMessage]:
        return queryset.filter(Q(body__icontains=value) | Q(to__contains=value))


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
