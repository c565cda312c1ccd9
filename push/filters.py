import django_filters
from django.db.models import QuerySet

from config.api.filters import IsoDateTimeFilter
from push.models import PushApp, PushDelivery, PushDevice, PushMessage


class DeviceFilter(django_filters.FilterSet):
    app = django_filters.UUIDFilter(field_name="app_id")
    platform = django_filters.ChoiceFilter(field_name="app__platform", choices=PushApp.Platform.choices)
    contact = django_filters.NumberFilter(field_name="contact_id")
    enabled = django_filters.BooleanFilter()
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = PushDevice
        fields: list[str] = []


class PushFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=PushMessage.Status.choices, help_text="Repeat for several.")
    target = django_filters.ChoiceFilter(choices=PushMessage.Target.choices)
    contact = django_filters.NumberFilter(field_name="contact_id")
    device = django_filters.UUIDFilter(field_name="device_id")
    segment = django_filters.NumberFilter(field_name="segment_id")
    tag = django_filters.CharFilter(method="filter_tag", help_text="Pushes carrying this tag.")
    client_push_id = django_filters.CharFilter()
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = PushMessage
        fields: list[str] = []

    def filter_tag(self, queryset: QuerySet[PushMessage], name: str, value: str) -> QuerySet[PushMessage]:
        return queryset.filter(tags__has_element=value)


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=PushDelivery.Status.choices, help_text="Repeat for several.")

    class Meta:
        model = PushDelivery
        fields: list[str] = []
