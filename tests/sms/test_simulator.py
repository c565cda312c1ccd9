"""The local SMS simulator: the README's numbers give delivered, failed (with a carrier reason) and opted-out
outcomes through the same status ingestion as CloudWatch Logs, and the text is kept for the admin."""

import pytest

from config.delivery.engine import Engine
from contacts.models import ContactEvent
from sms import simulator, tasks
from sms.models import SimulatedSms, SmsMessage, SmsMonthlySpend, SmsOptOut
from tests.contacts.factories import contact_for
from tests.sms.factories import sms_body, sms_connection

pytestmark = pytest.mark.django_db(transaction=True)


def test_simulator_numbers_play_back_delivered_failed_and_opted_out(api, account):
    sms_connection(account)
    contact = contact_for(account, mobile=simulator.DELIVERED_NUMBER)
    ids = {
        number: api(account)
        .post("/v1/sms", sms_body(to=number, body="Hi from the simulator"), format="json")
        .json()["id"]
        for number in (simulator.DELIVERED_NUMBER, simulator.FAILED_NUMBER, simulator.OPTED_OUT_NUMBER)
    }
    Engine().drain(timeout=10)
    for sent in SimulatedSms.objects.all():
        assert sent.text == "Hi from the simulator"
        assert tasks.simulator_report(sent.message_id) is True
        assert tasks.simulator_report(sent.message_id) is False  # a report read twice counts once

    delivered = SmsMessage.objects.get(pk=ids[simulator.DELIVERED_NUMBER])
    failed = SmsMessage.objects.get(pk=ids[simulator.FAILED_NUMBER])
    opted_out = SmsMessage.objects.get(pk=ids[simulator.OPTED_OUT_NUMBER])
    assert delivered.status == "delivered" and delivered.price_usd == simulator.PRICE_PER_SEGMENT_USD
    assert (failed.status, failed.failure_reason) == ("failed", simulator.FAILED_REASON)
    assert (opted_out.status, opted_out.failure_reason) == ("failed", simulator.OPTED_OUT_REASON)
    assert SmsOptOut.objects.filter(account=account, phone_number=simulator.OPTED_OUT_NUMBER).exists()
    assert SmsMonthlySpend.objects.get(account=account).spent_usd == 3 * simulator.PRICE_PER_SEGMENT_USD
    assert ContactEvent.objects.get(contact=contact).name == "sms.delivered"
    again = api(account).post("/v1/sms", sms_body(to=simulator.OPTED_OUT_NUMBER), format="json").json()
    assert again["status"] == "suppressed"
    timeline = api(account).get(f"/v1/sms/{failed.pk}").json()["timeline"]
    assert [entry["type"] for entry in timeline] == ["accepted", "sent", "failed"]
    assert simulator.FAILED_REASON in timeline[-1]["detail"]
