import django_filters

from config.api.filters import IsoDateTimeFilter, MessageFilterSet
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


class PushFilter(MessageFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=PushMessage.Status.choices, help_text="Repeat for several.")
    target = django_filters.ChoiceFilter(choices=PushMessage.Target.choices)
    contact = django_filters.NumberFilter(field_name="contact_id")
    device = django_filters.UUIDFilter(field_name="device_id")
    segment = django_filters.NumberFilter(field_name="segment_id")
    client_push_id = django_filters.CharFilter()

    class Meta:
        model = PushMessage
        fields: list[str] = []


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=PushDelivery.Status.choices, help_text="Repeat for several.")

    class Meta:
        model = PushDelivery
        fields: list[str] = []
