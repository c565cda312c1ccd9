"""Outbound webhooks: customers' endpoints and every delivery with its attempts."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from events import services
from events.admin.common import NoCountPaginator, pretty
from events.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("attempted_at", "status_code", "duration_ms", "error", "response_excerpt")
    readonly_fields = fields
    verbose_name_plural = "Attempts"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "account", "event_types", "is_active", "secret_display", "created_at")
    list_filter = ("is_active", "created_at")
    search_fields = ("url", "account__name", "=id")
    list_select_related = ("account",)
    raw_id_fields = ("account",)
    fields = ("account", "url", "event_types", "description", "is_active", "secret_display", "created_at")
    readonly_fields = ("account", "secret_display", "created_at")

    @admin.display(description="Secret")
    def secret_display(self, endpoint: WebhookEndpoint) -> str:
        return f"{endpoint.secret_prefix}…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created through the API, where the secret is shown to its owner once


class DeliveryStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [*WebhookDelivery.Status.choices, ("retrying", "Pending after a failed attempt")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> QuerySet[WebhookDelivery]:
        if self.value() == "retrying":
            return queryset.filter(status=WebhookDelivery.Status.PENDING, attempts__gt=0)
        return queryset.filter(status=self.value()) if self.value() else queryset


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "event_type",
        "endpoint",
        "account",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
    )
    list_filter = (DeliveryStatusFilter, "event_type", "created_at")
    search_fields = ("=id", "endpoint__url", "account__name")
    list_select_related = ("endpoint", "account")
    raw_id_fields = ("endpoint", "account", "event")
    exclude = ("payload",)
    readonly_fields = (
        "endpoint",
        "account",
        "event",
        "event_type",
        "status",
        "attempts",
        "next_attempt_at",
        "give_up_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "created_at",
        "payload_pretty",
    )
    inlines = (WebhookAttemptInline,)
    actions = ("retry_now",)
    paginator = NoCountPaginator
    show_full_result_count = False

    @admin.display(description="Payload")
    def payload_pretty(self, delivery: WebhookDelivery) -> str:
        return pretty(delivery.payload)

    @admin.action(description="Retry the selected deliveries now")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        undelivered = list(queryset.exclude(status=WebhookDelivery.Status.DELIVERED))
        for delivery in undelivered:
            services.webhook_delivery_retry(delivery=delivery)
        self.message_user(request, f"Queued {len(undelivered)} delivery(ies).", messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
