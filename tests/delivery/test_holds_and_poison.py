"""What the engine does with messages it must not or cannot send: a suspended account's are held and go out on
reactivation; a message that can never be built fails once; one whose worker keeps dying is given up on."""

import time
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.db import OperationalError
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Account
from config.delivery.engine import Engine
from config.delivery.lanes import lanes
from config.delivery.services import delivery_sweep, delivery_tick
from emails.channel import email_channel
from emails.models import Email, EmailEvent, SimulatedMessage
from emails.services import email_accept
from tests.emails.factories import email_body, sending_connection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _simulator(settings):
    settings.SESAME_AWS_MODE = "simulator"


def test_a_suspended_account_sends_nothing_and_its_emails_go_out_on_reactivation(account):
    connection = sending_connection(account, max_send_rate=100)
    when = timezone.now() + timedelta(seconds=1)
    scheduled = email_accept(account=account, data=email_body(schedule_send_at=when.isoformat()))
    account_services.account_set_status(account=account, status=Account.Status.SUSPENDED)
    queued = email_accept(account=account, data=email_body(subject="Queued after suspension"))

    time.sleep(1.2)  # the scheduled one falls due
    delivery_tick(now=timezone.now())
    lanes().kick({f"email:{connection.pk}": 0})  # even a stray wake-up finds nothing to send
    Engine().drain(timeout=3)
    assert set(Email.objects.filter(pk__in=[scheduled.pk, queued.pk]).values_list("status", flat=True)) <= {
        "scheduled",
        "queued",
    }
    assert not SimulatedMessage.objects.exists()

    account_services.account_set_status(account=account, status=Account.Status.ACTIVE)
    delivery_tick(now=timezone.now())  # beat's next tick brings the lane back
    Engine().drain(timeout=10)
    assert set(Email.objects.filter(pk__in=[scheduled.pk, queued.pk]).values_list("status", flat=True)) == {"sent"}
    assert SimulatedMessage.objects.count() == 2


def test_an_email_that_cannot_be_built_fails_once_with_the_reason_and_the_rest_still_go(account):
    sending_connection(account, max_send_rate=100)
    poison = email_accept(account=account, data=email_body(subject="Poison"))
    # Stored data the MIME builder cannot use (as if written by an older version or by hand).
    Email.objects.filter(pk=poison.pk).update(
        attachments=[{"filename": "a.txt", "content_type": "text/plain", "content_base64": "%%% not base64 %%%"}]
    )
    good = email_accept(account=account, data=email_body(subject="Fine"))
    Engine().drain(timeout=10)

    poison.refresh_from_db()
    assert poison.status == Email.Status.FAILED
    assert poison.attempts == 1
    assert poison.failure_reason.startswith("could not build the message")
    failed = EmailEvent.objects.get(email=poison, event_type="failed")
    assert failed.detail == poison.failure_reason
    assert Email.objects.get(pk=good.pk).status == Email.Status.SENT


def test_the_sweeper_requeues_an_abandoned_email_and_gives_up_once_its_attempts_are_spent(account):
    sending_connection(account)
    retry = email_accept(account=account, data=email_body(subject="Retry"))
    spent = email_accept(account=account, data=email_body(subject="Spent"))
    long_ago = timezone.now() - timedelta(seconds=django_settings.SESAME_SENDING_STALE_AFTER + 5)
    Email.objects.filter(pk=retry.pk).update(status="sending", claimed_at=long_ago, attempts=1)
    cap = django_settings.SESAME_MAX_SEND_ATTEMPTS
    Email.objects.filter(pk=spent.pk).update(status="sending", claimed_at=long_ago, attempts=cap)

    assert delivery_sweep(now=timezone.now()) == 2
    retry.refresh_from_db()
    spent.refresh_from_db()
    assert retry.status == Email.Status.QUEUED
    assert EmailEvent.objects.filter(email=retry, event_type="requeued").exists()
    assert spent.status == Email.Status.FAILED
    assert spent.failure_reason == f"gave up after {cap} attempts: the worker sending it stopped each time"
    assert EmailEvent.objects.filter(email=spent, event_type="failed").exists()


def test_a_failed_build_gives_its_rate_unit_back_so_a_slow_connection_does_not_stall(account):
    sending_connection(account, max_send_rate=1)
    poison = email_accept(account=account, data=email_body(subject="Poison", priority=1))
    Email.objects.filter(pk=poison.pk).update(
        attachments=[{"filename": "a.txt", "content_type": "text/plain", "content_base64": "%%% not base64 %%%"}]
    )
    good = email_accept(account=account, data=email_body(subject="Fine", priority=2))
    started = time.monotonic()
    assert Engine().drain(timeout=10)
    assert Email.objects.get(pk=poison.pk).status == Email.Status.FAILED
    assert Email.objects.get(pk=good.pk).status == Email.Status.SENT
    assert time.monotonic() - started < 3  # the poison's unit went back at once, not after its 30 s reservation


def test_one_channel_failing_its_tick_does_not_stop_the_others(account, monkeypatch, caplog):
    from config.delivery import services as delivery_services
    from config.delivery.channels import Channel, channel_named

    class Broken(Channel):
        name = "broken"

        def release_due(self, *, now):
            raise RuntimeError("relation broken_outbox does not exist")

    email_channel = channel_named("email")
    monkeypatch.setattr(delivery_services, "channels", lambda: [Broken(), email_channel])
    connection = sending_connection(account, max_send_rate=100)
    email_accept(account=account, data=email_body())

    assert delivery_tick(now=timezone.now()) == 1  # the email's lane was still woken
    assert "The delivery tick of channel broken failed" in caplog.text
    Engine().drain(timeout=5)
    assert Email.objects.get(connection=connection).status == "sent"


class _ReleaseFailsOnce:
    """This process's lanes, whose first release after a claim fails as a Redis connection reset would."""

    def __init__(self, inner: Any) -> None:
        self._inner, self.failed = inner, False

    def release(self, taken: Any, *, consumed: int, drained: bool, remove: bool = False) -> Any:
        if consumed and not self.failed:
            self.failed = True
            raise redis.exceptions.ConnectionError("Connection reset by peer")
        return self._inner.release(taken, consumed=consumed, drained=drained, remove=remove)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_claimed_emails_go_back_to_the_queue_when_redis_fails_before_their_room_is_reserved(account):
    sending_connection(account)
    email = email_accept(account=account, data=email_body())
    store = _ReleaseFailsOnce(lanes())
    assert Engine(store=store).drain(timeout=10)
    email.refresh_from_db()
    assert store.failed
    assert email.status == Email.Status.SENT
    assert email.attempts == 2  # claimed, put back, claimed again: not left `sending` for the sweeper


def test_a_settle_that_fails_is_tried_again_so_the_email_is_sent_once_and_not_left_for_the_sweeper(
    account, monkeypatch, caplog
):
    sending_connection(account)
    email = email_accept(account=account, data=email_body())
    real, calls = email_channel.mark_sent, []

    def fails_once(sent):
        calls.append(len(sent))
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(sent)

    monkeypatch.setattr(email_channel, "mark_sent", fails_once)
    assert Engine().drain(timeout=10)
    email.refresh_from_db()
    assert calls == [1, 1]
    assert (email.status, email.attempts) == (Email.Status.SENT, 1)  # not `sending`, waiting to be sent again
    assert SimulatedMessage.objects.count() == 1
    assert "could not record 1 sent email messages; trying again in 0.1 s" in caplog.text
