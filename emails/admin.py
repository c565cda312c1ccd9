import uuid
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from config.admin_logs import NoCountPaginator, ReadOnlyLogAdmin
from emails import services
from emails.forms import admin as forms_admin  # noqa: F401 (registers the sign-up forms' pages)
from emails.inbox import admin as inbox_admin  # noqa: F401  (registers the team inbox's pages)
from emails.models import BlockedDomain, Email, Identity, SimulatedMessage, Suppression
from emails.selectors import email_timeline
from emails.templating import admin as templating_admin

# Other channels' admin pages reuse the filters; templating_admin registers the templates' pages.
__all__ = ["AccountFilter", "InputFilter", "NoCountPaginator", "templating_admin"]

SEALED = "Sealed: this email carried a one-time passcode, which is never shown."


class PriorityBandFilter(admin.SimpleListFilter):
    title = "priority"
    parameter_name = "band"
    BANDS = {"high": (1, 20), "normal": (21, 60), "low": (61, 100)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("high", "High (1-20)"), ("normal", "Normal (21-60)"), ("low", "Low (61-100)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Email]) -> QuerySet[Email]:
        band = self.BANDS.get(self.value() or "")
        return queryset.filter(priority__range=band) if band else queryset


class InputFilter(admin.SimpleListFilter):
    """A typed filter: listing every value would scan the whole table."""

    template = "admin/emails/input_filter.html"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("", "")]


class TagFilter(InputFilter):
    title = "tag"
    parameter_name = "tag"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Email]) -> QuerySet[Email]:
        return queryset.filter(tags__has_element=self.value()) if self.value() else queryset


class AccountFilter(InputFilter):
    title = "account"
    parameter_name = "account_name"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Email]) -> QuerySet[Email]:
        return queryset.filter(account__name__iexact=self.value()) if self.value() else queryset


def _moment(value: Any) -> str:
    """Timelines read to the millisecond, in UTC, like the API."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC" if value else "-"


def _admin_link(model_label: str, pk: Any, text: str) -> str:
    """A link to another admin page by the model's label (`events.snsnotification`): emails never imports events."""
    app_label, model_name = model_label.split(".")
    url = reverse(f"admin:{app_label}_{model_name}_change", args=[pk])
    return format_html('<a href="{}">{}</a>', url, text)


@admin.register(Email)
class EmailAdmin(ReadOnlyLogAdmin, admin.ModelAdmin):
    list_display = (
        "subject_short",
        "to_address",
        "status",
        "priority",
        "account",
        "connection",
        "send_at",
        "sent_at",
        "open_count",
        "click_count",
    )
    list_filter = ("status", PriorityBandFilter, TagFilter, AccountFilter, "connection__identifier", "created_at")
    search_fields = ("=to_email", "subject", "=client_email_id", "=ses_message_id")
    list_select_related = ("account", "connection")
    raw_id_fields = ("account", "connection", "resent_from")
    date_hierarchy = "created_at"
    actions = ("resend", "cancel", "requeue")
    readonly_fields = (
        "timeline",
        "related",
        "id",
        "rendered_html",
        "text_preview",
        "status",
        "attempts",
        "ses_message_id",
        "sent_at",
        "claimed_at",
        "created_at",
        "failure_reason",
        "dropped_recipients",
        "recipient_outcomes",
        "delivered_at",
        "opened_at",
        "clicked_at",
        "open_count",
        "click_count",
        "body_pruned_at",
    )
    fieldsets = (
        (None, {"fields": ("id", "account", "connection", "status", "priority", "client_email_id", "failure_reason")}),
        ("Timeline", {"fields": ("timeline", "related")}),
        ("Addresses", {"fields": ("from_address", "to_address", "cc", "bcc", "reply_to", "dropped_recipients")}),
        ("Content", {"fields": ("subject", "rendered_html", "text_preview", "headers", "tags", "custom_fields")}),
        (
            "Delivery",
            {
                "fields": (
                    "scheduled_for",
                    "send_at",
                    "created_at",
                    "claimed_at",
                    "sent_at",
                    "attempts",
                    "ses_message_id",
                    "recipient_outcomes",
                    "delivered_at",
                    "opened_at",
                    "clicked_at",
                    "open_count",
                    "click_count",
                    "resent_from",
                    "body_pruned_at",
                )
            },
        ),
    )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Email], search_term: str) -> Any:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:  # a pasted email id (pendable_id) finds that email too
            email_id = uuid.UUID(search_term.strip())
        except ValueError:
            return results, may_have_duplicates
        return results | queryset.filter(pk=email_id), may_have_duplicates

    @admin.display(description="Timeline (UTC)")
    def timeline(self, email: Email) -> str:
        """The same rows as the API's timeline, each SES row linked to its event and SNS notification."""
        rows = []
        for entry in email_timeline(email):
            links = ""
            if entry.event is not None:
                links = _admin_link("emails.emailevent", entry.event.pk, "event")
                if entry.event.notification_id:
                    links += format_html(
                        " · {}",
                        _admin_link("events.snsnotification", entry.event.notification_id, "SNS notification"),
                    )
            rows.append(
                (
                    _moment(entry.occurred_at),
                    entry.type,
                    entry.subtype,
                    entry.source,
                    entry.recipient,
                    entry.detail,
                    links,
                )
            )
        body = format_html_join(
            "",
            "<tr><td><code>{}</code></td><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            rows,
        )
        return format_html(
            '<table class="email-timeline"><thead><tr><th>When</th><th>Type</th><th>Subtype</th><th>Source</th>'
            "<th>Recipient</th><th>Detail</th><th></th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    @admin.display(description="Related")
    def related(self, email: Email) -> str:
        links = []
        if email.resent_from_id:
            links.append(
                format_html(
                    "resent from {}", _admin_link("emails.email", email.resent_from_id, str(email.resent_from_id))
                )
            )
        for copy_id in email.resends.values_list("pk", flat=True):
            links.append(format_html("resent as {}", _admin_link("emails.email", copy_id, str(copy_id))))
        contacts = reverse("admin:contacts_contact_changelist")
        links.append(format_html('<a href="{}?q={}">contacts with {}</a>', contacts, email.to_email, email.to_email))
        if email.ses_message_id:
            events = reverse("admin:emails_emailevent_changelist")
            links.append(
                format_html('<a href="{}?q={}">all events of this SES message</a>', events, email.ses_message_id)
            )
        return format_html_join(" · ", "{}", ((link,) for link in links))

    @admin.display(description="Subject", ordering="subject")
    def subject_short(self, email: Email) -> str:
        return email.subject[:70]

    @admin.display(description="HTML body")
    def rendered_html(self, email: Email) -> str:
        if email.sealed:
            return SEALED
        if not email.html_body:
            return "-"
        # srcdoc is attribute-escaped by format_html; sandbox="" blocks scripts, forms and same-origin access.
        return format_html(
            '<iframe sandbox="" srcdoc="{}" style="width:100%;height:420px;border:1px solid #ccc;background:#fff">'
            "</iframe>",
            email.html_body,
        )

    @admin.display(description="Text body")
    def text_preview(self, email: Email) -> str:
        if email.sealed:
            return SEALED
        return format_html(
            '<pre style="white-space:pre-wrap;max-height:420px;overflow:auto">{}</pre>', email.text_body or "-"
        )

    @admin.action(description="Resend selected emails")
    def resend(self, request: HttpRequest, queryset: QuerySet[Email]) -> None:
        done, problems = 0, []
        for email in queryset.select_related("account", "connection"):
            try:
                services.email_resend(email=email)
                done += 1
            except Exception as exc:  # one bad row must not stop the others; the operator sees why
                problems.append(f"{email.pk}: {exc}")
        self.message_user(request, f"Resent {done} email(s).", messages.SUCCESS)
        for problem in problems:
            self.message_user(request, problem, messages.ERROR)

    @admin.action(description="Cancel selected emails (only scheduled or queued)")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Email]) -> None:
        cancelled = 0
        for email in queryset.filter(status__in=Email.WAITING):
            try:
                services.email_cancel(email=email)
                cancelled += 1
            except services.NotCancellable:
                continue
        self.message_user(
            request, f"Cancelled {cancelled} email(s); others were already on their way.", messages.SUCCESS
        )

    @admin.action(description="Requeue selected failed emails (attempts reset)")
    def requeue(self, request: HttpRequest, queryset: QuerySet[Email]) -> None:
        moved = sum(
            services.email_requeue(email_id=pk, by=str(request.user))
            for pk in queryset.filter(status=Email.Status.FAILED).values_list("pk", flat=True)
        )
        self.message_user(request, f"Requeued {moved} failed email(s); others were not failed.", messages.SUCCESS)


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ("address", "reason", "account", "source_email", "created_at")
    list_filter = ("reason", "created_at")
    search_fields = ("address", "account__name")
    list_select_related = ("account",)
    raw_id_fields = ("account", "source_email")
    paginator = NoCountPaginator
    show_full_result_count = False


@admin.register(BlockedDomain)
class BlockedDomainAdmin(admin.ModelAdmin):
    list_display = ("domain", "account", "created_at")
    search_fields = ("domain", "account__name")
    list_select_related = ("account",)
    raw_id_fields = ("account",)
    list_filter = ("created_at",)


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "status", "account", "connection", "checked_at")
    list_filter = ("status", "kind")
    search_fields = ("name", "account__name")
    list_select_related = ("account", "connection")
    raw_id_fields = ("account", "connection")
    readonly_fields = ("dns_records", "checked_at", "created_at")
    actions = ("refresh",)

    @admin.display(description="DNS records to publish")
    def dns_records(self, identity: Identity) -> str:
        rows = format_html_join(
            "", "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td></tr>", identity.dkim_records
        )
        return format_html("<table>{}</table>", rows) if rows else "-"

    @admin.action(description="Refresh verification status from SES")
    def refresh(self, request: HttpRequest, queryset: QuerySet[Identity]) -> None:
        by_connection: dict[Any, list[Identity]] = {}
        for identity in queryset.select_related("connection"):
            by_connection.setdefault(identity.connection, []).append(identity)
        for connection, identities in by_connection.items():
            services.identity_refresh(connection=connection, identities=identities)
        self.message_user(request, f"Refreshed {queryset.count()} identities.", messages.SUCCESS)


@admin.register(SimulatedMessage)
class SimulatedMessageAdmin(ReadOnlyLogAdmin, admin.ModelAdmin):
    list_display = ("message_id", "destinations", "email", "created_at")
    search_fields = ("=message_id",)
    list_select_related = ("email",)
    readonly_fields = ("message_id", "email", "connection", "destinations", "mime", "created_at")
    exclude = ("raw",)
    list_filter = ("created_at",)

    @admin.display(description="Raw MIME")
    def mime(self, message: SimulatedMessage) -> str:
        return format_html('<pre style="white-space:pre-wrap">{}</pre>', bytes(message.raw).decode(errors="replace"))
