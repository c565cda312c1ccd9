"""The delivery engine in real Celery worker processes: tenants never wait for each other, idle connections cost
nothing, and claims follow priority exactly across processes and threads."""

import random
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import Account, AwsConnection
from accounts.ratelimit import redis_client
from billing.models import Plan
from emails.models import Email
from tests.accounts.factories import AccountFactory
from tests.emails.factories import email_body, sending_connection
from tests.waiting import beat_ticking, wait_for

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]


def _most_in_any_window(moments: list[float], window: float) -> int:
    moments = sorted(moments)
    return max(sum(1 for other in moments[i:] if other < start + window) for i, start in enumerate(moments))


def _send_batch(api, account: Account, count: int, **overrides) -> None:
    items = [email_body(to=f"user{i}@example.net", **overrides) for i in range(count)]
    for start in range(0, count, 500):
        answer = api(account).post("/v1/emails/batch", {"emails": items[start : start + 500]}, format="json")
        assert answer.json()["accepted"] == len(items[start : start + 500])


def test_three_tenants_send_at_their_own_rates_while_another_holds_a_2000_email_backlog(api, start_worker, celery_beat):
    backlog = AccountFactory.create(name="Backlog", plan_slug="enterprise")
    fast = AccountFactory.create(name="Fast", plan_slug="enterprise")
    slow = AccountFactory.create(name="Slow", plan_slug="enterprise")
    sending_connection(backlog, max_send_rate=50)
    sending_connection(fast, max_send_rate=5)
    sending_connection(slow, max_send_rate=2)
    _send_batch(api, backlog, 2000)
    start_worker()
    assert wait_for(lambda: Email.objects.filter(account=backlog, sent_at__isnull=False).count() >= 50, timeout=30)

    started = timezone.now()
    _send_batch(api, fast, 10)
    _send_batch(api, slow, 10)
    both_done = wait_for(
        lambda: not Email.objects.filter(account__in=[fast, slow], sent_at__isnull=True).exists(), timeout=30
    )
    finished = timezone.now()
    assert both_done, list(Email.objects.filter(account__in=[fast, slow]).values_list("status", flat=True))

    for account, rate in ((fast, 5), (slow, 2)):
        sent = [at.timestamp() for at in Email.objects.filter(account=account).values_list("sent_at", flat=True) if at]
        assert len(sent) == 10
        # 10 emails at `rate`: the first `rate` go at once, the rest one window later each; 2 s of slack.
        assert max(sent) - started.timestamp() <= (10 / rate - 1) + 2.0, account.name
        # Never above its own rate (100 ms of the window left for the time between grant and sent record).
        assert _most_in_any_window(sent, 0.9) <= rate, account.name

    # The backlog kept going at its own rate meanwhile, and was still there when the others were done.
    during = Email.objects.filter(account=backlog, sent_at__gte=started, sent_at__lte=finished).count()
    assert during >= 0.5 * 50 * (finished - started).total_seconds()
    assert Email.objects.filter(account=backlog, sent_at__isnull=True).exists()


def test_idle_connections_hold_no_task_and_a_new_email_leaves_within_a_second(
    api, account, start_worker, celery_beat, tmp_path
):
    plan = Plan.objects.get(slug="enterprise")
    idle_accounts = Account.objects.bulk_create(Account(name=f"Idle {i}", plan=plan) for i in range(200))
    AwsConnection.objects.bulk_create(
        AwsConnection(account=a, identifier="default", is_default=True, role_arn="arn:aws:iam::123456789012:role/S")
        for a in idle_accounts
    )
    sending_connection(account, max_send_rate=14)
    start_worker(concurrency=1)
    assert wait_for(lambda: beat_ticking(tmp_path), timeout=20), "beat never ticked"
    time.sleep(2)  # a few ticks over 201 idle connections

    from config.celery import app

    periodic = {str(entry["task"]) for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    running = set()
    for _ in range(3):  # only beat's periodic work (none of it per connection) may be caught running
        active = app.control.inspect(timeout=1).active() or {}
        running |= {task["name"] for tasks in active.values() for task in tasks}
    assert running <= periodic, running
    client = redis_client(settings.REDIS_URL)
    assert client.zcard("sesame:lanes") == 0  # no connection has a lane to serve
    assert client.llen("dispatch") == 0

    answer = api(account).post("/v1/emails", email_body(), format="json").json()
    assert wait_for(lambda: Email.objects.get(pk=answer["id"]).sent_at is not None, timeout=5)
    email = Email.objects.get(pk=answer["id"])
    assert email.sent_at is not None
    assert (email.sent_at - email.created_at).total_seconds() <= 1.0


def test_claims_follow_priority_exactly_across_workers_and_threads_with_scheduled_emails(
    api, account, start_worker, celery_beat
):
    sending_connection(account, max_send_rate=20)
    rng = random.Random(8)
    items = [email_body(to=f"user{i}@example.net", priority=rng.randint(1, 100)) for i in range(150)]
    when = (timezone.now() + timedelta(seconds=4)).isoformat()
    items += [email_body(to=f"later{i}@example.net", priority=1 + i % 5, schedule_send_at=when) for i in range(20)]
    assert api(account).post("/v1/emails/batch", {"emails": items}, format="json").json()["accepted"] == 170
    start_worker()
    start_worker()  # two workers of two processes each: four engines claim from the same connection
    assert wait_for(lambda: not Email.objects.filter(sent_at__isnull=True).exists(), timeout=40)

    rows = [
        (priority, due, claimed)
        for priority, due, claimed in Email.objects.values_list("priority", "send_at", "claimed_at")
        if claimed is not None
    ]
    assert len(rows) == 170
    inversions = [
        (priority, claimed)
        for priority, _, claimed in rows
        for other, due, other_claimed in rows
        if other < priority and due <= claimed and other_claimed > claimed
    ]
    assert inversions == []
    # The scheduled ones went out when due, ahead of the lower-priority backlog still waiting then.
    scheduled = list(Email.objects.filter(scheduled_for__isnull=False).values_list("send_at", "claimed_at"))
    first_scheduled = min(claimed for _, claimed in scheduled if claimed)
    assert all(claimed and claimed >= due - timedelta(milliseconds=50) for due, claimed in scheduled)
    assert Email.objects.filter(scheduled_for__isnull=True, claimed_at__gt=first_scheduled).exists()
