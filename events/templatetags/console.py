"""The admin index's summary: today's counts, the queue and reputation at a glance, linking the dashboards."""

from typing import Any

from django import template
from django.utils import timezone

from events import dashboards

register = template.Library()


@register.inclusion_tag("admin/events/summary.html")
def console_summary() -> dict[str, Any]:
    today = timezone.now().date()
    scope = dashboards.DashboardScope(start=today, end=today)
    queue = dashboards.queue_depths(scope)
    return {
        "channels": [(series.channel.label, list(series.totals.items())) for series in dashboards.daily_series(scope)],
        "waiting": sum(row.waiting for row in queue),
        "due": sum(row.due for row in queue),
        "oldest_due": min((row.oldest_due for row in queue if row.oldest_due), default=None),
        "unhealthy": list(dashboards.reputations(scope)[:5]),
        "near_limits": dashboards.near_limits(scope)[:5],
    }
