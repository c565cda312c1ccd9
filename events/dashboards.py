"""Reads behind the operator dashboards: rollup series, queue depth, reputation and accounts near their limits.

Charts read `Rollup` rows (plus the increments not yet compacted), never the message or event tables, so the
overview costs the same over ten thousand emails or ten million. Only a filter on a tag *and* a custom field at once
is counted from the events (a rollup row has one dimension), within the date range and account asked for.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.http import QueryDict
from django.utils import timezone

from accounts.models import AwsConnection
from config.delivery.channels import channels
from config.delivery.outbox import OutboxStatus
from emails.filters import EmailFilter
from emails.models import Email, EmailEvent
from events.models import ConnectionReputation, Rollup, RollupDelta, RollupTotal, WebhookDelivery
from events.services.rollups import (
    EMAIL,
    RollupChannel,
    field_dimension,
    hour_of,
    rollup_channels,
    tag_dimension,
)

# A limit is "near" from this share of it.
NEAR_LIMIT = 0.8
HOURLY_HOURS = 48


@dataclass(frozen=True)
class DashboardScope:
    """What a dashboard shows: a date range (UTC days, both included), optionally one account or connection, and
    optionally the messages with a tag and/or a custom field value."""

    start: date
    end: date
    account_id: Any = None
    connection_id: Any = None
    tag: str = ""
    field_key: str = ""
    field_value: str = ""

    @property
    def dimensions(self) -> list[str]:
        found = [tag_dimension(self.tag)] if self.tag else []
        if self.field_key:
            found.append(field_dimension(self.field_key, self.field_value))
        return found

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def scoped(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.account_id:
            queryset = queryset.filter(account_id=self.account_id)
        if self.connection_id:
            queryset = queryset.filter(connection_id=self.connection_id)
        return queryset


@dataclass
class ChannelSeries:
    """One channel's counts per bucket, metric by metric, in the order of `buckets`."""

    channel: RollupChannel
    buckets: list[datetime]
    counts: dict[str, list[int]] = field(default_factory=dict)

    def total(self, metric: str) -> int:
        return sum(self.counts.get(metric, []))

    @property
    def totals(self) -> dict[str, int]:
        return {metric: self.total(metric) for metric in self.channel.metrics}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def daily_series(scope: DashboardScope) -> list[ChannelSeries]:
    buckets = [_midnight(day) for day in scope.days]
    start, end = buckets[0], buckets[-1] + timedelta(days=1)
    if len(scope.dimensions) > 1:
        counts = _counted_from_events(scope, start, end)
    else:
        counts = _rollup_counts(scope, Rollup.Period.DAY, start, end)
    return _series(counts, buckets)


def hourly_series(scope: DashboardScope, *, now: datetime | None = None) -> list[ChannelSeries]:
    """The last 48 hours, hour by hour (hourly rollups), whatever the date range."""
    last = hour_of(now or timezone.now())
    buckets = [last - timedelta(hours=n) for n in range(HOURLY_HOURS - 1, -1, -1)]
    start, end = buckets[0], last + timedelta(hours=1)
    if len(scope.dimensions) > 1:
        counts = _counted_from_events(scope, start, end, hourly=True)
    else:
        counts = _rollup_counts(scope, Rollup.Period.HOUR, start, end)
    return _series(counts, buckets)


def _series(counts: Counter[tuple[str, str, datetime]], buckets: list[datetime]) -> list[ChannelSeries]:
    result = []
    for channel in rollup_channels():
        series = ChannelSeries(channel=channel, buckets=buckets)
        for metric in channel.metrics:
            series.counts[metric] = [counts.get((channel.name, metric, bucket), 0) for bucket in buckets]
        result.append(series)
    return result


def _rollup_counts(
    scope: DashboardScope, period: str, start: datetime, end: datetime
) -> Counter[tuple[str, str, datetime]]:
    dimension = (scope.dimensions or [""])[0]
    counts: Counter[tuple[str, str, datetime]] = Counter()
    # Everything: the totals over all accounts (a few hundred rows); an account or connection: its own rows.
    level: Any = RollupTotal if scope.account_id is None and scope.connection_id is None else Rollup
    compacted = scope.scoped(
        level.objects.filter(period=period, dimension=dimension, bucket__gte=start, bucket__lt=end)
    )
    for row in compacted.values("channel", "metric", "bucket").annotate(total=Sum("count")).order_by():
        counts[(row["channel"], row["metric"], row["bucket"])] += row["total"]
    # Increments not compacted yet (a few seconds' worth): hourly buckets, truncated to the day for daily charts.
    waiting = scope.scoped(RollupDelta.objects.filter(dimension=dimension, bucket__gte=start, bucket__lt=end))
    truncated = TruncDay("bucket", tzinfo=UTC) if period == Rollup.Period.DAY else F("bucket")
    for row in waiting.values("channel", "metric", at=truncated).annotate(total=Sum("count")).order_by():
        counts[(row["channel"], row["metric"], row["at"])] += row["total"]
    return counts


def _counted_from_events(
    scope: DashboardScope, start: datetime, end: datetime, *, hourly: bool = False
) -> Counter[tuple[str, str, datetime]]:
    """Email only: the SES events of emails carrying both the tag and the custom field, counted in the database."""
    query = QueryDict(mutable=True)
    query["tag"] = scope.tag
    query[f"custom_fields__{scope.field_key}"] = scope.field_value
    emails = EmailFilter(query, scope.scoped(Email.objects.all())).qs.values("pk")
    events = scope.scoped(
        EmailEvent.objects.filter(
            source=EmailEvent.Source.SES,
            occurred_at__gte=start,
            occurred_at__lt=end,
            event_type__in=list(EMAIL.metric_of_event),
            email__in=emails,
        )
    )
    truncate = TruncHour if hourly else TruncDay
    counts: Counter[tuple[str, str, datetime]] = Counter()
    rows = events.values("event_type", at=truncate("occurred_at", tzinfo=UTC)).annotate(total=Count("id"))
    for row in rows.order_by():
        counts[(EMAIL.name, EMAIL.metric_of_event[row["event_type"]], row["at"])] += row["total"]
    return counts


def rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


# --- the queue, reputation and limits ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    channel: str
    connection: AwsConnection
    waiting: int
    due: int
    sending: int
    oldest_due: datetime | None


def queue_depths(scope: DashboardScope, *, now: datetime | None = None) -> list[QueueRow]:
    """Per channel and connection: messages waiting (queued or scheduled), those due now, those being sent, and the
    oldest due one's due time. Index-only work over waiting rows: the backlog, never the whole table."""
    now = now or timezone.now()
    found: list[tuple[str, Any, int, int, int, datetime | None]] = []
    for channel in channels():
        # Each channel's outbox has status, account and connection columns (config/delivery/outbox.py).
        outbox: Any = channel.model._default_manager
        rows = scope.scoped(outbox.filter(status__in=[*OutboxStatus.WAITING, OutboxStatus.SENDING]))
        grouped = (
            rows.values("connection_id")
            .annotate(
                waiting=Count("pk", filter=Q(status__in=OutboxStatus.WAITING)),
                due=Count("pk", filter=Q(status__in=OutboxStatus.WAITING, send_at__lte=now)),
                sending=Count("pk", filter=Q(status=OutboxStatus.SENDING)),
                oldest_due=Min("send_at", filter=Q(status__in=OutboxStatus.WAITING, send_at__lte=now)),
            )
            .order_by()
        )
        for row in grouped:
            found.append(
                (channel.name, row["connection_id"], row["waiting"], row["due"], row["sending"], row["oldest_due"])
            )
    connections = AwsConnection.objects.select_related("account").in_bulk([row[1] for row in found])
    return sorted(
        (
            QueueRow(channel, connections[pk], waiting, due, sending, oldest)
            for channel, pk, waiting, due, sending, oldest in found
            if pk in connections
        ),
        key=lambda row: (row.oldest_due is None, row.oldest_due or now, -row.waiting),
    )


def reputations(scope: DashboardScope) -> QuerySet[ConnectionReputation]:
    """Connections whose reputation protection is not healthy (on an account or connection page: all of them)."""
    rows = scope.scoped(ConnectionReputation.objects.select_related("connection", "account"))
    if not (scope.account_id or scope.connection_id):
        rows = rows.exclude(state=ConnectionReputation.State.HEALTHY)
    return rows.order_by("state", "account__name")


@dataclass(frozen=True)
class NearLimit:
    account_id: Any
    account_name: str
    what: str
    used: float
    limit: float

    @property
    def share(self) -> float:
        return self.used / self.limit if self.limit else 1.0


def near_limits(scope: DashboardScope, *, now: datetime | None = None) -> list[NearLimit]:
    """Connections at 80% of SES's 24-hour quota (counted from the hourly rollups) or held by it, and accounts at 80%
    of their waiting webhook deliveries."""
    now = now or timezone.now()
    since = hour_of(now) - timedelta(hours=23)
    sent: Counter[Any] = Counter()
    for model in (Rollup, RollupDelta):
        rows = scope.scoped(model.objects.filter(dimension="", channel=EMAIL.name, metric="sent", bucket__gte=since))
        if model is Rollup:
            rows = rows.filter(period=Rollup.Period.HOUR)
        for row in rows.values("connection_id").annotate(total=Sum("count")).order_by():
            sent[row["connection_id"]] += row["total"]
    found: list[NearLimit] = []
    candidates = AwsConnection.objects.filter(Q(pk__in=list(sent)) | Q(sending_held_until__gt=now))
    if scope.account_id:
        candidates = candidates.filter(account_id=scope.account_id)
    if scope.connection_id:
        candidates = candidates.filter(pk=scope.connection_id)
    # Plain tuples first (there may be thousands of connections); whole rows only for the few near a limit.
    flagged = [
        pk
        for pk, quota, held_until in candidates.values_list("pk", "max_24_hour_send", "sending_held_until")
        if (held_until and held_until > now) or (quota and sent.get(pk, 0) >= NEAR_LIMIT * quota)
    ]
    for connection in AwsConnection.objects.select_related("account").filter(pk__in=flagged):
        used, quota = sent.get(connection.pk, 0), connection.max_24_hour_send
        if connection.sending_held_until and connection.sending_held_until > now:
            held = connection.sending_held_until
            what = f"{connection.identifier}: SES daily quota reached, held until {held:%H:%M} UTC"
        elif quota and used >= NEAR_LIMIT * quota:
            what = f"{connection.identifier}: SES 24-hour quota"
        else:
            continue
        found.append(NearLimit(connection.account_id, connection.account.name, what, used, quota))
    if scope.connection_id is None:
        pending = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        if scope.account_id:
            pending = pending.filter(account_id=scope.account_id)
        limit = settings.SESAME_WEBHOOK_MAX_PENDING
        for row in pending.values("account_id", "account__name").annotate(total=Count("pk")).order_by():
            if row["total"] >= NEAR_LIMIT * limit:
                found.append(
                    NearLimit(
                        row["account_id"], row["account__name"], "webhook deliveries waiting", row["total"], limit
                    )
                )
    return sorted(found, key=lambda item: -item.share)
