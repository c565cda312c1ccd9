from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from billing.models import Plan


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "api_requests_per_minute", "email_storage_limit", "account_count")
    search_fields = ("name", "slug")
    list_filter = ("created_at",)
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Plan]:
        return super().get_queryset(request).annotate(account_count=Count("accounts"))

    @admin.display(description="Accounts", ordering="account_count")
    def account_count(self, plan: Plan) -> int:
        return plan.account_count  # type: ignore[attr-defined]
