import django_filters
from django.db.models import Q, QuerySet

from config.api.filters import IsoDateTimeFilter, OutboxFilterSet
from emails.models import Email, Suppression


class EmailFilter(OutboxFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Email.Status.choices, help_text="Repeat for several.")
    to = django_filters.CharFilter(method="filter_to", help_text="The `to` address (case-insensitive).")
    client_email_id = django_filters.CharFilter()
    q = django_filters.CharFilter(method="filter_search", help_text="Text in the subject or an address.")

    class Meta:
        model = Email
        fields: list[str] = []

    def filter_to(self, queryset: QuerySet[Email], name: str, value: str) -> QuerySet[Email]:
        return queryset.filter(to_email=value.strip().lower())

    def filter_search(self, queryset: QuerySet[Email], name: str, value: str) -> QuerySet[Email]:
        return queryset.filter(
            Q(subject__icontains=value) | Q(to_address__icontains=value) | Q(from_address__icontains=value)
        )


# `from` is a Python keyword, so it cannot be declared above; the query parameter is named `from` all the same.
EmailFilter.base_filters["from"] = django_filters.CharFilter(
    field_name="from_address", lookup_expr="icontains", help_text="Text in the sender address."
)


class SuppressionFilter(django_filters.FilterSet):
    address = django_filters.CharFilter(lookup_expr="iexact")
    reason = django_filters.MultipleChoiceFilter(choices=Suppression.Reason.choices)
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Suppression
        fields: list[str] = []
