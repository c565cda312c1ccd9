"""Outbound webhooks: customers' endpoints and every delivery with its attempts."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from config.admin_logs import ReadOnlyLogAdmin
from events import services
from events.admin.common import pretty
from events.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


class WebhookAttemptInline(ReadOnlyLogAdmin, admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("attempted_at", "status_code", "duration_ms", "error", "response_excerpt")
    readonly_fields = fields
    verbose_name_plural = "Attempts"


class EndpointStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            *WebhookEndpoint.Status.choices,
            ("failing", "Failing (backed off)"),
            ("dropping", "Dropped deliveries"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> QuerySet[WebhookEndpoint]:
        match self.value():
            case WebhookEndpoint.Status.DISABLED:
                return queryset.filter(disabled_at__isnull=False)
            case WebhookEndpoint.Status.PAUSED:
                return queryset.filter(is_active=False, disabled_at__isnull=True)
            case WebhookEndpoint.Status.ACTIVE:
                return queryset.filter(is_active=True)
            case "failing":
                return queryset.filter(consecutive_failures__gt=0)
            case "dropping":
                return queryset.filter(deliveries_dropped__gt=0)
        return queryset


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = (
        "url",
        "account",
        "event_types",
        "status_display",
        "consecutive_failures",
        "retry_at",
        "pending",
        "deliveries_dropped",
        "secret_display",
        "created_at",
    )
    list_filter = (EndpointStatusFilter, "created_at")
    search_fields = ("url", "account__name", "=id")
    list_select_related = ("account",)
    raw_id_fields = ("account", "disabled_notice")
    fields = (
        "account",
        "url",
        "event_types",
        "description",
        "is_active",
        "status_display",
        "disabled_at",
        "disabled_reason",
        "disabled_notice",
        "disabled_notice_error",
        "consecutive_failures",
        "failing_since",
        "retry_at",
        "last_failure_at",
        "last_error",
        "last_success_at",
        "deliveries_dropped",
        "last_dropped_at",
        "secret_display",
        "created_at",
    )
    readonly_fields = tuple(name for name in fields if name not in ("description", "is_active"))
    actions = ("enable", "pause")

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEndpoint]:
        pending = Count("deliveries", filter=Q(deliveries__status=WebhookDelivery.Status.PENDING))
        return super().get_queryset(request).annotate(pending_count=pending)

    @admin.display(description="Status")
    def status_display(self, endpoint: WebhookEndpoint) -> str:
        if endpoint.disabled_at is not None:
            return format_html("<b style='color:#ba2121'>disabled</b> — {}", endpoint.disabled_reason)
        if endpoint.consecutive_failures:
            return f"{endpoint.status}, failing ({endpoint.consecutive_failures} in a row)"
        return str(endpoint.status)

    @admin.display(description="Pending", ordering="pending_count")
    def pending(self, endpoint: WebhookEndpoint) -> int:
        return int(getattr(endpoint, "pending_count", 0))

    @admin.display(description="Secret")
    def secret_display(self, endpoint: WebhookEndpoint) -> str:
        return f"{endpoint.secret_prefix}…"

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        original = WebhookEndpoint.objects.get(pk=obj.pk)
        services.webhook_endpoint_update(endpoint=original, **changes)

    @admin.action(description="Enable the selected endpoints (clears their backoff; waiting deliveries go out)")
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        endpoints = list(queryset.filter(Q(is_active=False) | Q(disabled_at__isnull=False) | Q(retry_at__isnull=False)))
        for endpoint in endpoints:
            services.webhook_endpoint_update(endpoint=endpoint, is_active=True)
        self.message_user(request, f"Enabled {len(endpoints)} endpoint(s).", messages.SUCCESS)

    @admin.action(description="Pause the selected endpoints")
    def pause(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        endpoints = list(queryset.filter(is_active=True))
        for endpoint in endpoints:
            services.webhook_endpoint_update(endpoint=endpoint, is_active=False)
        self.message_user(request, f"Paused {len(endpoints)} endpoint(s).", messages.SUCCESS)

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
class WebhookDeliveryAdmin(ReadOnlyLogAdmin, admin.ModelAdmin):
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
        "leased_until",
        "give_up_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "created_at",
        "payload_pretty",
    )
    inlines = (WebhookAttemptInline,)
    actions = ("retry_now",)

    @admin.display(description="Payload")
    def payload_pretty(self, delivery: WebhookDelivery) -> str:
        return pretty(delivery.payload)

    @admin.action(description="Retry the selected deliveries now")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        undelivered = list(queryset.exclude(status=WebhookDelivery.Status.DELIVERED).select_related("endpoint"))
        for delivery in undelivered:
            services.webhook_delivery_retry(delivery=delivery)
        held = sum(1 for delivery in undelivered if not delivery.endpoint.is_active)
        note = f" {held} wait for their endpoint to be enabled." if held else ""
        self.message_user(request, f"Queued {len(undelivered)} delivery(ies).{note}", messages.SUCCESS)
