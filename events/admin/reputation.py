"""Reputation protection: each connection's state, rates and history; provisioning on the AWS connection page."""

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.admin import AwsConnectionAdmin
from accounts.models import AwsConnection
from events import services
from events.admin.common import pct
from events.models import ConnectionReputation, ReputationChange


class ReputationChangeInline(admin.TabularInline):
    model = ReputationChange
    extra = 0
    can_delete = False
    ordering = ("-created_at",)
    fields = (
        "created_at",
        "from_state",
        "to_state",
        "send_rate_factor",
        "bounce",
        "complaint",
        "reason",
        "notified_email",
        "notify_error",
    )
    readonly_fields = fields
    verbose_name_plural = "History"

    @admin.display(description="Bounce rate")
    def bounce(self, change: ReputationChange) -> str:
        return pct(change.bounce_rate)

    @admin.display(description="Complaint rate")
    def complaint(self, change: ReputationChange) -> str:
        return pct(change.complaint_rate)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _judged(reputation: ConnectionReputation, rate: float | None) -> str:
    """A rate, or why there is none: fewer recipients than SESAME_REPUTATION_MIN_SENDS in the window are not judged."""
    if rate is not None:
        return pct(rate)
    if reputation.checked_at is None:
        return "not checked yet"
    return (
        f"not judged: {reputation.sends} of the {settings.SESAME_REPUTATION_MIN_SENDS} recipients needed in the last "
        f"{settings.SESAME_REPUTATION_WINDOW_HOURS} h"
    )


@admin.register(ConnectionReputation)
class ConnectionReputationAdmin(admin.ModelAdmin):
    list_display = (
        "connection",
        "account",
        "state",
        "send_rate",
        "bounce",
        "complaint",
        "sends",
        "cloudwatch",
        "alarm_active",
        "checked_at",
    )
    list_filter = ("state", "alarm_active")
    search_fields = ("connection__identifier", "account__name", "=connection__id")
    list_select_related = ("connection", "account")
    readonly_fields = (
        "connection",
        "account",
        "state",
        "send_rate",
        "sends",
        "bounces",
        "complaints",
        "bounce",
        "complaint",
        "cloudwatch",
        "alarm_active",
        "counting_since",
        "healthy_since",
        "state_changed_at",
        "checked_at",
    )
    exclude = ("bounce_rate", "complaint_rate", "cloudwatch_bounce_rate", "cloudwatch_complaint_rate")
    actions = ("resume_now", "pause_now", "check_now")
    inlines = (ReputationChangeInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConnectionReputation]:
        return super().get_queryset(request).annotate(factor=F("connection__send_rate_factor"))

    @admin.display(description="Send rate", ordering="factor")
    def send_rate(self, reputation: ConnectionReputation) -> str:
        factor = getattr(reputation, "factor", reputation.connection.send_rate_factor)
        return "paused" if factor == 0 else f"{factor:.0%}"

    @admin.display(description="Bounce rate", ordering="bounce_rate")
    def bounce(self, reputation: ConnectionReputation) -> str:
        return _judged(reputation, reputation.bounce_rate)

    @admin.display(description="Complaint rate", ordering="complaint_rate")
    def complaint(self, reputation: ConnectionReputation) -> str:
        return _judged(reputation, reputation.complaint_rate)

    @admin.display(description="CloudWatch bounce / complaint")
    def cloudwatch(self, reputation: ConnectionReputation) -> str:
        return f"{pct(reputation.cloudwatch_bounce_rate)} / {pct(reputation.cloudwatch_complaint_rate)}"

    @admin.action(description="Resume sending now (count only events from now on)")
    def resume_now(self, request: HttpRequest, queryset: QuerySet[ConnectionReputation]) -> None:
        for reputation in queryset.select_related("connection"):
            services.reputation_resume(connection=reputation.connection, reason=f"Resumed by {request.user}.")
        self.message_user(request, f"Resumed {queryset.count()} connection(s) at full speed.", messages.SUCCESS)

    @admin.action(description="Pause sending now")
    def pause_now(self, request: HttpRequest, queryset: QuerySet[ConnectionReputation]) -> None:
        for reputation in queryset.select_related("connection"):
            services.reputation_pause(connection=reputation.connection, reason=f"Paused by {request.user}.")
        self.message_user(
            request, f"Paused {queryset.count()} connection(s); their emails stay queued.", messages.WARNING
        )

    @admin.action(description="Check rates now")
    def check_now(self, request: HttpRequest, queryset: QuerySet[ConnectionReputation]) -> None:
        for reputation in queryset:
            checked = services.reputation_check(connection_id=reputation.connection_id)
            self.message_user(
                request,
                f"{reputation.connection}: {checked.state}, bounce {pct(checked.bounce_rate)}, "
                f"complaint {pct(checked.complaint_rate)} over {checked.sends} recipients.",
                messages.INFO,
            )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# The AWS connection page gains the provisioning action and its event plumbing's state; accounts/ stays unaware
# of the events app.
admin.site.unregister(AwsConnection)


@admin.register(AwsConnection)
class AwsConnectionEventsAdmin(AwsConnectionAdmin):
    actions = (*(AwsConnectionAdmin.actions or ()), "provision")  # type: ignore[assignment]
    readonly_fields = (*AwsConnectionAdmin.readonly_fields, "events_plumbing", "setup_links")  # type: ignore[assignment]

    def get_urls(self) -> list[Any]:
        health = path(
            "<uuid:connection_id>/health/",
            self.admin_site.admin_view(self.health_view),
            name="accounts_awsconnection_health",
        )
        return [health, *super().get_urls()]

    def health_view(self, request: HttpRequest, connection_id: Any) -> HttpResponse:
        connection = get_object_or_404(AwsConnection.objects.select_related("account"), pk=connection_id)
        context = {
            **self.admin_site.each_context(request),
            "title": f"AWS set-up of {connection}",
            "connection": connection,
            "health": services.connection_health(connection=connection),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/events/connection_health.html", context)

    @admin.display(description="Set-up and dashboard")
    def setup_links(self, connection: AwsConnection) -> str:
        if not connection.pk:
            return "-"
        return format_html(
            '<a href="{}">AWS set-up and health</a> · <a href="{}">Dashboard</a>',
            reverse("admin:accounts_awsconnection_health", args=[connection.pk]),
            reverse("admin:dashboard_connection", args=[connection.pk]),
        )

    @admin.display(description="Event plumbing")
    def events_plumbing(self, connection: AwsConnection) -> str:
        if not connection.pk:
            return "-"
        state = getattr(getattr(connection, "reputation", None), "state", "healthy")
        return format_html(
            "Configuration set <code>{}</code>, topic <code>{}</code>, provisioned {}; reputation: {}, send rate {}",
            connection.configuration_set,
            connection.sns_topic_arn or "(none)",
            connection.provisioned_at or "never",
            state,
            f"{connection.send_rate_factor:.0%}",
        )

    @admin.action(description="Provision (create or repair) SES events plumbing")
    def provision(self, request: HttpRequest, queryset: QuerySet[AwsConnection]) -> None:
        levels = {"failed": messages.ERROR, "warning": messages.WARNING}
        for connection in queryset.select_related("account"):
            report = services.connection_provision(connection=connection)
            for step in report.steps:
                self.message_user(
                    request,
                    f"{connection}: [{step.status}] {step.name}: {step.detail}",
                    levels.get(step.status, messages.SUCCESS),
                )
