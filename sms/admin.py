from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from config.admin_logs import NoCountPaginator, ReadOnlyLogAdmin
from config.delivery.errors import TransportError
from emails.admin import AccountFilter, InputFilter
from sms import services
from sms.models import (
    OtpCountryPause,
    OtpVerification,
    SimulatedSms,
    SmsConnectionState,
    SmsEvent,
    SmsMessage,
    SmsMonthlySpend,
    SmsOptOut,
    SmsPolicy,
    SmsSandboxNumber,
)


class CountryFilter(InputFilter):
    title = "country"
    parameter_name = "country"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = (self.value() or "").strip().upper()
        return queryset.filter(country=value) if value else queryset


class SmsEventInline(ReadOnlyLogAdmin, admin.TabularInline):
    model = SmsEvent
    fk_name = "message"
    extra = 0
    ordering = ("occurred_at",)
    fields = ("occurred_at", "event_type", "source", "detail", "payload")
    readonly_fields = fields
    verbose_name_plural = "Timeline"


@admin.register(SmsMessage)
class SmsMessageAdmin(ReadOnlyLogAdmin, admin.ModelAdmin):
    list_display = (
        "to",
        "country",
        "status",
        "sms_type",
        "priority",
        "segments",
        "price_usd",
        "account",
        "created_at",
        "sent_at",
    )
    list_filter = ("status", "sms_type", CountryFilter, AccountFilter, "connection__identifier", "created_at")
    search_fields = ("=to", "=client_sms_id", "=sns_message_id")
    list_select_related = ("account", "connection")
    date_hierarchy = "created_at"
    inlines = (SmsEventInline,)
    # sealed_body (a passcode's real text) is never shown.
    fieldsets = (
        (None, {"fields": ("id", "account", "connection", "status", "priority", "client_sms_id", "failure_reason")}),
        (
            "Message",
            {
                "fields": (
                    "to",
                    "country",
                    "body",
                    "encoding",
                    "segments",
                    "sms_type",
                    "sender_id",
                    "origination_number",
                    "max_price",
                    "tags",
                    "custom_fields",
                    "otp",
                )
            },
        ),
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
                    "sns_message_id",
                    "delivered_at",
                    "price_usd",
                    "provider_response",
                )
            },
        ),
    )


@admin.register(OtpVerification)
class OtpVerificationAdmin(ReadOnlyLogAdmin, admin.ModelAdmin):
    list_display = ("to", "channel", "status", "country", "sends", "checks", "expires_at", "account", "created_at")
    list_filter = ("status", "channel", CountryFilter, AccountFilter, "created_at")
    search_fields = ("=to", "=id")
    list_select_related = ("account",)
    # Never the code (it is not stored) nor its hash.
    fields = (
        "id",
        "account",
        "channel",
        "to",
        "country",
        "status",
        "sends",
        "checks",
        "last_sent_at",
        "expires_at",
        "approved_at",
        "created_at",
    )


@admin.register(SmsSandboxNumber)
class SmsSandboxNumberAdmin(ReadOnlyLogAdmin, admin.ModelAdmin):
    list_display = ("phone_number", "status", "account", "connection", "created_at", "verified_at")
    list_filter = ("status",)
    search_fields = ("=phone_number", "account__name")
    list_select_related = ("account", "connection")


@admin.register(SmsOptOut)
class SmsOptOutAdmin(admin.ModelAdmin):
    list_display = ("phone_number", "source", "account", "created_at")
    list_filter = ("source", "created_at")
    search_fields = ("=phone_number", "account__name")
    list_select_related = ("account",)
    raw_id_fields = ("account",)
    paginator = NoCountPaginator
    show_full_result_count = False


@admin.register(SmsPolicy)
class SmsPolicyAdmin(admin.ModelAdmin):
    list_display = ("account", "country", "allowed_countries", "monthly_spend_limit_usd", "otp_code_length")
    search_fields = ("account__name",)
    list_select_related = ("account",)
    raw_id_fields = ("account",)


@admin.register(SmsMonthlySpend)
class SmsMonthlySpendAdmin(ReadOnlyLogAdmin, admin.ModelAdmin):
    list_display = ("account", "month", "spent_usd")
    list_filter = ("month",)
    search_fields = ("account__name",)
    list_select_related = ("account",)


@admin.register(SmsConnectionState)
class SmsConnectionStateAdmin(admin.ModelAdmin):
    list_display = (
        "connection",
        "sms_rate",
        "in_sandbox",
        "sandbox_checked_at",
        "held_until",
        "delivery_status_provisioned_at",
        "opt_outs_synced_at",
    )
    list_filter = ("in_sandbox",)
    search_fields = ("connection__identifier", "connection__account__name")
    list_select_related = ("connection",)
    raw_id_fields = ("connection",)
    readonly_fields = (
        "in_sandbox",
        "sandbox_checked_at",
        "aws_account_id",
        "delivery_status_provisioned_at",
        "log_cursors",
        "opt_outs_synced_at",
    )
    actions = ("provision", "read_delivery_status", "refresh_sandbox", "sync_opt_outs")

    def _each(self, request: HttpRequest, queryset: QuerySet[SmsConnectionState], work: Any, done: str) -> None:
        count = 0
        for state in queryset.select_related("connection", "connection__account"):
            try:
                work(connection=state.connection)
                count += 1
            except TransportError as error:  # one connection's AWS trouble must not stop the others
                self.message_user(request, f"{state.connection}: {error.reason}", messages.ERROR)
        self.message_user(request, f"{done} for {count} connection(s).", messages.SUCCESS)

    @admin.action(description="Provision SMS delivery status logging (SetSMSAttributes)")
    def provision(self, request: HttpRequest, queryset: QuerySet[SmsConnectionState]) -> None:
        self._each(request, queryset, services.delivery_status_provision, "Delivery status provisioned")

    @admin.action(description="Read delivery status now")
    def read_delivery_status(self, request: HttpRequest, queryset: QuerySet[SmsConnectionState]) -> None:
        self._each(request, queryset, services.delivery_status_ingest, "Delivery status read")

    @admin.action(description="Refresh SMS sandbox status")
    def refresh_sandbox(self, request: HttpRequest, queryset: QuerySet[SmsConnectionState]) -> None:
        self._each(request, queryset, services.sandbox_status_refresh, "Sandbox status refreshed")

    @admin.action(description="Sync opt-outs from SNS")
    def sync_opt_outs(self, request: HttpRequest, queryset: QuerySet[SmsConnectionState]) -> None:
        self._each(request, queryset, services.opt_outs_sync, "Opt-outs synced")


@admin.register(OtpCountryPause)
class OtpCountryPauseAdmin(admin.ModelAdmin):
    """Deleting a pause lifts it."""

    list_display = ("account", "country", "created_at", "reason")
    search_fields = ("account__name", "=country")
    list_select_related = ("account",)
    raw_id_fields = ("account",)
    list_filter = ("created_at",)


@admin.register(SimulatedSms)
class SimulatedSmsAdmin(ReadOnlyLogAdmin, admin.ModelAdmin):
    list_display = ("phone_number", "text", "created_at", "message_id")
    search_fields = ("=phone_number", "=message_id")
    list_filter = ("created_at",)
    fields = ("message_id", "sms", "connection", "phone_number", "text", "attributes", "created_at")
