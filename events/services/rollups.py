"""Rollups: hourly and daily counts per channel, account, connection and dimension, for the dashboards.

The events path only inserts `RollupDelta` rows (one multi-row INSERT per notification, no conflicts, no shared row
locks); `rollups_compact` (beat, every few seconds) folds them into `Rollup`, and readers add the deltas still
waiting. `rollups_rebuild` recounts a time range from the stored events, the one source of truth.

A channel joins by registering a `RollupChannel`: its metrics, the event type behind each, and how to recount a
time range from its own events (SMS and push register theirs next to email's, below).
"""

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection as db
from django.db import transaction
from django.utils import timezone

from emails.models import EmailEvent
from events import parsing
from events.models import Rollup, RollupDelta, RollupTotal

# A message's tags and custom fields each get their own rows; past this many the rest are not rolled up (a send
# with hundreds of custom fields must not write hundreds of rows per event).
MAX_DIMENSIONS = 10
MAX_DIMENSION_LENGTH = 200
# Hourly rows are kept this long (the hourly chart shows the last 48 hours); daily rows are kept for good.
HOURLY_KEEP = timedelta(days=3)
COMPACT_BATCH = 10_000

# (period, bucket, channel, account id, connection id, dimension, metric); a RollupTotal's has no account or connection
RollupKey = tuple[str, datetime, str, Any, Any, str, str]
TotalKey = tuple[str, datetime, str, str, str]
# What a recount yields: (metric, occurred at, account id, connection id, dimensions)
Occurrence = tuple[str, datetime, Any, Any, list[str]]


@dataclass(frozen=True)
class RollupChannel:
    name: str
    label: str
    metrics: tuple[str, ...]
    metric_of_event: dict[str, str]
    recount: Callable[[datetime, datetime], Iterator[Occurrence]]
    # (label, numerator metric, denominator metric) drawn as rates per day
    rates: tuple[tuple[str, str, str], ...] = ()


_channels: dict[str, RollupChannel] = {}


def rollup_channel_register(channel: RollupChannel) -> None:
    _channels[channel.name] = channel


def rollup_channels() -> list[RollupChannel]:
    return list(_channels.values())


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    return hour_of(moment).replace(hour=0)


def message_dimensions(*, tags: Any, custom_fields: Any) -> list[str]:
    """`tag:<tag>` and `field:<key>=<value>` for a message's tags and scalar custom fields (the dashboard's filters
    build the same strings)."""
    found = [tag_dimension(tag) for tag in tags or [] if isinstance(tag, str)]
    for key, value in sorted((custom_fields or {}).items()) if isinstance(custom_fields, dict) else ():
        if isinstance(value, bool | int | float | str):
            found.append(field_dimension(str(key), value))
    return [item for item in dict.fromkeys(found) if len(item) <= MAX_DIMENSION_LENGTH][:MAX_DIMENSIONS]


def tag_dimension(tag: str) -> str:
    return f"tag:{tag}"


def field_dimension(key: str, value: Any) -> str:
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return f"field:{key}={text}"


# --- the events path ---------------------------------------------------------------------------------------------


def rollup_record(
    *, channel: str, metric: str, occurred_at: datetime, account_id: Any, connection_id: Any, dimensions: list[str]
) -> None:
    """Count one occurrence (an insert only; see the module docstring)."""
    rollup_record_many(channel=channel, occurrences=[(metric, occurred_at, account_id, connection_id, dimensions)])


def rollup_record_many(*, channel: str, occurrences: Iterable[Occurrence]) -> int:
    counts: Counter[tuple[datetime, Any, Any, str, str]] = Counter()
    for metric, occurred_at, account_id, connection_id, dimensions in occurrences:
        if account_id is None or connection_id is None:
            continue
        for dimension in ["", *dimensions]:
            counts[(hour_of(occurred_at), account_id, connection_id, dimension, metric)] += 1
    RollupDelta.objects.bulk_create(
        RollupDelta(
            bucket=bucket,
            channel=channel,
            account_id=account_id,
            connection_id=connection_id,
            dimension=dimension,
            metric=metric,
            count=count,
        )
        for (bucket, account_id, connection_id, dimension, metric), count in counts.items()
    )
    return len(counts)


def email_events_rolled_up(*, rows: list[EmailEvent], tags: Any, custom_fields: Any) -> None:
    """The email channel's part of the events path: count newly stored SES timeline rows."""
    dimensions = message_dimensions(tags=tags, custom_fields=custom_fields)
    rollup_record_many(
        channel=EMAIL.name,
        occurrences=(
            (EMAIL.metric_of_event[row.event_type], row.occurred_at, row.account_id, row.connection_id, dimensions)
            for row in rows
            if row.event_type in EMAIL.metric_of_event
        ),
    )


# --- compaction, pruning and rebuilding --------------------------------------------------------------------------


def _keys(
    bucket: datetime, channel: str, account_id: Any, connection_id: Any, dimension: str, metric: str
) -> tuple[RollupKey, RollupKey]:
    """The hourly and the daily row an hour's count belongs to."""
    rest = (channel, account_id, connection_id, dimension, metric)
    return (str(Rollup.Period.HOUR), bucket, *rest), (str(Rollup.Period.DAY), day_of(bucket), *rest)


class _Counts:
    """Increments on their way into both levels: per connection (`Rollup`) and over everything (`RollupTotal`)."""

    def __init__(self) -> None:
        self.rows: Counter[RollupKey] = Counter()
        self.totals: Counter[TotalKey] = Counter()

    def add(self, key: RollupKey, count: int) -> None:
        self.rows[key] += count
        period, bucket, channel, _, _, dimension, metric = key
        self.totals[(period, bucket, channel, dimension, metric)] += count

    def write(self) -> int:
        _upsert(Rollup, self.rows)
        _upsert(RollupTotal, self.totals)
        return len(self.rows)


def rollups_compact(*, batch: int = COMPACT_BATCH) -> int:
    """Fold waiting deltas into the hourly and daily rows. Safe to run concurrently (rows are taken with SKIP
    LOCKED) and while events arrive. Returns how many deltas were folded."""
    folded = 0
    while True:
        with transaction.atomic():
            deltas = list(
                RollupDelta.objects.select_for_update(skip_locked=True)
                .order_by("id")
                .values_list("id", "bucket", "channel", "account_id", "connection_id", "dimension", "metric", "count")[
                    :batch
                ]
            )
            if not deltas:
                return folded
            counts = _Counts()
            for _, bucket, channel, account_id, connection_id, dimension, metric, count in deltas:
                for key in _keys(bucket, channel, account_id, connection_id, dimension, metric):
                    counts.add(key, count)
            counts.write()
            RollupDelta.objects.filter(id__in=[delta[0] for delta in deltas]).delete()
        folded += len(deltas)
        if len(deltas) < batch:
            return folded


def rollups_prune(*, now: datetime | None = None) -> int:
    """Drop hourly rows older than HOURLY_KEEP (daily rows stay)."""
    cutoff = (now or timezone.now()) - HOURLY_KEEP
    deleted, _ = Rollup.objects.filter(period=Rollup.Period.HOUR, bucket__lt=cutoff).delete()
    RollupTotal.objects.filter(period=Rollup.Period.HOUR, bucket__lt=cutoff).delete()
    return deleted


def rollups_rebuild(
    *, since: datetime, until: datetime | None = None, progress: Callable[[datetime], None] | None = None
) -> int:
    """Recount every channel's rollups from its stored events, one UTC day at a time from `since`'s day up to
    `until` (default: now). Each day is replaced in one transaction that holds off the events path and compaction
    for that moment (PostgreSQL table locks), so it is safe while workers run. Returns the per-connection rows
    written."""
    day = day_of(since)
    end = until or timezone.now()
    written = 0
    hourly_from = timezone.now() - HOURLY_KEEP
    while day <= end:
        next_day = day + timedelta(days=1)
        with transaction.atomic():
            if db.vendor == "postgresql":
                with db.cursor() as cursor:
                    tables = ", ".join(model._meta.db_table for model in (Rollup, RollupTotal, RollupDelta))
                    cursor.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")
            for model in (RollupDelta, Rollup, RollupTotal):
                model.objects.filter(bucket__gte=day, bucket__lt=next_day).delete()
            counts = _Counts()
            for channel in rollup_channels():
                for metric, occurred_at, account_id, connection_id, dimensions in channel.recount(day, next_day):
                    for dimension in ["", *dimensions]:
                        hour_key, day_key = _keys(
                            hour_of(occurred_at), channel.name, account_id, connection_id, dimension, metric
                        )
                        counts.add(day_key, 1)
                        if hour_key[1] >= hour_of(hourly_from):
                            counts.add(hour_key, 1)
            written += counts.write()
        if progress is not None:
            progress(day)
        day = next_day
    return written


_KEY_COLUMNS = {
    Rollup: ("period", "bucket", "channel", "account_id", "connection_id", "dimension", "metric"),
    RollupTotal: ("period", "bucket", "channel", "dimension", "metric"),
}
_UPSERT_CHUNK = 500


def _upsert(model: type[Rollup] | type[RollupTotal], counts: Counter[Any]) -> None:
    """Add counts to rollup rows, creating them as needed: one statement per chunk, keys in a fixed order so two
    writers never wait on each other in a cycle."""
    columns = (*_KEY_COLUMNS[model], "count")
    fields: list[Any] = [model._meta.get_field(name.removesuffix("_id")) for name in columns]
    rows = sorted(counts.items(), key=lambda item: tuple(str(part) for part in item[0]))
    table = model._meta.db_table
    for start in range(0, len(rows), _UPSERT_CHUNK):
        chunk = rows[start : start + _UPSERT_CHUNK]
        params = [
            field.get_db_prep_value(value, db)
            for key, count in chunk
            for field, value in zip(fields, (*key, count), strict=True)
        ]
        placeholders = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(chunk))
        with db.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {placeholders} "  # noqa: S608 (constants only)
                f"ON CONFLICT ({', '.join(_KEY_COLUMNS[model])}) DO UPDATE SET count = {table}.count + excluded.count",
                params,
            )


# --- the email channel -------------------------------------------------------------------------------------------


def _email_recount(start: datetime, end: datetime) -> Iterator[Occurrence]:
    rows = (
        EmailEvent.objects.filter(
            source=EmailEvent.Source.SES,
            occurred_at__gte=start,
            occurred_at__lt=end,
            event_type__in=list(EMAIL.metric_of_event),
            account__isnull=False,
            connection__isnull=False,
        )
        .values_list("event_type", "occurred_at", "account_id", "connection_id", "email__tags", "email__custom_fields")
        .order_by()
    )
    for event_type, occurred_at, account_id, connection_id, tags, custom_fields in rows.iterator(chunk_size=5000):
        dimensions = message_dimensions(tags=tags, custom_fields=custom_fields)
        yield EMAIL.metric_of_event[event_type], occurred_at, account_id, connection_id, dimensions


EMAIL = RollupChannel(
    name="email",
    label="Email",
    metrics=("sent", "delivered", "bounced", "complained", "opened", "clicked", "suppressed"),
    metric_of_event={
        parsing.SEND: "sent",
        parsing.DELIVERY: "delivered",
        parsing.BOUNCE: "bounced",
        parsing.COMPLAINT: "complained",
        parsing.OPEN: "opened",
        parsing.CLICK: "clicked",
        parsing.SUPPRESSED: "suppressed",
    },
    recount=_email_recount,
    rates=(("Bounce rate", "bounced", "sent"), ("Complaint rate", "complained", "sent")),
)
rollup_channel_register(EMAIL)
