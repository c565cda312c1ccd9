"""Broadcasts in the operator console: drafts made and checked as through the API, actions that call the
lifecycle services, progress and the audience preview on each broadcast's page, and the ledger as a read-only log."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from rest_framework.exceptions import APIException

from config.admin_logs import ReadOnlyLogAdmin
from config.api.errors import UnprocessableEntity
from events.broadcasts import services
from events.broadcasts.audience import audience_preview
from events.broadcasts.channels import broadcast_channel
from events.broadcasts.models import Broadcast, BroadcastRecipient
from events.broadcasts.selectors import broadcast_progress

DRAFT_FIELDS = (
    "account", "name", "channel", "template", "variables", "topic", "segment", "filters", "connection", "from_address",
    "reply_to", "priority", "tags", "window_start", "window_end", "window_timezone",
)  # fmt: skip


class BroadcastForm(forms.ModelForm):
    class Meta:
        model = Broadcast
        fields = DRAFT_FIELDS

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        for name in ("template", "topic", "segment", "connection"):
            value = data.get(name)
            if value is not None and value.account_id != data["account"].pk:
                self.add_error(name, "Pick one of the broadcast account's own.")
        if not self.errors:
            candidate = Broadcast(**{name: data.get(name) for name in DRAFT_FIELDS if name in data})
            try:
                services.broadcast_check(broadcast=candidate)
            except UnprocessableEntity as exc:
                raise ValidationError([entry["msg"] for entry in exc.entries]) from exc
        return data


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(Broadcast.Status.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Broadcast]) -> QuerySet[Broadcast]:
        return queryset.filter(status=self.value()) if self.value() else queryset


@admin.register(Broadcast)
class BroadcastAdmin(admin.ModelAdmin):
    form = BroadcastForm
    list_display = ("name", "account", "status", "channel", "topic", "audience_count", "send_at", "finished_at")
    search_fields = ("name", "account__name")
    list_filter = (StatusFilter, "channel", "created_at")
    list_select_related = ("account", "topic")
    raw_id_fields = ("account", "template", "topic", "segment", "connection")
    readonly_fields = ("status", "progress", "audience", "template_version", "send_at", "started_at", "finished_at")
    actions = ("send_now", "pause", "resume", "cancel")

    def has_change_permission(self, request: HttpRequest, obj: Broadcast | None = None) -> bool:
        return obj is None or obj.status == Broadcast.Status.DRAFT  # only drafts are edited; the rest has actions

    @admin.display(description="Progress")
    def progress(self, broadcast: Broadcast) -> str:
        if broadcast.pk is None or broadcast.status == Broadcast.Status.DRAFT:
            return "-"
        found = broadcast_progress(broadcast=broadcast)
        keys = ("audience", "to_send", "sent", "failed", "suppressed", "opens", "clicks")
        rows = [(key, "-" if found[key] is None else found[key]) for key in keys]
        rows += [("ETA", found["eta"] or "-"), *((f"excluded: {k}", v) for k, v in found["excluded"].items())]
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))

    @admin.display(description="Audience if it started now")
    def audience(self, broadcast: Broadcast) -> str:
        if broadcast.pk is None:
            return "-"
        try:
            preview = audience_preview(broadcast=broadcast, sample_size=5)
        except ValidationError:
            return "the segment's filters are no longer valid"
        excluded = ", ".join(f"{reason} {count}" for reason, count in preview["excluded"].items()) or "none"
        sample = ", ".join(str(contact) for contact in preview["sample"])
        return format_html("{} contacts (left out: {}). For example: {}", preview["count"], excluded, sample or "-")

    def _each(self, request: HttpRequest, queryset: QuerySet[Broadcast], verb: str, service: Any) -> None:
        done, refused = 0, []
        for broadcast in queryset:
            try:
                service(broadcast=broadcast)
                done += 1
            except UnprocessableEntity as exc:
                refused.append(f"{broadcast}: {'; '.join(entry['msg'] for entry in exc.entries)}")
            except APIException as exc:
                refused.append(f"{broadcast}: {exc.detail}")
        if done:
            self.message_user(request, f"{verb} {done} broadcast(s).", messages.SUCCESS)
        for problem in refused:
            self.message_user(request, problem, messages.ERROR)

    @admin.action(description="Send the selected drafts now")
    def send_now(self, request: HttpRequest, queryset: QuerySet[Broadcast]) -> None:
        self._each(request, queryset, "Started", services.broadcast_send)

    @admin.action(description="Pause the selected broadcasts")
    def pause(self, request: HttpRequest, queryset: QuerySet[Broadcast]) -> None:
        self._each(request, queryset, "Paused", services.broadcast_pause)

    @admin.action(description="Resume the selected broadcasts")
    def resume(self, request: HttpRequest, queryset: QuerySet[Broadcast]) -> None:
        self._each(request, queryset, "Resumed", services.broadcast_resume)

    @admin.action(description="Cancel the selected broadcasts")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Broadcast]) -> None:
        self._each(request, queryset, "Cancelled", services.broadcast_cancel)


class RecipientStatusFilter(StatusFilter):
    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(BroadcastRecipient.Status.choices)


@admin.register(BroadcastRecipient)
class BroadcastRecipientAdmin(ReadOnlyLogAdmin, admin.ModelAdmin):
    list_display = ("contact", "broadcast", "status", "reason", "message_link")
    search_fields = ("contact__email", "contact__mobile", "broadcast__name")
    list_filter = (RecipientStatusFilter,)
    list_select_related = ("contact", "broadcast")
    raw_id_fields = ("contact", "broadcast", "account")

    @admin.display(description="Message")
    def message_link(self, row: BroadcastRecipient) -> str:
        """The contact's email, SMS or push (whose page lists its deliveries, one per device)."""
        if row.message_id is None:
            return "-"
        channel = broadcast_channel(row.broadcast.channel)
        url = reverse(channel.admin_url, args=[row.message_id])
        return format_html('<a href="{}">{} {}</a>', url, channel.name, str(row.message_id)[:8])
