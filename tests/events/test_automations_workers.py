"""Automations with real Celery processes: beat releases due waits, workers take the steps and the delivery engine
sends. A killed worker and an emptied Redis neither skip nor repeat a step."""

from collections import Counter

import pytest
from django.db.models import Count

from accounts.ratelimit import redis_client
from emails.models import Email, SimulatedMessage
from emails.templating.services import template_create
from events.automations.models import AutomationRun
from tests.accounts.factories import token_for
from tests.contacts.factories import contact_for
from tests.emails.factories import sending_connection
from tests.events.automations_helpers import automation_for
from tests.waiting import beat_ticking, wait_for

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]

SEND = {"type": "send", "channel": "email", "template": "Red sneakers", "from": "Acme <hello@example.com>"}


@pytest.fixture
def red_sneakers(account):
    sending_connection(account, max_send_rate=100)
    template_create(
        account=account,
        channel="email",
        name="Red sneakers",
        content={"subject": "Your red sneakers, {{ first_name | default: 'friend' }}", "html": "<p>Still yours.</p>"},
    )
    return automation_for(account, steps=[{"type": "wait", "seconds": 2}, SEND], goal_event="purchase")


def test_red_sneakers_end_to_end(client, api, account, red_sneakers, celery_worker, celery_beat, tmp_path):
    assert wait_for(lambda: beat_ticking(tmp_path), timeout=20), "beat never ticked"
    key = token_for(account, scopes=("contacts",))
    for address, name in (("ada@example.com", "Ada Lovelace"), ("bob@example.com", "Bob Stone")):
        response = client.post(
            "/add-contact", {"email": address, "full_name": name, "add_tags": "red sneakers"}, HTTP_TEMPLATE_KEY=key
        )
        assert response.json() == {"success": True, "message": "Contact added"}
    runs = {run.contact.email: run for run in AutomationRun.objects.select_related("contact")}
    assert set(runs) == {"ada@example.com", "bob@example.com"}, "each /add-contact enrolled its contact"

    # Bob buys before his wait ends: his run ends there, and nothing is sent to him.
    bought = api(account).post("/v1/events", {"email": "bob@example.com", "name": "purchase"}, format="json")
    assert bought.json()["accepted"] == 1

    assert wait_for(lambda: Email.objects.filter(to_email="ada@example.com", sent_at__isnull=False).exists(), 15)
    email = Email.objects.get(to_email="ada@example.com")
    assert (email.subject, email.priority) == ("Your red sneakers, Ada", 60)
    assert SimulatedMessage.objects.filter(email=email).count() == 1
    ada = AutomationRun.objects.get(pk=runs["ada@example.com"].pk)
    waited = ada.steps.get(step_id="s1", outcome="waiting")
    wait_end = waited.occurred_at.timestamp() + 2
    assert 0 <= email.created_at.timestamp() - wait_end < 2.0, "the send followed the wait's end within a beat tick"
    assert wait_for(lambda: AutomationRun.objects.get(pk=ada.pk).status == "completed", timeout=5)

    bob = AutomationRun.objects.get(pk=runs["bob@example.com"].pk)
    assert (bob.status, bob.exit_reason) == ("converted", "goal event 'purchase'")
    assert not Email.objects.filter(to_email="bob@example.com").exists()
    assert [o for o in bob.steps.order_by("id").values_list("outcome", flat=True)] in (
        ["entered", "exited"],
        ["entered", "waiting", "exited"],
    )


def test_a_killed_worker_and_a_flushed_redis_neither_skip_nor_repeat_a_step(
    account, red_sneakers, start_worker, celery_beat, settings
):
    contacts = [contact_for(account, email=f"fan{i}@example.com", tags=["red sneakers"]) for i in range(300)]
    first = start_worker()
    # Killed while it takes the runs through their sends (a run's send and its advance commit together).
    assert wait_for(lambda: Email.objects.count() >= 20, timeout=30, step=0.005)
    first.kill()
    assert AutomationRun.objects.filter(status="completed").count() < len(contacts), "killed too late to tell"
    redis_client(settings.REDIS_URL).flushdb()
    start_worker()
    assert wait_for(lambda: AutomationRun.objects.filter(status="completed").count() == len(contacts), timeout=60), (
        Counter(AutomationRun.objects.values_list("status", "step_id"))
    )
    assert wait_for(lambda: SimulatedMessage.objects.count() == len(contacts), timeout=30)
    per_address = Email.objects.values("to_email").annotate(n=Count("id"))
    assert sorted(row["n"] for row in per_address) == [1] * len(contacts)
    for run in AutomationRun.objects.all():
        outcomes = list(run.steps.order_by("id").values_list("step_id", "outcome"))
        assert outcomes == [("trigger", "entered"), ("s1", "waiting"), ("s1", "waited"), ("s2", "sent")], outcomes
