import django_filters
from django.db.models import Q, QuerySet

from emails.templating.models import Template


class TemplateFilter(django_filters.FilterSet):
    channel = django_filters.MultipleChoiceFilter(choices=Template.Channel.choices, help_text="Repeat for several.")
    name = django_filters.CharFilter(lookup_expr="iexact")
    q = django_filters.CharFilter(method="filter_search", help_text="Text in the name or description.")
    archived = django_filters.BooleanFilter(
        method="filter_archived", help_text="true: archived templates only. Default: live templates only."
    )

    class Meta:
        model = Template
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Template]) -> QuerySet[Template]:
        if self.form.cleaned_data.get("archived") is None:
            queryset = queryset.filter(archived_at__isnull=True)
        return super().filter_queryset(queryset)

    def filter_search(self, queryset: QuerySet[Template], name: str, value: str) -> QuerySet[Template]:
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))

    def filter_archived(self, queryset: QuerySet[Template], name: str, value: bool) -> QuerySet[Template]:
        return queryset.filter(archived_at__isnull=not value)
