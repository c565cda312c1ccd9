"""The operator console for push: apps (credential status, error rate, pause and resume), devices (token prefix
only), and pushes with their per-device outcomes and timelines, read-only."""

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from emails.admin import NoCountPaginator
from push import services
from push.models import (
    PushApp,
    PushConnectionRate,
    PushDelivery,
    PushDevice,
    PushEvent,
    PushMessage,
    SimulatedPush,
)
from push.selectors import push_outcomes
from push.services.health import GUARD_CODES


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TimelineInline(admin.TabularInline):
    model = PushEvent
    extra = 0
    can_delete = False
    ordering = ("occurred_at",)
    fields = ("occurred_at", "event_type", "source", "detail")
    readonly_fields = fields
    verbose_name_plural = "Timeline"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeviceTimelineInline(TimelineInline):
    fk_name = "device"


class DeliveryTimelineInline(TimelineInline):
    fk_name = "delivery"


def _count(rows: QuerySet[Any]) -> Coalesce:
    """A correlated COUNT, so one app's many deliveries and devices never multiply each other in a join."""
    return Coalesce(Subquery(rows.order_by().values("app").annotate(n=Count("pk")).values("n")), 0)


@admin.register(PushApp)
class PushAppAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "platform",
        "account",
        "connection",
        "status",
        "credential_status",
        "device_count",
        "error_rate",
        "paused_at",
    )
    list_filter = ("status", "platform", "credential_kind")
    search_fields = ("name", "=platform_application_arn", "account__name")
    list_select_related = ("account", "connection")
    raw_id_fields = ("account", "connection")
    actions = ("pause", "resume")
    # The uploaded key is never shown again, not even to operators: only what identifies it.
    exclude = ("credentials",)
    readonly_fields = (
        "id",
        "platform_application_arn",
        "credential_kind",
        "credential_summary",
        "status",
        "paused_reason",
        "paused_at",
        "pause_notice_id",
        "pause_notice_error",
        "created_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # apps are created through the API, which calls SNS

    def get_queryset(self, request: HttpRequest) -> QuerySet[PushApp]:
        recent = PushDelivery.objects.filter(app=OuterRef("pk"), claimed_at__gte=timezone.now() - timedelta(hours=1))
        failed = Q()
        for code in GUARD_CODES:
            failed |= Q(failure_reason__startswith=f"{code}:")
        return (
            super()
            .get_queryset(request)
            .annotate(
                tried=_count(recent),
                failed=_count(recent.filter(failed, status=PushDelivery.Status.FAILED)),
                enabled_devices=_count(PushDevice.objects.filter(app=OuterRef("pk"), enabled=True)),
            )
        )

    @admin.display(description="credentials")
    def credential_status(self, app: PushApp) -> str:
        if app.credential_kind == PushApp.Credential.ADOPTED:
            return "kept in SNS"
        return "stored encrypted" if app.credential_summary else "missing"

    @admin.display(description="enabled devices", ordering="enabled_devices")
    def device_count(self, app: Any) -> int:
        return int(app.enabled_devices)

    @admin.display(description="errors (1 h)")
    def error_rate(self, app: Any) -> str:
        return f"{app.failed / app.tried:.0%} of {app.tried}" if app.tried else "-"

    @admin.action(description="Pause sending (pushes are held)")
    def pause(self, request: HttpRequest, queryset: QuerySet[PushApp]) -> None:
        paused = sum(services.push_app_pause(app=app, reason=f"paused by {request.user}") for app in queryset)
        self.message_user(request, f"{paused} app(s) paused; their pushes are held.", messages.SUCCESS)

    @admin.action(description="Resume sending")
    def resume(self, request: HttpRequest, queryset: QuerySet[PushApp]) -> None:
        released = sum(services.push_app_resume(app=app) for app in queryset.filter(status=PushApp.Status.PAUSED))
        self.message_user(request, f"Resumed; {released} held push(es) queued again.", messages.SUCCESS)


@admin.register(PushDevice)
class PushDeviceAdmin(admin.ModelAdmin):
    list_display = ("token_shown", "app", "platform", "contact", "enabled", "disabled_reason", "registered_at")
    list_filter = ("enabled", "app__platform", "disabled_by_failure")
    search_fields = ("=contact__email", "=contact__mobile", "=token_prefix", "=endpoint_arn")
    list_select_related = ("app", "contact")
    raw_id_fields = ("account", "app", "contact")
    paginator = NoCountPaginator
    show_full_result_count = False
    inlines = (DeviceTimelineInline,)
    exclude = ("token_hash",)
    readonly_fields = (
        "id",
        "token_prefix",
        "endpoint_arn",
        "enabled",
        "disabled_reason",
        "disabled_at",
        "disabled_by_failure",
        "endpoint_needs_enable",
        "registered_at",
        "created_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # devices register through the API, which calls SNS

    @admin.display(description="token", ordering="token_prefix")
    def token_shown(self, device: PushDevice) -> str:
        return f"{device.token_prefix}…"

    @admin.display(description="platform", ordering="app__platform")
    def platform(self, device: PushDevice) -> str:
        return device.app.platform


@admin.register(PushMessage)
class PushMessageAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "target", "account", "status", "priority", "device_count", "send_at", "created_at")
    list_filter = ("status", "target", "urgency")
    search_fields = ("=id", "=client_push_id", "title")
    list_select_related = ("account",)
    raw_id_fields = ("account", "device", "contact", "segment")
    paginator = NoCountPaginator
    show_full_result_count = False
    date_hierarchy = "created_at"
    readonly_fields = ("outcomes", "first_deliveries")

    @admin.display(description="outcomes per device")
    def outcomes(self, message: PushMessage) -> str:
        counts = push_outcomes(message=message)
        return ", ".join(f"{status}: {count}" for status, count in sorted(counts.items())) or "no devices"

    @admin.display(description="deliveries (first 50)")
    def first_deliveries(self, message: PushMessage) -> str:
        rows = PushDelivery.objects.filter(message=message).order_by("created_at")[:50]
        link = reverse("admin:push_pushdelivery_changelist") + f"?message__id__exact={message.pk}"
        table = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:push_pushdelivery_change", args=[row.pk]),
                    row.device_id,
                    row.status,
                    row.failure_reason,
                )
                for row in rows
            ),
        )
        return format_html('<table>{}</table><p><a href="{}">All deliveries with their timelines</a></p>', table, link)


@admin.register(PushDelivery)
class PushDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "message", "device", "app", "status", "priority", "attempts", "sent_at", "failure_reason")
    list_filter = ("status",)
    search_fields = ("=id", "=sns_message_id", "=message__id")
    list_select_related = ("message", "device", "app")
    raw_id_fields = ("account", "connection", "message", "device", "app")
    paginator = NoCountPaginator
    show_full_result_count = False
    inlines = (DeliveryTimelineInline,)


@admin.register(PushConnectionRate)
class PushConnectionRateAdmin(admin.ModelAdmin):
    list_display = ("connection", "rate", "held_until", "updated_at")
    raw_id_fields = ("connection",)
    list_select_related = ("connection",)
    search_fields = ("connection__identifier",)


@admin.register(SimulatedPush)
class SimulatedPushAdmin(ReadOnlyAdmin):
    list_display = ("message_id", "endpoint_arn", "outcome", "created_at")
    list_filter = ("outcome",)
    search_fields = ("=message_id", "=endpoint_arn")
