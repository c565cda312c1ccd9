"""The operator console over 10 million emails: how fast the dashboards render from rollups, and what keeping the
rollups costs the events path.

    .venv/bin/python bench/console_bench.py            # seed (first run only), then both measurements
    .venv/bin/python bench/console_bench.py render     # or: events
    BENCH_CONSOLE_EMAILS=1000000 .venv/bin/python bench/console_bench.py

Seeding writes the rollup rows that 10 million emails over 90 days leave (200 accounts with 2 connections each,
every email with a tag and a custom field), straight in SQL: the rows the events path and compaction would have
written. `render` times the admin views in process (Django's test client, logged in, templates rendered) 20 times
each. `events` times `ses_event_record` (one SES event: timeline row, outcome, webhooks, rollup increments) with and
without the rollup increments, on the same database. Prints JSON.
"""

import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_environment, prepare_database

ENV = bench_environment("sesame_bench_console", 9, SESAME_AWS_MODE="simulator")
EMAILS = int(os.environ.get("BENCH_CONSOLE_EMAILS", "10000000"))
DAYS, ACCOUNTS, CONNECTIONS_PER_ACCOUNT = 90, 200, 2
TAGS = ("receipt", "welcome", "reset", "digest", "invoice")
PLANS = ("free", "pro", "team")
# Per sent email, the share of each metric (open and click events can repeat; these are per email).
SHARES = {"sent": 1.0, "delivered": 0.97, "bounced": 0.02, "complained": 0.001, "opened": 0.4, "clicked": 0.1}
SHARES["suppressed"] = 0.005
RUNS = 20


def seed() -> None:
    from django.db import connection as db

    from accounts.models import Account, AwsConnection
    from billing.models import Plan
    from events.models import Rollup, RollupTotal

    marker = f"bench-{EMAILS}"
    if Account.objects.filter(name=marker).exists():
        return
    print(f"Seeding rollups for {EMAILS:,} emails ...", file=sys.stderr, flush=True)
    Rollup.objects.all().delete()
    AwsConnection.objects.all().delete()
    Account.objects.all().delete()
    plan = Plan.objects.get(slug="paid")
    accounts = Account.objects.bulk_create(Account(name=f"Bench {n:03d}", plan=plan) for n in range(ACCOUNTS))
    AwsConnection.objects.bulk_create(
        AwsConnection(
            account=account,
            identifier=f"conn-{n}",
            access_key_id="AKIA",
            secret_access_key="secret",
            max_24_hour_send=50_000,  # production SES; the sandbox's 200 would put every connection near its limit
        )
        for account in accounts
        for n in range(CONNECTIONS_PER_ACCOUNT)
    )
    per_day = EMAILS / DAYS / (ACCOUNTS * CONNECTIONS_PER_ACCOUNT)
    # Each email carries one tag (of 5) and one plan custom field (of 3): per dimension, a share of the emails.
    dimensions = [("", 1.0)] + [(f"tag:{t}", 1 / len(TAGS)) for t in TAGS] + [(f"field:plan={p}", 1 / 3) for p in PLANS]
    values = ", ".join(f"('{metric}', {share})" for metric, share in SHARES.items())
    dims = ", ".join(f"('{name}', {share})" for name, share in dimensions)
    table = Rollup._meta.db_table
    with db.cursor() as cursor:
        for period, step, count, scale in (("day", "1 day", DAYS, per_day), ("hour", "1 hour", 72, per_day / 24)):
            cursor.execute(
                f"""
                INSERT INTO {table} (period, bucket, channel, account_id, connection_id, dimension, metric, count)
                SELECT %s, b.bucket, 'email', c.account_id, c.id, d.name, m.metric,
                       greatest(0, round(%s * d.share * m.share * (0.5 + random())))::bigint
                FROM generate_series(date_trunc(%s, now()) - %s * interval '{step}', date_trunc(%s, now()),
                                     interval '{step}') AS b(bucket)
                CROSS JOIN accounts_awsconnection c
                CROSS JOIN (VALUES {dims}) AS d(name, share)
                CROSS JOIN (VALUES {values}) AS m(metric, share)
                """,  # noqa: S608 (constants only)
                [period, scale, period, count - 1, period],
            )
        totals = RollupTotal._meta.db_table
        cursor.execute(
            f"INSERT INTO {totals} (period, bucket, channel, dimension, metric, count) "  # noqa: S608 (constants only)
            f"SELECT period, bucket, channel, dimension, metric, sum(count) FROM {table} "
            "GROUP BY period, bucket, channel, dimension, metric"
        )
        cursor.execute(f"ANALYZE {table}")
        cursor.execute(f"ANALYZE {totals}")
    Account.objects.create(name=marker, plan=plan)


def timed(call, runs: int = RUNS) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 1),
        "max_ms": round(samples[-1], 1),
    }


def render() -> dict[str, object]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from accounts.models import AwsConnection
    from events.models import Rollup

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    connection = AwsConnection.objects.select_related("account").first()
    assert connection is not None

    def page(url: str, **params: str):
        def call() -> None:
            response = client.get(url, params)
            assert response.status_code == 200, response.status_code

        return call

    dashboard = "/admin/events/rollup/dashboard/"
    return {
        "rollup_rows": Rollup.objects.count(),
        "emails": EMAILS,
        "overview_14_days": timed(page(dashboard)),
        "overview_90_days": timed(page(dashboard, start="2000-01-01")),
        "overview_90_days_tag": timed(page(dashboard, start="2000-01-01", tag="receipt")),
        "overview_14_days_custom_field": timed(page(dashboard, field_key="plan", field_value="pro")),
        "account_page": timed(page(f"/admin/events/rollup/dashboard/account/{connection.account_id}/")),
        "connection_page": timed(page(f"/admin/events/rollup/dashboard/connection/{connection.pk}/")),
        "admin_index": timed(page("/admin/")),
    }


def events() -> dict[str, object]:
    """ses_event_record for 2,000 delivery events, with the rollup increments and with them switched off."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import AwsConnection
    from emails.models import Email
    from events.models import SnsNotification
    from events.services import rollups, timeline

    connection = AwsConnection.objects.first()
    assert connection is not None
    emails = Email.objects.bulk_create(
        Email(
            account_id=connection.account_id,
            connection=connection,
            from_address="a@example.com",
            to_address="b@example.net",
            subject="bench",
            status="sent",
            send_at=timezone.now(),
            sent_at=timezone.now(),
            ses_message_id=f"bench-{uuid.uuid4()}",
            tags=["receipt"],
            custom_fields={"plan": "pro"},
        )
        for _ in range(4000)
    )

    def run(batch: list[Email]) -> float:
        started = time.perf_counter()
        for email in batch:
            with transaction.atomic():
                notification = SnsNotification.objects.create(
                    connection=connection,
                    account_id=connection.account_id,
                    message_id=str(uuid.uuid4()),
                    message_type="Notification",
                    body="{}",
                    received_at=timezone.now(),
                )
                message = {
                    "eventType": "Delivery",
                    "mail": {"messageId": email.ses_message_id, "destination": ["b@example.net"]},
                    "delivery": {"timestamp": timezone.now().isoformat(), "recipients": ["b@example.net"]},
                }
                timeline.ses_event_record(notification=notification, message=message)
        return (time.perf_counter() - started) * 1000 / len(batch)

    with_rollups = run(emails[:2000])
    original = rollups.email_events_rolled_up
    rollups.email_events_rolled_up = lambda **kwargs: None
    try:
        without = run(emails[2000:])
    finally:
        rollups.email_events_rolled_up = original
    return {
        "per_event_ms_with_rollups": round(with_rollups, 3),
        "per_event_ms_without_rollups": round(without, 3),
        "compaction_of_those_increments_ms": timed(rollups.rollups_compact, runs=1)["max_ms"],
    }


def main() -> None:
    prepare_database(ENV)
    seed()
    wanted = sys.argv[1:] or ["render", "events"]
    results = {name: {"render": render, "events": events}[name]() for name in wanted}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
