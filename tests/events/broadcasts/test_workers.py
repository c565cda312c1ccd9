"""A broadcast to a 100,000-contact segment with real Celery workers and beat, sending through SES mocked by moto (a
moto server process on loopback, reached by boto3 through SESAME_AWS_ENDPOINT_URL): every eligible contact gets
exactly one email and the excluded ones none, across a pause and resume, an emptied Redis and a killed worker.
Transactional mail of the same account keeps going out meanwhile.

SESAME_TEST_BROADCAST_CONTACTS sets a smaller audience for a quick run (the default is the acceptance size)."""

import os
import signal
import time
from collections import Counter
from typing import Any

import pytest
from django.conf import settings
from django.db import connection as db
from django.db.models import Count
from django.utils import timezone

from accounts.models import AwsConnection
from accounts.ratelimit import redis_client
from contacts.models import Contact, Tag, TopicOptOut
from contacts.subscriptions import topic_create
from emails.models import Email, Suppression
from events.broadcasts.models import Broadcast, BroadcastRecipient
from tests.contacts.factories import segment_for
from tests.emails.factories import email_body, sending_connection
from tests.events.broadcasts.factories import newsletter_template
from tests.waiting import beat_ticking, wait_for

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]

SIZE = int(os.environ.get("SESAME_TEST_BROADCAST_CONTACTS", "100000"))
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true"}


def _contacts(account: Any, tag: Tag) -> dict[str, set[str]]:
    """SIZE contacts tagged `members` (the segment), some of them excluded in every way, and 1,000 others."""
    now = timezone.now()
    with db.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Contact._meta.db_table} (account_id, email, mobile, status, full_name, gender, city, country,
                attributes, tag_ids, created_at, updated_at)
            SELECT %s, 'member' || i || '@example.net', NULL,
                CASE WHEN i %% 100 = 1 THEN 'unsubscribed' WHEN i %% 100 = 2 THEN 'bounced' ELSE 'subscribed' END,
                'Member ' || i, '', '', '', '{{}}'::jsonb, ARRAY[%s]::integer[], %s, %s
            FROM generate_series(1, %s) AS i
            UNION ALL
            SELECT %s, 'other' || i || '@example.net', NULL, 'subscribed', '', '', '', '', '{{}}'::jsonb,
                '{{}}'::integer[], %s, %s
            FROM generate_series(1, 1000) AS i
            """,  # noqa: S608
            [account.pk, tag.pk, now, now, SIZE, account.pk, now, now],
        )
    Tag.objects.filter(pk=tag.pk).update(contact_count=SIZE)
    members = Contact.objects.filter(account=account, email__startswith="member").values_list("pk", "email")
    by_number = {int(email[len("member") : email.index("@")]): (pk, email) for pk, email in members if email}
    opted_out = {by_number[i] for i in by_number if i % 100 == 3}
    suppressed = {by_number[i][1] for i in by_number if i % 100 == 4}
    return {
        "unsubscribed": {email for i, (_, email) in by_number.items() if i % 100 in (1, 2)},
        "opted_out": {email for _, email in opted_out},
        "opted_out_ids": {str(pk) for pk, _ in opted_out},
        "suppressed": suppressed,
        "eligible": {email for i, (_, email) in by_number.items() if i % 100 not in (1, 2, 3, 4)},
    }


def _sent_per_address(account: Any) -> Counter[str]:
    rows = (
        Email.objects.filter(account=account, custom_fields__has_key="broadcast_id", ses_message_id__isnull=False)
        .values("to_email")
        .annotate(n=Count("id"))
    )
    return Counter({row["to_email"]: row["n"] for row in rows})


def _ses_accepted(ses: Any) -> int:
    """Messages moto's SES accepted (it counts each recipient twice: the envelope and the To header)."""
    return int(ses.get_send_quota()["SentLast24Hours"]) // 2


def _kill_outside_the_window(victim: Any, other: Any, ses: Any, connection: Any) -> None:
    """Kill a worker at a moment when every message SES accepted is recorded as sent: the engine's documented
    duplicate window (SES accepted, the `sent` UPDATE not committed) is the one crash that may send twice. The
    connection is slowed to 20/s meanwhile, or on a busy machine some message is nearly always inside it."""
    AwsConnection.objects.filter(pk=connection.pk).update(send_rate_override=20)
    time.sleep(3)  # the engine reads the new rate at its next tick
    seen = (0, 0)
    for _ in range(300):
        victim.signal(signal.SIGSTOP)
        other.signal(signal.SIGSTOP)
        time.sleep(0.2)  # requests already on the wire reach moto
        recorded = Email.objects.filter(ses_message_id__isnull=False).count()
        seen = (_ses_accepted(ses), recorded)
        if seen[0] == recorded:
            victim.kill()
            other.signal(signal.SIGCONT)
            AwsConnection.objects.filter(pk=connection.pk).update(send_rate_override=2000)
            return
        victim.signal(signal.SIGCONT)
        other.signal(signal.SIGCONT)
        time.sleep(0.05)
    pytest.fail(f"never found a moment outside the documented duplicate window: (SES, recorded) = {seen}")


def test_100k_segment_gets_exactly_one_email_each_through_pause_flush_and_a_killed_worker(
    api, account, start_worker, celery_beat, moto_ses, tmp_path
):
    endpoint, ses = moto_ses
    worker_env = {
        **AWS,
        "SESAME_AWS_MODE": "aws",
        "SESAME_AWS_ENDPOINT_URL": endpoint,
        # The sweeper takes a message still `sending` this long after its claim for one a dead worker left; on a
        # loaded machine a live send can take seconds, and the 3 s other tests use would requeue (and resend) it.
        "SESAME_SENDING_STALE_AFTER": "120",
    }
    connection = sending_connection(account)
    # An operator's override: beat's quota refresh would otherwise set moto's max send rate of 1/s.
    AwsConnection.objects.filter(pk=connection.pk).update(send_rate_override=2000)
    topic = topic_create(account=account, key="newsletter", name="Newsletter")
    tag = Tag.objects.create(account=account, name="members", key="members")
    people = _contacts(account, tag)
    TopicOptOut.objects.bulk_create(
        TopicOptOut(account=account, topic=topic, contact_id=int(pk), source="api") for pk in people["opted_out_ids"]
    )
    Suppression.objects.bulk_create(
        Suppression(account=account, address=address, reason="manual") for address in people["suppressed"]
    )
    segment = segment_for(account, name="Members", tags=["members"])
    newsletter_template(account)
    client = api(account)
    created = client.post(
        "/v1/broadcasts",
        {"name": "Big news", "template": "newsletter", "from": "news@example.com", "topic": "newsletter",
         "segment": segment.pk},
        format="json",
    ).json()  # fmt: skip
    broadcast_id = created["id"]
    eligible = len(people["eligible"])
    assert client.get(f"/v1/broadcasts/{broadcast_id}/audience").json()["count"] == eligible

    first, second = start_worker(**worker_env), start_worker(**worker_env)
    assert wait_for(lambda: beat_ticking(tmp_path), timeout=30), "beat never ticked"
    assert client.post(f"/v1/broadcasts/{broadcast_id}/send").json()["status"] in ("scheduled", "sending")

    def sent() -> int:
        return Email.objects.filter(account=account, ses_message_id__isnull=False).count()

    # Transactional mail of the same account and connection goes out while the broadcast is in full flow.
    assert wait_for(lambda: sent() >= min(2000, eligible // 10), timeout=300), sent()
    receipt = client.post("/v1/emails", email_body(to="buyer@example.org", priority=10), format="json").json()
    assert wait_for(lambda: Email.objects.get(pk=receipt["id"]).sent_at is not None, timeout=10)

    # Pause a third of the way: nothing more leaves once the emails already claimed are sent.
    assert wait_for(lambda: sent() >= eligible // 3, timeout=900), sent()
    assert client.post(f"/v1/broadcasts/{broadcast_id}/pause").json()["status"] == "paused"
    assert wait_for(lambda: not Email.objects.filter(account=account, status="sending").exists(), timeout=30)
    held = sent()
    time.sleep(3)
    assert sent() == held
    assert held < eligible
    assert client.get(f"/v1/broadcasts/{broadcast_id}").json()["progress"]["to_send"] == eligible + 1 - held

    # Resume, then empty Redis (queues, lanes, buckets) and kill a worker mid-flight.
    assert client.post(f"/v1/broadcasts/{broadcast_id}/resume").json()["status"] == "sending"
    assert wait_for(lambda: sent() >= held + (eligible - held) // 3, timeout=900), sent()
    redis_client(settings.REDIS_URL).flushdb()
    assert wait_for(lambda: sent() >= held + 2 * (eligible - held) // 3, timeout=900), sent()
    _kill_outside_the_window(first, second, ses, connection)
    start_worker(**worker_env)

    assert wait_for(lambda: Broadcast.objects.get(pk=broadcast_id).status == "sent", timeout=1800), (
        Counter(BroadcastRecipient.objects.values_list("status", flat=True)),
        Counter(Email.objects.values_list("status", flat=True)),
    )
    per_address = _sent_per_address(account)
    assert set(per_address) == people["eligible"]
    assert set(per_address.values()) == {1}
    assert _ses_accepted(ses) == eligible + 1  # and the receipt: nobody got a second copy
    progress = client.get(f"/v1/broadcasts/{broadcast_id}").json()["progress"]
    assert (progress["sent"], progress["to_send"], progress["failed"]) == (eligible, 0, 0)
    assert progress["excluded"] == {
        "bounced": len([e for e in people["unsubscribed"] if int(e[6 : e.index("@")]) % 100 == 2]),
        "opted_out": len(people["opted_out"]),
        "suppressed": len(people["suppressed"]),
        "unsubscribed": len([e for e in people["unsubscribed"] if int(e[6 : e.index("@")]) % 100 == 1]),
    }
