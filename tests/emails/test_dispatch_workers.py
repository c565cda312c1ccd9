"""The pipeline with real Celery processes: beat releases scheduled emails on time, and a crashed worker plus
an emptied Redis lose nothing and send nothing twice (outside the documented window, see config/delivery/engine.py)."""

import signal
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from accounts.ratelimit import redis_client
from emails.models import Email, SimulatedMessage
from tests.emails.factories import email_body, sending_connection
from tests.waiting import beat_ticking, wait_for

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]


def test_email_scheduled_two_seconds_ahead_is_sent_within_a_second_and_cancelled_never(
    api, account, celery_worker, celery_beat, tmp_path
):
    connection = sending_connection(account)
    assert wait_for(lambda: beat_ticking(tmp_path), timeout=20), "beat never ticked"
    client = api(account)
    when = timezone.now() + timedelta(seconds=2)
    kept = client.post("/v1/emails", email_body(schedule_send_at=when.isoformat()), format="json").json()
    dropped = client.post("/v1/emails", email_body(schedule_send_at=when.isoformat()), format="json").json()
    assert client.post(f"/v1/emails/{dropped['id']}/cancel").status_code == 200

    assert wait_for(lambda: Email.objects.get(pk=kept["id"]).sent_at is not None, timeout=10)
    email = Email.objects.get(pk=kept["id"])
    assert email.sent_at is not None and email.scheduled_for is not None
    lateness = (email.sent_at - email.scheduled_for).total_seconds()
    assert 0 <= lateness <= 1.0, f"sent {lateness:.2f}s after its time"
    assert SimulatedMessage.objects.filter(email_id=kept["id"]).count() == 1

    time.sleep(1.5)
    assert Email.objects.get(pk=dropped["id"]).status == Email.Status.CANCELLED
    assert not SimulatedMessage.objects.filter(email_id=dropped["id"]).exists()
    assert connection.pk == email.connection_id


def _in_duplicate_window() -> bool:
    """An email SES (the simulator) has accepted whose `sent` UPDATE has not committed."""
    return SimulatedMessage.objects.filter(email__status=Email.Status.SENDING).exists()


def _kill_outside_the_window(worker) -> None:
    for _ in range(500):
        worker.signal(signal.SIGSTOP)
        if not _in_duplicate_window():
            worker.kill()
            return
        worker.signal(signal.SIGCONT)
        time.sleep(0.005)
    stuck = list(
        SimulatedMessage.objects.filter(email__status=Email.Status.SENDING).values_list(
            "email_id", "email__claimed_at", "email__attempts", "created_at"
        )
    )
    pytest.fail(f"never found a moment outside the documented duplicate window: {stuck[:5]} now={timezone.now()}")


def test_killed_worker_and_flushed_redis_still_send_every_email_exactly_once(
    api, account, start_worker, celery_beat, settings
):
    sending_connection(account, max_send_rate=100)
    client = api(account)
    for batch in range(2):
        items = [email_body(client_email_id=f"crash-{batch}-{i}", priority=1 + i % 100) for i in range(500)]
        assert client.post("/v1/emails/batch", {"emails": items}, format="json").json()["accepted"] == 500

    first = start_worker(SESAME_SENDING_STALE_AFTER="2")
    assert wait_for(lambda: Email.objects.filter(sent_at__isnull=False).count() >= 200, timeout=30)
    _kill_outside_the_window(first)
    in_flight = Email.objects.filter(status=Email.Status.SENDING).count()
    redis_client(settings.REDIS_URL).flushdb()
    assert Email.objects.filter(status__in=[Email.Status.QUEUED, Email.Status.SENDING]).count() > 0

    # Beat runs the sweeper every second in tests; this worker treats 2-second-old claims as abandoned.
    start_worker(SESAME_SENDING_STALE_AFTER="2")
    assert wait_for(lambda: Email.objects.filter(sent_at__isnull=False).count() == 1000, timeout=60), Counter(
        Email.objects.values_list("status", flat=True)
    )
    # Sent, and then delivered as the simulator's events arrive; never failed, never left waiting.
    assert set(Email.objects.values_list("status", flat=True)) <= {Email.Status.SENT, Email.Status.DELIVERED}
    per_email = SimulatedMessage.objects.values("email_id").annotate(n=Count("id"))
    assert len(per_email) == 1000
    assert {row["n"] for row in per_email} == {1}
    if in_flight:
        assert Email.objects.filter(attempts__gte=2).count() >= 1  # the claimed ones went round again


def test_simulator_bounce_ends_bounced_and_suppresses_so_the_next_email_is_suppressed(
    api, account, celery_worker, celery_beat
):
    from emails.models import Suppression

    sending_connection(account)
    client = api(account)
    first = client.post("/v1/emails", email_body(to="bounce@simulator.amazonses.com"), format="json").json()
    assert wait_for(lambda: Email.objects.get(pk=first["id"]).status == Email.Status.BOUNCED, timeout=20), (
        Email.objects.get(pk=first["id"]).status
    )
    suppression = Suppression.objects.get(account=account, address="bounce@simulator.amazonses.com")
    assert suppression.reason == Suppression.Reason.HARD_BOUNCE
    assert str(suppression.source_email_id) == first["id"]
    timeline = client.get(f"/v1/emails/{first['id']}").json()["timeline"]
    assert [e["type"] for e in timeline if e["source"] == "ses"][-1] == "bounce"

    second = client.post("/v1/emails", email_body(to="bounce@simulator.amazonses.com"), format="json").json()
    assert second["status"] == "suppressed"
    time.sleep(1.5)
    assert not SimulatedMessage.objects.filter(email_id=second["id"]).exists()
