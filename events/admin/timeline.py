"""The timeline and the raw SNS notifications."""

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from config.admin_logs import ReadOnlyLogAdmin
from emails.models import EmailEvent
from events import parsing, services
from events.admin.common import pretty
from events.models import SnsNotification


class EventTypeFilter(admin.SimpleListFilter):
    title = "event type"
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        known = [(t, t.replace("_", " ")) for t in parsing.KNOWN_TYPES]
        return [*known, ("other", "Unknown to Sesame")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[EmailEvent]) -> QuerySet[EmailEvent]:
        if self.value() == "other":
            return queryset.filter(source=EmailEvent.Source.SES).exclude(event_type__in=parsing.KNOWN_TYPES)
        return queryset.filter(event_type=self.value()) if self.value() else queryset


class MatchedFilter(admin.SimpleListFilter):
    title = "matched to an email"
    parameter_name = "matched"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Matched"), ("no", "Waiting for its email (orphan)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[EmailEvent]) -> QuerySet[EmailEvent]:
        if self.value() == "yes":
            return queryset.filter(email__isnull=False)
        if self.value() == "no":
            return queryset.filter(email__isnull=True).exclude(ses_message_id="")
        return queryset


@admin.register(EmailEvent)
class EmailEventAdmin(ReadOnlyLogAdmin, admin.ModelAdmin):
    list_display = ("occurred_at", "event_type", "subtype", "recipient", "email", "account", "connection", "source")
    list_filter = (EventTypeFilter, MatchedFilter, "source", "occurred_at")
    search_fields = ("=ses_message_id", "=recipient", "=email__id")
    list_select_related = ("email", "account", "connection")
    raw_id_fields = ("email", "account", "connection", "notification")
    readonly_fields = (
        "account",
        "email",
        "connection",
        "ses_message_id",
        "source",
        "event_type",
        "subtype",
        "recipient",
        "detail",
        "notification",
        "occurred_at",
        "created_at",
        "payload_pretty",
    )
    exclude = ("payload",)
    date_hierarchy = "occurred_at"

    @admin.display(description="SES payload")
    def payload_pretty(self, event: EmailEvent) -> str:
        return pretty(event.payload)


class NotificationStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("pending", "Waiting to be processed"),
            ("processed", "Processed"),
            ("failed", "Failed (parked)"),
            ("erroring", "Had errors"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[SnsNotification]) -> QuerySet[SnsNotification]:
        value = self.value()
        if value == "pending":
            return queryset.filter(processed_at__isnull=True, failed_at__isnull=True)
        if value == "processed":
            return queryset.filter(processed_at__isnull=False)
        if value == "failed":
            return queryset.filter(failed_at__isnull=False)
        if value == "erroring":
            return queryset.exclude(last_error="")
        return queryset


@admin.register(SnsNotification)
class SnsNotificationAdmin(ReadOnlyLogAdmin, admin.ModelAdmin):
    list_display = (
        "received_at",
        "message_type",
        "kind",
        "event_type",
        "connection",
        "origin",
        "state",
        "attempts",
        "source_ip",
    )
    list_filter = (NotificationStateFilter, "kind", "message_type", "origin", "received_at")
    search_fields = ("=message_id", "=ses_message_id", "=connection__id", "event_type")
    list_select_related = ("connection", "account")
    raw_id_fields = ("connection", "account")
    exclude = ("body",)
    readonly_fields = (
        "connection",
        "account",
        "message_id",
        "message_type",
        "topic_arn",
        "origin",
        "sns_timestamp",
        "received_at",
        "source_ip",
        "kind",
        "event_type",
        "ses_message_id",
        "result",
        "processed_at",
        "attempts",
        "last_error",
        "failed_at",
        "related",
        "message_pretty",
        "envelope_pretty",
    )
    actions = ("process_again", "replay")
    date_hierarchy = "received_at"

    @admin.display(description="State")
    def state(self, notification: SnsNotification) -> str:
        if notification.processed_at:
            return "processed"
        return "failed" if notification.failed_at else "pending"

    def _envelope(self, notification: SnsNotification) -> dict[str, Any]:
        try:
            envelope: dict[str, Any] = json.loads(notification.body)
        except ValueError:
            return {}
        return envelope

    @admin.display(description="Related")
    def related(self, notification: SnsNotification) -> str:
        """Its timeline rows and their email: the other ends of the links on the email's timeline."""
        events = list(notification.events.select_related("email")[:20])
        if not events:
            return "-"
        return format_html_join(
            " · ",
            '<a href="{}">{} {}</a>{}',
            (
                (
                    reverse("admin:emails_emailevent_change", args=[event.pk]),
                    event.event_type,
                    event.recipient,
                    format_html(
                        ' (email <a href="{}">{}</a>)',
                        reverse("admin:emails_email_change", args=[event.email_id]),
                        event.email,
                    )
                    if event.email_id
                    else "",
                )
                for event in events
            ),
        )

    @admin.display(description="Message")
    def message_pretty(self, notification: SnsNotification) -> str:
        message = self._envelope(notification).get("Message", "")
        try:
            return pretty(json.loads(message))
        except (TypeError, ValueError):
            return format_html("<pre>{}</pre>", message)

    @admin.display(description="SNS envelope")
    def envelope_pretty(self, notification: SnsNotification) -> str:
        # The confirmation token lets anyone confirm the subscription; it has no business on a screen.
        shown = {k: v for k, v in self._envelope(notification).items() if k not in {"Message", "Token", "Signature"}}
        return pretty(shown)

    @admin.action(description="Replay the selected SES events (adds only what is missing; as replay_notifications)")
    def replay(self, request: HttpRequest, queryset: QuerySet[SnsNotification]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        changed = sum(services.notification_replay(notification_id=pk) for pk in ids)
        self.message_user(
            request,
            f"Replayed {len(ids)} notification(s): {changed} changed, the rest were complete.",
            messages.SUCCESS,
        )

    @admin.action(description="Process the selected notifications again (unprocessed ones only)")
    def process_again(self, request: HttpRequest, queryset: QuerySet[SnsNotification]) -> None:
        pending = list(queryset.filter(processed_at__isnull=True))
        for notification in pending:
            services.notification_retry(notification=notification)
        self.message_user(request, f"Queued {len(pending)} notification(s) for processing.", messages.SUCCESS)
