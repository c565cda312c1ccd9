"""Reads of push apps, devices and messages, always within one account."""

from typing import Any

from django.db.models import Count, QuerySet

from contacts.selectors import contact_by_ref
from push.models import PushDelivery, PushMessage

# The deliveries a push's detail shows inline; the rest are paged at /v1/push/{id}/deliveries.
DETAIL_DELIVERIES = 100

__all__ = ["DETAIL_DELIVERIES", "contact_by_ref", "push_deliveries", "push_detail_context", "push_outcomes"]


def push_outcomes(*, message: PushMessage) -> dict[str, int]:
    """How many of the push's deliveries are in each status."""
    rows = PushDelivery.objects.filter(message=message).values("status").annotate(n=Count("pk")).order_by()
    return {row["status"]: row["n"] for row in rows}


def push_deliveries(*, message: PushMessage) -> "QuerySet[PushDelivery]":
    return PushDelivery.objects.filter(message=message).order_by("created_at", "pk").prefetch_related("events")


def push_detail_context(*, message: PushMessage) -> dict[str, Any]:
    return {
        "outcomes": push_outcomes(message=message),
        "deliveries": list(push_deliveries(message=message)[:DETAIL_DELIVERIES]),
    }
