"""A channel is what the engine needs to know of one kind of message: its outbox table, its transport and its
rate. The claim, the settling statements, the release of scheduled work and the sweep are written once, here,
for every outbox table.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from django.db import connection as db
from django.db import transaction
from django.db.models import F, Manager
from django.utils import timezone

from accounts.models import AwsConnection
from billing.quota import usage_record, usage_release
from config.delivery.outbox import OutboxMessage, OutboxStatus
from config.delivery.rows import rows_as_models
from config.prepared import fetch_prepared, fetch_prepared_with_columns

_WAITING_SQL = "('scheduled', 'queued')"


@dataclass(frozen=True)
class LaneState:
    """What a connection allows a channel right now."""

    rate: float  # rate units per second; 0 means paused
    held_until: datetime | None = None  # a provider quota hold

    def held(self, now: datetime) -> bool:
        return self.held_until is not None and self.held_until > now

    def can_send(self, now: datetime) -> bool:
        return self.rate > 0 and not self.held(now)


class Channel:
    """Subclasses set `name`, `model`, `provider_id_column` and implement the four hooks at the bottom."""

    name: ClassVar[str]
    model: ClassVar[type[OutboxMessage]]
    provider_id_column: ClassVar[str]
    # Billing: a channel whose messages reserve quota at accept gives the units back when one is dropped or fails
    # for good; the others are counted in the usage ledger once sent (for reporting).
    quota_at_accept: ClassVar[bool] = False

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def rows(self) -> "Manager[Any]":
        return self.model._default_manager

    # -- claiming -------------------------------------------------------------------------------------------

    def claim(self, *, connection_id: uuid.UUID, now: datetime, limit: int, budget: int, capacity: int) -> list[Any]:
        """Move the most urgent due messages of one connection to `sending`, in (priority, due time) order: at most
        `limit` messages whose costs (each capped at `capacity`) add up to at most `budget`. The caller holds the
        connection's lane, so no other claim of this channel and connection runs at the same time."""
        if db.vendor == "postgresql":
            rows = self._claim_postgres(connection_id, now, limit, budget, capacity)
        else:
            rows = self._claim_portable(connection_id, now, limit, budget, capacity)
        return sorted(rows, key=lambda row: (row.priority, row.send_at))

    def _claim_postgres(
        self, connection_id: uuid.UUID, now: datetime, limit: int, budget: int, capacity: int
    ) -> list[Any]:
        # One statement: lock the candidates in claim order, keep those within the budget, update, return them.
        # claimed_at is when the rows were locked: one value for the statement (an initplan, evaluated at its first
        # use, after the candidates' locks were granted), so a claim that waited behind a long cancel does not
        # hand its senders rows the sweeper already takes for stale. "Due" includes all that is due by the
        # statement's start. Claims of a connection never overlap (the lane), so a locked row is one a cancel or
        # release is touching: wait for it rather than skip it, or a higher priority could be passed over. A
        # suspended account or a deactivated connection claims nothing from the moment that change commits: its
        # messages wait, held, not dropped.
        returning = ", ".join(f"m.{db.ops.quote_name(field.column)}" for field in self.model._meta.concrete_fields)
        sql = f"""
            WITH due AS (
                SELECT id, cost, priority, send_at FROM {self.table}
                WHERE connection_id = %s AND status IN {_WAITING_SQL}
                    AND send_at <= GREATEST(%s, transaction_timestamp())
                    AND EXISTS (
                        SELECT 1 FROM accounts_awsconnection c JOIN accounts_account a ON a.id = c.account_id
                        WHERE c.id = %s AND c.is_active AND a.status = 'active'
                    )
                ORDER BY priority, send_at LIMIT %s FOR UPDATE
            ), budgeted AS (
                SELECT id, sum(LEAST(cost, %s)) OVER (ORDER BY priority, send_at ROWS UNBOUNDED PRECEDING) AS running
                FROM due
            )
            UPDATE {self.table} AS m
            SET status = 'sending', claimed_at = (SELECT clock_timestamp()), attempts = m.attempts + 1
            FROM budgeted WHERE m.id = budgeted.id AND budgeted.running <= %s
            RETURNING {returning}
        """  # noqa: S608 (the table name comes from the model, never from input)
        # Prepared (config/prepared.py): planning this statement cost more than running it for a few rows. The
        # model's columns by name, not m.*: a prepared statement whose result gains a column (a migration while
        # this worker runs) fails instead of replanning.
        columns, rows = fetch_prepared_with_columns(sql, [connection_id, now, connection_id, limit, capacity, budget])
        return rows_as_models(self.model, columns, rows)

    def _claim_portable(
        self, connection_id: uuid.UUID, now: datetime, limit: int, budget: int, capacity: int
    ) -> list[Any]:
        # SQLite (the embedded default) has one writer at a time: read, then a conditional UPDATE.
        with transaction.atomic():
            candidates = list(
                self.rows.filter(
                    connection_id=connection_id,
                    status__in=OutboxStatus.WAITING,
                    send_at__lte=now,
                    connection__is_active=True,
                    connection__account__status="active",
                ).order_by("priority", "send_at")[:limit]
            )
            chosen, running = [], 0
            for row in candidates:
                running += min(row.cost, capacity)
                if running > budget:
                    break
                chosen.append(row)
            claimed_at = timezone.now()
            self.rows.filter(pk__in=[row.pk for row in chosen], status__in=OutboxStatus.WAITING).update(
                status=OutboxStatus.SENDING, claimed_at=claimed_at, attempts=F("attempts") + 1
            )
        for row in chosen:
            row.status, row.claimed_at, row.attempts = OutboxStatus.SENDING, claimed_at, row.attempts + 1
        return chosen

    # -- settling -------------------------------------------------------------------------------------------

    def mark_sent(self, sent: Sequence[tuple[Any, str, datetime]]) -> int:
        """`sending` → `sent` for (message, provider id, sent at) triples, in one statement; rows no longer
        `sending` (a sweeper took them back) are left alone. Returns how many rows moved."""
        if not sent:
            return 0
        if not self.quota_at_accept:
            usage_record(channel=self.name, messages=[(message.account_id, message.pk) for message, _, _ in sent])
        if db.vendor != "postgresql":
            return sum(
                self.rows.filter(pk=message.pk, status=OutboxStatus.SENDING).update(
                    status=OutboxStatus.SENT, sent_at=sent_at, **{self.provider_id_column: provider_id}
                )
                for message, provider_id, sent_at in sent
            )
        # Arrays, so the statement's text is the same for any number of rows and it runs prepared.
        sql = f"""
            UPDATE {self.table} AS m SET status = 'sent', sent_at = v.sent_at, {self.provider_id_column} = v.provider_id
            FROM unnest(%s::uuid[], %s::text[], %s::timestamptz[]) AS v(id, provider_id, sent_at)
            WHERE m.id = v.id AND m.status = 'sending'
            RETURNING m.id
        """  # noqa: S608
        ids, provider_ids, sent_ats = zip(*((message.pk, pid, at) for message, pid, at in sent), strict=True)
        return len(fetch_prepared(sql, [list(ids), list(provider_ids), list(sent_ats)]))

    def mark_failed(self, message: Any, reason: str) -> None:
        self.mark_dropped(message, OutboxStatus.FAILED, reason)

    def mark_dropped(self, message: Any, status: str, reason: str) -> None:
        """`sending` → `status` (failed, or suppressed when policy kept it from the provider), on its timeline."""
        with transaction.atomic():
            moved = self.rows.filter(pk=message.pk, status=OutboxStatus.SENDING)
            if moved.update(status=status, failure_reason=reason):
                self.record([message], status, reason)
                self.release_quota([message])

    def requeue(self, messages: Sequence[Any]) -> None:
        """`sending` → `queued`, in one UPDATE, for messages this process claimed and will not send now."""
        self.rows.filter(pk__in=[message.pk for message in messages], status=OutboxStatus.SENDING).update(
            status=OutboxStatus.QUEUED, claimed_at=None
        )

    # -- beat's work ----------------------------------------------------------------------------------------

    def release_due(self, *, now: datetime) -> int:
        """Scheduled messages whose time has come show as queued (the claim already takes both). Rows a claim is
        locking are skipped, so this never makes a claim wait behind it in a lock cycle."""
        if db.vendor != "postgresql":
            return self.rows.filter(status=OutboxStatus.SCHEDULED, send_at__lte=now).update(status=OutboxStatus.QUEUED)
        with db.cursor() as cursor:
            cursor.execute(
                f"UPDATE {self.table} SET status = 'queued' WHERE id IN ("  # noqa: S608
                f"SELECT id FROM {self.table} WHERE status = 'scheduled' AND send_at <= %s FOR UPDATE SKIP LOCKED)",
                [now],
            )
            return cursor.rowcount

    def lanes_with_work(self, *, until: datetime) -> list[tuple[uuid.UUID, datetime]]:
        """(connection id, earliest due time) of every connection with a message due by `until`: one index probe
        per connection that has waiting messages, none for idle ones."""
        if db.vendor == "postgresql":
            sql = f"""
                WITH RECURSIVE lanes(connection_id, send_at) AS (
                    (SELECT connection_id, send_at FROM {self.table} WHERE status IN {_WAITING_SQL}
                     ORDER BY connection_id, send_at LIMIT 1)
                    UNION ALL
                    SELECT next.connection_id, next.send_at FROM lanes, LATERAL (
                        SELECT connection_id, send_at FROM {self.table}
                        WHERE status IN {_WAITING_SQL} AND connection_id > lanes.connection_id
                        ORDER BY connection_id, send_at LIMIT 1
                    ) AS next
                )
                SELECT connection_id, send_at FROM lanes WHERE send_at <= %s
            """  # noqa: S608
            with db.cursor() as cursor:
                cursor.execute(sql, [until])
                return [(row[0], row[1]) for row in cursor.fetchall()]
        from django.db.models import Min

        rows = (
            self.rows.filter(status__in=OutboxStatus.WAITING)
            .values("connection_id")
            .annotate(due=Min("send_at"))
            .filter(due__lte=until)
        )
        return [(row["connection_id"], row["due"]) for row in rows]

    def stale_sending(self, *, claimed_before: datetime) -> list[Any]:
        return list(
            self.rows.filter(status=OutboxStatus.SENDING, claimed_at__lt=claimed_before).only(
                "pk", "account_id", "connection_id", "attempts", "claimed_at"
            )
        )

    def requeue_stale(self, rows: Sequence[Any], *, claimed_before: datetime) -> int:
        with transaction.atomic():
            count = self.rows.filter(
                pk__in=[row.pk for row in rows], status=OutboxStatus.SENDING, claimed_at__lt=claimed_before
            ).update(status=OutboxStatus.QUEUED, claimed_at=None)
            self.record(rows, "requeued", "the worker sending it stopped; queued again")
        return count

    def fail_stale(self, rows: Sequence[Any], *, claimed_before: datetime, reason: str) -> int:
        with transaction.atomic():
            count = self.rows.filter(
                pk__in=[row.pk for row in rows], status=OutboxStatus.SENDING, claimed_at__lt=claimed_before
            ).update(status=OutboxStatus.FAILED, failure_reason=reason)
            self.record(rows, "failed", reason)
            self.release_quota(rows)
        return count

    def release_quota(self, messages: Sequence[Any]) -> None:
        if self.quota_at_accept:
            usage_release(channel=self.name, message_ids=[message.pk for message in messages])

    # -- what each channel brings ---------------------------------------------------------------------------

    def lane_state(self, connection: AwsConnection) -> LaneState:
        """This channel's rate (and any hold) on the connection."""
        raise NotImplementedError

    def prepare(self, connection: AwsConnection, message: Any) -> Any:
        """Build what the transport sends (e.g. the MIME message). An exception here fails the message for good."""
        raise NotImplementedError

    def deliver(self, connection: AwsConnection, message: Any, prepared: Any) -> str:
        """Hand the message to the provider; returns its message id or raises TransportError."""
        raise NotImplementedError

    def hold(self, connection: AwsConnection, until: datetime) -> None:
        """The provider's daily quota is spent: send nothing on this connection before `until`."""
        raise NotImplementedError

    # The channel's timeline model, when it has the common shape: account, the message (`timeline_message_field`),
    # connection, source (with a SESAME choice), event_type, detail, occurred_at. Otherwise override `record`.
    timeline_model: Any = None
    timeline_message_field = "message_id"

    def record(self, messages: Iterable[Any], event_type: str, detail: str) -> None:
        """Append an engine event (failed, held, requeued, ...) to each message's timeline."""
        model, now = self.timeline_model, timezone.now()
        model.objects.bulk_create(
            model(
                account_id=message.account_id,
                connection_id=message.connection_id,
                source=model.Source.SESAME,
                event_type=event_type,
                detail=detail,
                occurred_at=now,
                **{self.timeline_message_field: message.pk},
            )
            for message in messages
        )


_registry: dict[str, Channel] = {}


def channel_register(channel: Channel) -> None:
    _registry[channel.name] = channel


def channels() -> list[Channel]:
    return list(_registry.values())


def channel_named(name: str) -> Channel:
    return _registry[name]


def lane_key(channel: str, connection_id: object) -> str:
    return f"{channel}:{connection_id}"


def lane_parts(lane: str) -> tuple[Channel, uuid.UUID] | None:
    name, _, connection_id = lane.partition(":")
    try:
        return _registry[name], uuid.UUID(connection_id)
    except (KeyError, ValueError):
        return None
