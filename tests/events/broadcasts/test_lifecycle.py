"""A broadcast's life in one process: draft, start (the audience materialised with its exclusions), feeding
through the outbox, pause, resume and cancel. The same with real workers is in test_workers.py."""

import email as email_lib
from email.policy import default as default_policy

import pytest
from django.test import override_settings
from django.utils import timezone

from config.api.errors import Conflict, UnprocessableEntity
from contacts.models import Contact
from contacts.subscriptions import Source, contact_unsubscribe, topic_create
from emails.mime import build_mime
from emails.models import Email
from emails.services import suppression_add
from events.broadcasts import services
from events.broadcasts.models import Broadcast, BroadcastRecipient
from tests.contacts.factories import contact_for
from tests.emails.factories import sending_connection
from tests.events.broadcasts.factories import broadcast_for, contacts_bulk, ledger, newsletter_template, run

pytestmark = pytest.mark.django_db


def test_exclusions_are_recorded_and_eligible_contacts_get_one_email_with_rfc_8058_headers(account):
    sending_connection(account)
    topic = topic_create(account=account, key="newsletter", name="Newsletter")
    contact_for(account, email="ann@example.net", full_name="Ann Lee")
    gone = contact_for(account, email="gone@example.net")
    out = contact_for(account, email="out@example.net")
    contact_for(account, email="bounced@example.net", status=Contact.Status.BOUNCED)
    contact_for(account, email="blocked@example.net")
    contact_for(account, mobile="+442071838750")
    contact_unsubscribe(contact=gone, topic=None, source=Source.API)
    contact_unsubscribe(contact=out, topic=topic, source=Source.API)
    suppression_add(account=account, address="blocked@example.net", reason="manual")
    broadcast = broadcast_for(account, topic="newsletter")
    preview = services_preview(broadcast)
    assert (preview["count"], preview["excluded"]) == (
        1,
        {"bounced": 1, "no_address": 1, "opted_out": 1, "suppressed": 1, "unsubscribed": 1},
    )
    services.broadcast_send(broadcast=broadcast)
    run(broadcast)
    assert ledger(broadcast) == {
        "ann@example.net": "queued",
        "gone@example.net": "excluded:unsubscribed",
        "out@example.net": "excluded:opted_out",
        "bounced@example.net": "excluded:bounced",
        "blocked@example.net": "excluded:suppressed",
        None: "excluded:no_address",
    }
    sent = Email.objects.get()
    assert (sent.to_address, sent.priority, sent.subject, sent.status) == (
        "Ann Lee <ann@example.net>",
        90,
        "News for Ann",
        "queued",
    )
    message = email_lib.message_from_bytes(build_mime(sent), policy=default_policy)
    token = str(message["List-Unsubscribe"]).split("/u/")[1].split(">")[0]
    assert message["List-Unsubscribe"] == f"<http://127.0.0.1:8000/u/{token}>, <mailto:unsubscribe+{token}@127.0.0.1>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f'href="http://127.0.0.1:8000/u/{token}"' in (sent.html_body or "")


def services_preview(broadcast):
    from events.broadcasts.audience import audience_preview

    return audience_preview(broadcast=broadcast)


def test_a_template_without_a_visible_unsubscribe_link_is_refused(account):
    sending_connection(account)
    hidden = newsletter_template(
        account, name="hidden", html='<p>News</p><div style="display:none"><a href="{{ unsubscribe_url }}">x</a></div>'
    )
    with pytest.raises(UnprocessableEntity) as refused:
        broadcast_for(account, template=str(hidden.pk))
    [entry] = refused.value.entries
    assert entry["loc"] == ["body", "template"]
    assert "no visible unsubscribe link" in entry["msg"]


@override_settings(SESAME_BROADCAST_BATCH=10, SESAME_BROADCAST_AHEAD_SECONDS=0)
def test_pause_withdraws_waiting_emails_and_resume_sends_each_contact_once(account):
    sending_connection(account, max_send_rate=1)
    contacts_bulk(account, 25)
    broadcast = broadcast_for(account)
    services.broadcast_send(broadcast=broadcast)
    run(broadcast)
    assert Email.objects.filter(status="queued").count() == 10  # the window: one batch at this rate
    Email.objects.filter(pk__in=Email.objects.filter(status="queued").values("pk")[:4]).update(status="sent")
    services.broadcast_pause(broadcast=broadcast)
    assert Email.objects.filter(status="queued").count() == 0
    assert Email.objects.filter(status="cancelled").count() == 6
    run(broadcast)  # a feed while paused does nothing
    assert Email.objects.filter(status="queued").count() == 0
    with pytest.raises(Conflict):
        services.broadcast_pause(broadcast=broadcast)
    services.broadcast_resume(broadcast=broadcast)
    for _ in range(5):  # the engine sends what is queued; feeding tops the window up again
        run(broadcast)
        Email.objects.filter(status="queued").update(status="sent")
    run(broadcast)
    sent_to = list(Email.objects.filter(status="sent").values_list("to_email", flat=True))
    assert len(sent_to) == len(set(sent_to)) == 25
    assert Broadcast.objects.get(pk=broadcast.pk).status == Broadcast.Status.SENT


def test_cancel_stops_what_is_not_sent(account):
    sending_connection(account)
    contacts_bulk(account, 5)
    broadcast = broadcast_for(account)
    services.broadcast_send(broadcast=broadcast)
    run(broadcast)
    services.broadcast_cancel(broadcast=broadcast)
    assert set(Email.objects.values_list("status", flat=True)) == {"cancelled"}
    assert set(BroadcastRecipient.objects.values_list("status", flat=True)) == {"cancelled"}
    with pytest.raises(Conflict):
        services.broadcast_resume(broadcast=broadcast)


def test_nothing_is_queued_outside_the_sending_window(account):
    from datetime import UTC, datetime, time

    sending_connection(account)
    contacts_bulk(account, 3)
    broadcast = broadcast_for(account, window_start=time(9), window_end=time(17), window_timezone="Europe/Paris")
    services.broadcast_send(broadcast=broadcast)
    services.broadcast_start(broadcast_id=broadcast.pk, now=timezone.now())
    night = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)  # 23:00 in Paris
    assert services.broadcast_feed_step(broadcast_id=broadcast.pk, now=night) is False
    assert not Email.objects.exists()
    morning = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)  # 09:30 in Paris
    assert services.broadcast_feed_step(broadcast_id=broadcast.pk, now=morning) is True
    assert Email.objects.count() == 3
