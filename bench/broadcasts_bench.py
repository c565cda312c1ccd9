"""Broadcasts: how fast an audience is materialised into the ledger, and how fast its emails are rendered and queued.

    .venv/bin/python bench/broadcasts_bench.py                     # 1M contacts: ~5 minutes
    .venv/bin/python bench/broadcasts_bench.py --contacts 200000 --feed-seconds 30

Against real PostgreSQL (database sesame_bench_broadcasts) and Redis (db 10), production settings, in this process:

1. 1M contacts (by one INSERT … SELECT over generate_series) carry the tag of a saved segment; 1% are unsubscribed,
   1% opted out of the broadcast's topic, 0.5% on the suppression list.
2. materialise: `broadcast_start` (the service beat's tick calls) writes the audience into the ledger in one
   `INSERT … SELECT` with each contact's exclusion reason. Reports contacts/s, and this process's peak memory
   before and after (the rows never pass through Python, so it does not grow with the audience); the same for a
   tenth of the audience, to show the rate holds and the memory stays flat.
3. feed: `broadcast_feed_step` in a loop (what the feed task does; the outbox window set wide open) for
   --feed-seconds: each batch renders the template per contact (Liquid, unsubscribe link and RFC 8058 headers),
   stores the emails and moves their ledger rows to `queued`. Reports emails/s and peak memory. Sending them is
   the delivery engine's work, at the connection's rate (see the Emails section for its dispatch figures).
"""

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_environment, prepare_database

ENV = bench_environment(
    "sesame_bench_broadcasts", 10, SESAME_AWS_MODE="simulator", SESAME_BROADCAST_AHEAD_SECONDS="1000000"
)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(account: Any, tag: Any, count: int, prefix: str) -> None:
    from django.db import connection
    from django.utils import timezone

    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO contacts_contact (account_id, email, mobile, status, full_name, gender, city, country,
                attributes, tag_ids, created_at, updated_at)
            SELECT %s, %s || i || '@example.net', NULL,
                CASE WHEN i %% 100 = 1 THEN 'unsubscribed' ELSE 'subscribed' END,
                'Person ' || i, '', '', '', '{}'::jsonb, ARRAY[%s]::integer[], %s, %s
            FROM generate_series(1, %s) AS i
            """,
            [account.pk, prefix, tag.pk, now, now, count],
        )
        cursor.execute("ANALYZE contacts_contact")


def setup(count: int, name: str) -> Any:
    from accounts import services as account_services
    from billing.services import account_create_subscribed
    from contacts.models import Contact, Tag, TopicOptOut
    from contacts.subscriptions import topic_create
    from emails.models import Identity, Suppression
    from emails.templating import template_create
    from events.broadcasts.services import broadcast_create, broadcast_send

    account = account_create_subscribed(name=name, plan_slug="enterprise")
    connection = account_services.aws_connection_create(
        account=account, identifier="default", region="us-east-1", role_arn="arn:aws:iam::123456789012:role/S",
        is_default=True,
    )  # fmt: skip
    Identity.objects.create(
        account=account, connection=connection, name="example.com", kind="domain", status="verified"
    )
    topic = topic_create(account=account, key="news", name="News")
    tag = Tag.objects.create(account=account, name="members", key="members", contact_count=count)
    prefix = name.replace(" ", "")
    load(account, tag, count, prefix)
    ids = Contact.objects.filter(account=account).values_list("pk", flat=True)
    first = ids.order_by("pk").first() or 0
    TopicOptOut.objects.bulk_create(
        (TopicOptOut(account=account, topic=topic, contact_id=first + i, source="api") for i in range(2, count, 100)),
        batch_size=5000,
    )
    Suppression.objects.bulk_create(
        (
            Suppression(account=account, address=f"{prefix}{i}@example.net", reason="manual")
            for i in range(3, count, 200)
        ),
        batch_size=5000,
    )
    from contacts.services import segment_create

    segment = segment_create(account=account, name="Members", filters={"tags": ["members"]})
    template = template_create(
        account=account,
        channel="email",
        name="news",
        content={
            "subject": "News for {{ first_name | default: 'you' }}",
            "html": "<h1>Hello {{ first_name | default: 'there' }}</h1><p>" + "Our news this month. " * 40 + "</p>"
            '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · <a href="{{ preferences_url }}">Preferences</a></p>',
        },
    )
    broadcast = broadcast_create(
        account=account,
        data={"name": "bench", "template": str(template.pk), "topic": "news", "segment": segment.pk,
              "from_address": "news@example.com", "config_identifier": "default"},
    )  # fmt: skip
    broadcast_send(broadcast=broadcast)
    return broadcast


def materialise(count: int, name: str) -> dict[str, Any]:
    from django.utils import timezone

    from events.broadcasts.models import BroadcastRecipient
    from events.broadcasts.services import broadcast_start

    broadcast = setup(count, name)
    before = peak_mb()
    started = time.perf_counter()
    assert broadcast_start(broadcast_id=broadcast.pk, now=timezone.now())
    elapsed = time.perf_counter() - started
    rows = BroadcastRecipient.objects.filter(broadcast=broadcast).count()
    return {
        "contacts": count,
        "ledger_rows": rows,
        "seconds": round(elapsed, 2),
        "contacts_per_s": round(rows / elapsed),
        "peak_mb_before": round(before, 1),
        "peak_mb_after": round(peak_mb(), 1),
        "broadcast": str(broadcast.pk),
    }


def feed(broadcast_id: str, seconds: float) -> dict[str, float]:
    from django.utils import timezone

    from emails.models import Email
    from events.broadcasts.services import broadcast_feed_step

    before = peak_mb()
    started = time.perf_counter()
    while time.perf_counter() - started < seconds and broadcast_feed_step(
        broadcast_id=broadcast_id, now=timezone.now()
    ):
        pass
    elapsed = time.perf_counter() - started
    queued = Email.objects.filter(custom_fields__broadcast_id=broadcast_id).count()
    return {
        "seconds": round(elapsed, 1),
        "emails_queued": queued,
        "emails_per_s": round(queued / elapsed),
        "peak_mb_before": round(before, 1),
        "peak_mb_after": round(peak_mb(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--feed-seconds", type=float, default=60.0)
    args = parser.parse_args()
    prepare_database(ENV)
    from django.db import connection

    with connection.cursor() as cursor:  # a fresh start: the bench's own database
        cursor.execute("TRUNCATE events_broadcastrecipient, events_broadcast, emails_email, contacts_contact CASCADE")
    stamp = int(time.time())
    small = materialise(args.contacts // 10, f"bench small {stamp}")
    big = materialise(args.contacts, f"bench big {stamp}")
    fed = feed(big["broadcast"], args.feed_seconds)
    print(json.dumps({"materialise_tenth": small, "materialise": big, "feed": fed}, indent=2))


if __name__ == "__main__":
    main()
