"""SMS broadcasts: the audience with its exclusions (no mobile, opted-out numbers, unsubscribed contacts, topic
opt-outs), one promotional SMS per eligible mobile through the SMS channel's own rules, the opt-out hint, pause and
resume, a batch stored twice, and the SMS sent through SNS (moto) by the delivery engine."""

import pytest
from django.test import override_settings
from django.utils import timezone

from config.delivery.engine import Engine
from contacts.models import Contact
from contacts.subscriptions import Source, contact_unsubscribe, topic_create
from events.broadcasts import services
from events.broadcasts.audience import audience_preview
from events.broadcasts.channels import Recipient, broadcast_channel
from events.broadcasts.models import Broadcast, BroadcastRecipient
from events.broadcasts.selectors import broadcast_progress
from sms.models import SmsMessage
from sms.services import sms_opt_out_add, sms_policy_update
from tests.contacts.factories import contact_for
from tests.events.broadcasts.factories import broadcast_for, ledger, run, sms_template
from tests.sms.conftest import publish_calls, sandbox, sns  # noqa: F401 (fixtures: moto's SNS)
from tests.sms.factories import DELIVERED, sms_connection

pytestmark = pytest.mark.django_db

OPT_OUT = "\nReply STOP to opt out."


def sms_broadcast(account, **data):
    if "template" not in data:
        data["template"] = str(sms_template(account).pk)
    data.setdefault("variables", {"discount": "20%"})
    return broadcast_for(account, channel="sms", **data)


@pytest.fixture
def audience(account):
    """Ann and Bob get it; the others are left out, each for its own reason."""
    sms_connection(account)
    topic = topic_create(account=account, key="offers", name="Offers")
    contact_for(account, mobile=DELIVERED, full_name="Ann Lee")
    contact_for(account, mobile="+14254140002", email="bob@example.net")
    contact_for(account, email="no-phone@example.net")
    contact_for(account, mobile="+14254140003")  # opted out of SMS
    sms_opt_out_add(account=account, phone_number="+14254140003")
    contact_unsubscribe(contact=contact_for(account, mobile="+14254140004"), topic=None, source=Source.API)
    contact_unsubscribe(contact=contact_for(account, mobile="+14254140005"), topic=topic, source=Source.API)
    return topic


@pytest.mark.sqlite
def test_each_eligible_mobile_gets_one_promotional_sms_with_the_opt_out_hint(account, audience):
    broadcast = sms_broadcast(account, topic="offers", from_address="ACME", tags=["sale"])
    preview = audience_preview(broadcast=broadcast)
    assert (preview["count"], preview["excluded"]) == (
        2,
        {"no_address": 1, "opted_out": 1, "sms_opted_out": 1, "unsubscribed": 1},
    )
    services.broadcast_send(broadcast=broadcast)
    run(broadcast)
    assert ledger(broadcast, by="contact__mobile") == {
        DELIVERED: "queued",
        "+14254140002": "queued",
        None: "excluded:no_address",
        "+14254140003": "excluded:sms_opted_out",
        "+14254140004": "excluded:unsubscribed",
        "+14254140005": "excluded:opted_out",
    }
    sent = {sms.to: sms for sms in SmsMessage.objects.all()}
    assert sorted(sent) == ["+14254140002", DELIVERED]
    ann = sent[DELIVERED]
    assert ann.body == "Hi Ann, 20% off this weekend." + OPT_OUT
    assert sent["+14254140002"].body == "Hi there, 20% off this weekend." + OPT_OUT
    assert (ann.sms_type, ann.sender_id, ann.priority, ann.status, ann.tags) == (
        "promotional",
        "ACME",
        90,
        "queued",
        ["sale"],
    )
    assert ann.client_sms_id == f"broadcast:{broadcast.pk}:{Contact.objects.get(mobile=DELIVERED).pk}"
    broadcast.refresh_from_db()
    assert ann.template_version_id == broadcast.template_version_id is not None
    assert ann.custom_fields == {"broadcast_id": str(broadcast.pk)}
    row = BroadcastRecipient.objects.get(broadcast=broadcast, contact__mobile=DELIVERED)
    assert row.message_id == ann.pk


def test_a_text_that_says_stop_gets_no_second_hint(account, audience):
    french = "{{ discount }} de remise. Répondez STOP pour ne plus recevoir nos SMS."
    template = sms_template(account, name="soldes", body=french)
    broadcast = sms_broadcast(account, template=str(template.pk))
    services.broadcast_send(broadcast=broadcast)
    run(broadcast)
    assert set(SmsMessage.objects.values_list("body", flat=True)) == {
        "20% de remise. Répondez STOP pour ne plus recevoir nos SMS."
    }


def test_the_sms_channel_rules_refuse_a_number_and_the_ledger_says_why(account, audience):
    contact_for(account, mobile="+442071838750")  # the account texts the US only
    broadcast = sms_broadcast(account)
    services.broadcast_send(broadcast=broadcast)
    run(broadcast)
    row = BroadcastRecipient.objects.get(broadcast=broadcast, contact__mobile="+442071838750")
    assert row.status == "failed"
    assert row.reason.startswith("to: +442071838750 is a number in GB; this account sends to US only")
    assert not SmsMessage.objects.filter(to="+442071838750").exists()
    sms_policy_update(account=account, allowed_countries=["US", "GB"])
    again = sms_broadcast(account, name="Again", template="sale")
    services.broadcast_send(broadcast=again)
    run(again)
    assert SmsMessage.objects.filter(to="+442071838750").count() == 1


def test_a_batch_stored_twice_stores_nothing_twice(account, audience):
    broadcast = sms_broadcast(account, topic="offers")
    services.broadcast_send(broadcast=broadcast)
    services.broadcast_start(broadcast_id=broadcast.pk, now=timezone.now())
    broadcast = Broadcast.objects.select_related("template_version__template", "connection").get(pk=broadcast.pk)
    rows = BroadcastRecipient.objects.filter(broadcast=broadcast, status="pending").select_related("contact")
    recipients = [Recipient(row_id=row.pk, contact=row.contact) for row in rows]
    channel = broadcast_channel("sms")
    first = channel.enqueue(broadcast, recipients)
    second = channel.enqueue(broadcast, recipients)
    assert len(first.stored) == 2 and second.stored == first.stored and not second.failed
    assert SmsMessage.objects.count() == 2


@pytest.mark.sqlite
@override_settings(SESAME_BROADCAST_BATCH=10, SESAME_BROADCAST_AHEAD_SECONDS=0)
def test_pause_withdraws_waiting_sms_and_resume_texts_each_mobile_once(account):
    sms_connection(account, rate=1)
    for i in range(25):
        contact_for(account, mobile=f"+1425414{i:04d}")
    broadcast = sms_broadcast(account)
    services.broadcast_send(broadcast=broadcast)
    run(broadcast)
    assert SmsMessage.objects.filter(status="queued").count() == 10  # the window: one batch at this rate
    SmsMessage.objects.filter(pk__in=SmsMessage.objects.filter(status="queued").values("pk")[:4]).update(status="sent")
    services.broadcast_pause(broadcast=broadcast)
    assert SmsMessage.objects.filter(status="queued").count() == 0
    withdrawn = list(SmsMessage.objects.filter(status="cancelled"))
    assert len(withdrawn) == 6
    assert all("~withdrawn~" in str(sms.client_sms_id) for sms in withdrawn)
    assert withdrawn[0].events.filter(event_type="cancelled").exists()
    run(broadcast)  # a feed while paused does nothing
    assert SmsMessage.objects.filter(status="queued").count() == 0
    services.broadcast_resume(broadcast=broadcast)
    for _ in range(5):  # the engine sends what is queued; feeding tops the window up again
        run(broadcast)
        SmsMessage.objects.filter(status="queued").update(status="sent")
    run(broadcast)
    texted = list(SmsMessage.objects.filter(status="sent").values_list("to", flat=True))
    assert len(texted) == len(set(texted)) == 25
    assert Broadcast.objects.get(pk=broadcast.pk).status == Broadcast.Status.SENT


@pytest.mark.django_db(transaction=True)
def test_the_engine_publishes_them_through_sns_and_progress_counts_per_contact(account, sns, publish_calls):  # noqa: F811
    sms_connection(account)
    contact_for(account, mobile=DELIVERED, full_name="Ann Lee")
    contact_for(account, mobile="+14254140099")  # moto: opted out at SNS, found right before Publish
    contact_for(account, email="no-phone@example.net")
    broadcast = sms_broadcast(account, from_address="+18005550100")
    services.broadcast_send(broadcast=broadcast)
    run(broadcast)
    assert Engine().drain(timeout=10)
    [call] = publish_calls
    assert (call["PhoneNumber"], call["Message"]) == (DELIVERED, "Hi Ann, 20% off this weekend." + OPT_OUT)
    assert call["MessageAttributes"] == {
        "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Promotional"},
        "AWS.MM.SMS.OriginationNumber": {"DataType": "String", "StringValue": "+18005550100"},
    }
    run(broadcast)  # the next feed settles the ledger and finishes the broadcast
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.SENT
    progress = broadcast_progress(broadcast=broadcast)
    assert {key: progress[key] for key in ("audience", "to_send", "sent", "failed", "suppressed", "cancelled")} == {
        "audience": 3,
        "to_send": 0,
        "sent": 1,
        "failed": 0,
        "suppressed": 2,
        "cancelled": 0,
    }
    assert (progress["excluded"], progress["opens"], progress["clicks"]) == ({"no_address": 1}, None, None)
    assert progress["send_rate"] == 20.0  # the connection's SMS rate, not its email rate
    assert ledger(broadcast, by="contact__mobile")["+14254140099"] == "done"
