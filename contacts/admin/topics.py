from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from config.admin_logs import ReadOnlyLogAdmin
from contacts.models import PreferenceSettings, Topic, TopicOptOut


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "account", "opted_out", "created_at")
    search_fields = ("name", "key", "account__name")
    list_filter = ("created_at",)
    list_select_related = ("account",)
    raw_id_fields = ("account",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Topic]:
        return super().get_queryset(request).annotate(opted_out_count=Count("opt_outs"))

    @admin.display(description="Opted out", ordering="opted_out_count")
    def opted_out(self, topic: Topic) -> int:
        return getattr(topic, "opted_out_count", 0)


@admin.register(TopicOptOut)
class TopicOptOutAdmin(ReadOnlyLogAdmin, admin.ModelAdmin):
    """A record of what recipients chose: read-only, as the timeline is."""

    list_display = ("contact", "topic", "account", "source", "created_at")
    search_fields = ("contact__email", "contact__mobile", "topic__key")
    list_filter = ("source", "created_at")
    list_select_related = ("contact", "topic", "account")
    raw_id_fields = ("contact", "topic", "account")


@admin.register(PreferenceSettings)
class PreferenceSettingsAdmin(admin.ModelAdmin):
    list_display = ("account", "display_name", "brand_color", "unsubscribe_stops_transactional", "updated_at")
    search_fields = ("account__name", "display_name")
    list_filter = ("unsubscribe_stops_transactional",)
    list_select_related = ("account",)
    raw_id_fields = ("account",)
