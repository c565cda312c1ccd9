"""The operator dashboards: an overview, one per account and one per connection, as admin views (get_urls()).

They read rollups (events/dashboards.py), so they cost the same at any volume; every channel registered for rollups
gets its own counts, rates and charts on the same pages.
"""

from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from accounts.models import Account, AwsConnection
from events import dashboards
from events.admin.common import pct
from events.charts import Series, line_chart
from events.models import Rollup

DEFAULT_DAYS = 14
MAX_DAYS = 366


class DashboardFilterForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    account = forms.ModelChoiceField(Account.objects.order_by("name"), required=False, empty_label="All accounts")
    tag = forms.CharField(required=False, max_length=200)
    field_key = forms.CharField(required=False, max_length=100, label="Custom field")
    field_value = forms.CharField(required=False, max_length=200, label="equals")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        today = timezone.now().date()
        end = data.get("end") or today
        start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError("The start date is after the end date.")
        if (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(f"Pick at most {MAX_DAYS} days.")
        if data.get("field_value") and not data.get("field_key"):
            self.add_error("field_key", "Name the custom field whose value you filter on.")
        data["start"], data["end"] = start, end
        return data


@admin.register(Rollup)
class RollupAdmin(admin.ModelAdmin):
    """The rollup rows themselves (read-only), and the dashboards built on them."""

    list_display = ("bucket", "period", "channel", "metric", "dimension", "count", "account", "connection")
    list_filter = ("period", "channel", "metric")
    search_fields = ("=dimension", "account__name", "=connection__id")
    list_select_related = ("account", "connection")
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("dashboard/", view(self.overview), name="dashboard"),
            path("dashboard/account/<uuid:account_id>/", view(self.account_dashboard), name="dashboard_account"),
            path(
                "dashboard/connection/<uuid:connection_id>/",
                view(self.connection_dashboard),
                name="dashboard_connection",
            ),
            *super().get_urls(),
        ]

    def overview(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, title="Dashboard")

    def account_dashboard(self, request: HttpRequest, account_id: Any) -> HttpResponse:
        account = get_object_or_404(Account, pk=account_id)
        return self._render(request, title=f"Dashboard: {account}", account=account)

    def connection_dashboard(self, request: HttpRequest, connection_id: Any) -> HttpResponse:
        connection = get_object_or_404(AwsConnection.objects.select_related("account"), pk=connection_id)
        return self._render(request, title=f"Dashboard: {connection.account} / {connection}", connection=connection)

    def _render(
        self,
        request: HttpRequest,
        *,
        title: str,
        account: Account | None = None,
        connection: AwsConnection | None = None,
    ) -> HttpResponse:
        form = DashboardFilterForm(request.GET or None, initial=_defaults())
        if account is not None or connection is not None:
            del form.fields["account"]
        # Unfiltered, or a filter with errors (shown on the form): the last DEFAULT_DAYS days of everything.
        data = form.cleaned_data if form.is_valid() else _defaults()
        shown_account = account or data.get("account") or (connection.account if connection else None)
        scope = dashboards.DashboardScope(
            start=data["start"],
            end=data["end"],
            account_id=shown_account.pk if shown_account else None,
            connection_id=connection.pk if connection else None,
            tag=data.get("tag") or "",
            field_key=data.get("field_key") or "",
            field_value=data.get("field_value") or "",
        )
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "scope": scope,
            "account": shown_account,
            "connection": connection,
            "channels": _channel_sections(scope),
            "queue": dashboards.queue_depths(scope),
            "reputations": dashboards.reputations(scope),
            "near_limits": dashboards.near_limits(scope),
            "counted_from_events": len(scope.dimensions) > 1,
            "overview_url": reverse("admin:dashboard"),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/events/dashboard.html", context)


def _defaults() -> dict[str, Any]:
    today = timezone.now().date()
    return {"start": today - timedelta(days=DEFAULT_DAYS - 1), "end": today}


def _day_label(day: date) -> str:
    return f"{day:%b} {day.day}"


def _channel_sections(scope: dashboards.DashboardScope) -> list[dict[str, Any]]:
    """Per channel: totals with rates, the daily counts, the daily rates and the last 48 hours."""
    hourly = {series.channel.name: series for series in dashboards.hourly_series(scope)}
    sections = []
    for daily in dashboards.daily_series(scope):
        channel = daily.channel
        labels = [_day_label(bucket.date()) for bucket in daily.buckets]
        totals = daily.totals
        rates = [
            (label, pct(dashboards.rate(totals[numerator], totals[denominator])))
            for label, numerator, denominator in channel.rates
        ]
        charts = [
            line_chart(
                title=f"{channel.label} per day",
                labels=labels,
                series=[Series(metric, daily.counts[metric]) for metric in channel.metrics],
            )
        ]
        if channel.rates:
            charts.append(
                line_chart(
                    title=f"{channel.label} rates per day",
                    labels=labels,
                    percent=True,
                    series=[
                        Series(
                            label,
                            [
                                dashboards.rate(n, d)
                                for n, d in zip(daily.counts[numerator], daily.counts[denominator], strict=True)
                            ],
                        )
                        for label, numerator, denominator in channel.rates
                    ],
                )
            )
        last_48 = hourly[channel.name]
        charts.append(
            line_chart(
                title=f"{channel.label}, last 48 hours (UTC)",
                labels=[f"{bucket:%H}:00" for bucket in last_48.buckets],
                series=[Series(metric, last_48.counts[metric]) for metric in channel.metrics],
            )
        )
        today = timezone.now().date()
        sections.append(
            {
                "channel": channel,
                "totals": [(metric, totals[metric]) for metric in channel.metrics],
                "today": (
                    [(metric, daily.counts[metric][-1]) for metric in channel.metrics] if scope.end == today else None
                ),
                "rates": rates,
                "charts": charts,
            }
        )
    return sections
