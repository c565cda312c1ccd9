"""The operator's billing pages: plans, subscriptions with this period's usage, invoices with their lines, the ledger
and alerts (read-only logs), and a revenue view."""

from datetime import date
from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, F, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from billing import selectors, services
from billing.models import BillingPeriod, Invoice, InvoiceLine, Plan, Subscription, UsageAlert, UsageEntry
from config.admin_logs import ReadOnlyLogAdmin


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "name", "slug", "monthly_price", "included_emails", "overage_price_per_1000", "api_requests_per_minute",
        "email_storage_limit", "subscription_count",
    )  # fmt: skip
    search_fields = ("name", "slug")
    list_filter = ("created_at",)
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Plan]:
        return super().get_queryset(request).annotate(subscription_count=Count("subscriptions"))

    @admin.display(description="Subscriptions", ordering="subscription_count")
    def subscription_count(self, plan: Plan) -> int:
        return plan.subscription_count  # type: ignore[attr-defined]


def _current(field: str, today: date) -> Subquery:
    periods = BillingPeriod.objects.filter(subscription=OuterRef("pk"), starts_on__lte=today, ends_on__gt=today)
    return Subquery(periods.values(field)[:1])


class UsageFilter(admin.SimpleListFilter):
    title = "usage this period"
    parameter_name = "usage"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("near", "Near the cap (80% or more)"),
            ("over_included", "Past the included emails"),
            ("at_limit", "At the limit (sending refused)"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "near":
            return queryset.filter(used__gte=F("included") * 0.8, included__gt=0)
        if self.value() == "over_included":
            return queryset.filter(used__gt=F("included"))
        if self.value() == "at_limit":
            return queryset.filter(used__gte=F("email_limit"))
        return queryset


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = (
        "account", "plan", "status", "usage_bar", "email_limit", "overage_cap", "cancel_at_period_end", "started_on",
    )  # fmt: skip
    list_filter = (UsageFilter, "status", "plan", "cancel_at_period_end")
    search_fields = ("account__name", "account__owner_email")
    list_select_related = ("account", "plan")
    # The plan changes on the account's page (prorated, through billing's service); the cap through the API.
    readonly_fields = ("account", "plan", "anchor_day", "started_on", "overage_cap", "cancelled_on")
    fields = (*readonly_fields, "status", "cancel_at_period_end")
    change_list_template = "admin/billing/subscription/change_list.html"
    actions = ("cancel_at_end",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # accounts get theirs when they are opened (create_account, the account form)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subscription]:
        today = timezone.now().date()
        return (
            super()
            .get_queryset(request)
            .annotate(
                used=_current("emails_used", today),
                included=_current("included_emails", today),
                email_limit=_current("email_limit", today),
            )
        )

    @admin.display(description="Emails this period", ordering="used")
    def usage_bar(self, subscription: Subscription) -> str:
        used, included = subscription.used, subscription.included  # type: ignore[attr-defined]
        if used is None:
            return "no current period"
        percent = round(100 * used / included) if included else 100
        colour = "#ba2121" if percent >= 100 else "#d48c00" if percent >= 80 else "#417690"
        return format_html(
            '<div class="usage-bar" title="{}%" style="width:10rem;background:#eee;display:inline-block">'
            '<div style="width:{}%;background:{};height:.7rem"></div></div> {} / {} ({}%)',
            percent, min(percent, 100), colour, f"{used:,}", f"{included:,}", percent,
        )  # fmt: skip

    @admin.display(description="Limit", ordering="email_limit")
    def email_limit(self, subscription: Subscription) -> str:
        limit = subscription.email_limit  # type: ignore[attr-defined]
        return "no limit" if limit is None else f"{limit:,}"

    @admin.action(description="Cancel at the end of the current period")
    def cancel_at_end(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        for subscription in queryset:
            services.subscription_cancel(subscription=subscription)
        self.message_user(request, f"{queryset.count()} subscription(s) end with their current period.")

    def get_urls(self) -> list[Any]:
        revenue = path("revenue/", self.admin_site.admin_view(self.revenue_view), name="billing_revenue")
        return [revenue, *super().get_urls()]

    def revenue_view(self, request: HttpRequest) -> HttpResponse:
        plans = selectors.revenue_by_plan()
        overage_emails, overage_amount = selectors.overage_this_period()
        context = {
            **self.admin_site.each_context(request),
            "title": "Revenue",
            "opts": self.model._meta,
            "plans": plans,
            "mrr": sum((row.mrr for row in plans), start=0),
            "overage_emails": overage_emails,
            "overage_amount": overage_amount,
            "open_invoices": selectors.invoiced_total(invoices=Invoice.objects.filter(status=Invoice.Status.OPEN)),
        }
        return TemplateResponse(request, "admin/billing/revenue.html", context)


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    fields = ("number", "kind", "description", "quantity", "unit_price", "amount")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ("__str__", "account", "status", "period_start", "period_end", "emails_used", "total", "issued_at")
    list_filter = ("status", "period_start")
    search_fields = ("number", "account__name")
    list_select_related = ("account",)
    readonly_fields = (
        "account", "number", "status", "currency", "period_start", "period_end", "emails_used", "included_emails",
        "total", "issued_at", "paid_at", "voided_at", "printable",
    )  # fmt: skip
    exclude = ("period",)
    inlines = (InvoiceLineInline,)
    actions = ("mark_paid", "void")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # invoices are issued when periods close

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # void them instead: a number once issued stays accounted for

    @admin.display(description="Printable")
    def printable(self, invoice: Invoice) -> str:
        url = reverse("admin:billing_invoice_print", args=[invoice.pk])
        return format_html(
            '<a href="{}">The printable invoice</a> (customers get it from GET /v1/invoices/{}?format=html)',
            url,
            invoice.pk,
        )

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.print_view)
        return [path("<uuid:invoice_id>/print/", view, name="billing_invoice_print"), *super().get_urls()]

    def print_view(self, request: HttpRequest, invoice_id: Any) -> HttpResponse:
        invoice = get_object_or_404(Invoice.objects.select_related("account"), pk=invoice_id)
        return TemplateResponse(request, "billing/invoice.html", {"invoice": invoice, "lines": invoice.lines.all()})

    def _apply(self, request: HttpRequest, queryset: QuerySet[Invoice], change: Any, done: str) -> None:
        changed, refused = 0, []
        for invoice in queryset:
            try:
                change(invoice=invoice)
                changed += 1
            except services.InvoiceStateError as error:
                refused.append(str(error))
        self.message_user(request, f"{changed} invoice(s) {done}.")
        for reason in refused:
            self.message_user(request, reason, messages.WARNING)

    @admin.action(description="Mark paid")
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._apply(request, queryset, services.invoice_mark_paid, "marked paid")

    @admin.action(description="Void")
    def void(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._apply(request, queryset, services.invoice_void, "voided")


@admin.register(UsageEntry)
class UsageEntryAdmin(ReadOnlyLogAdmin, admin.ModelAdmin):
    list_display = ("created_at", "account", "channel", "kind", "units", "message_id", "period")
    list_filter = ("channel", "kind")
    search_fields = ("=message_id", "account__name")
    list_select_related = ("account", "period")


@admin.register(UsageAlert)
class UsageAlertAdmin(ReadOnlyLogAdmin, admin.ModelAdmin):
    list_display = ("crossed_at", "account", "threshold", "emails_used", "included_emails", "notified_at", "notice")
    list_filter = ("threshold",)
    search_fields = ("account__name",)
    list_select_related = ("account",)
