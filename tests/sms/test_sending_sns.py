"""Sending through SNS and reading delivery status from CloudWatch Logs, with moto at the boto3 boundary (the SMS
sandbox actions moto lacks are faked in sms/transport.py's one sandbox function)."""

import contextlib
import json
import time
from decimal import Decimal

import boto3
import pytest

from config.delivery.engine import Engine
from contacts.models import ContactEvent
from sms import services
from sms.models import SmsConnectionState, SmsEvent, SmsMessage, SmsMonthlySpend, SmsOptOut
from tests.contacts.factories import contact_for
from tests.sms.factories import DELIVERED, sms_body, sms_connection

pytestmark = pytest.mark.django_db(transaction=True)


def _send(api, account, **fields):
    response = api(account).post("/v1/sms", sms_body(**fields), format="json")
    assert response.status_code == 200, response.content
    Engine().drain(timeout=10)
    return SmsMessage.objects.get(pk=response.json()["id"])


def test_publish_carries_every_message_attribute_per_message(api, account, sns, publish_calls):
    sms_connection(account)
    message = _send(
        api,
        account,
        sms_type="promotional",
        sender_id="ACME",
        origination_number="+18005550100",
        max_price="0.25",
        body="Spring sale: 20% off",
    )
    assert message.status == "sent" and message.sns_message_id
    [call] = publish_calls
    assert call["PhoneNumber"] == DELIVERED and call["Message"] == "Spring sale: 20% off"
    assert call["MessageAttributes"] == {
        "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Promotional"},
        "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "ACME"},
        "AWS.MM.SMS.OriginationNumber": {"DataType": "String", "StringValue": "+18005550100"},
        "AWS.SNS.SMS.MaxPrice": {"DataType": "Number", "StringValue": "0.25"},
    }
    transactional = _send(api, account)
    assert publish_calls[1]["MessageAttributes"] == {
        "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}
    }
    assert transactional.status == "sent"


def test_a_number_opted_out_at_sns_is_suppressed_before_publish(api, account, sns, publish_calls):
    sms_connection(account)
    message = _send(api, account, to="+14254147799")  # moto: numbers ending in 99 are opted out
    assert message.status == "suppressed"
    assert publish_calls == []
    assert SmsOptOut.objects.filter(account=account, phone_number="+14254147799", source="sns").exists()
    assert SmsEvent.objects.get(message=message).event_type == "suppressed"
    # Known now: the next one is suppressed at accept.
    assert api(account).post("/v1/sms", sms_body(to="+14254147799"), format="json").json()["status"] == "suppressed"


def test_opt_out_sync_copies_sns_list(account, sns):
    connection = sms_connection(account)
    assert services.opt_outs_sync(connection=connection) > 0
    assert SmsOptOut.objects.filter(account=account, phone_number="+447420500600", source="sns").exists()
    assert services.opt_outs_sync(connection=connection) == 0


def test_sandbox_numbers_are_added_and_verified_through_faked_sns_calls(api, account, sns, sandbox):
    sandbox.in_sandbox = True
    connection = sms_connection(account)
    SmsConnectionState.objects.filter(connection=connection).update(sandbox_checked_at=None)
    refused = api(account).post("/v1/sms", sms_body(), format="json")
    assert refused.status_code == 422 and "sandbox" in refused.json()["detail"][0]["msg"]
    added = api(account).post("/v1/sms/sandbox-numbers", {"phone_number": DELIVERED}, format="json").json()
    assert added["status"] == "pending"
    wrong = api(account).post(f"/v1/sms/sandbox-numbers/{added['id']}/verify", {"code": "111111"}, format="json")
    assert wrong.status_code == 422 and "Invalid one-time password" in wrong.json()["detail"][0]["msg"]
    verified = api(account).post(f"/v1/sms/sandbox-numbers/{added['id']}/verify", {"code": "424242"}, format="json")
    assert verified.json()["status"] == "verified"
    assert [op for op, _ in sandbox.calls] == [
        "get_sms_sandbox_account_status",
        "create_sms_sandbox_phone_number",
        "verify_sms_sandbox_phone_number",
        "verify_sms_sandbox_phone_number",
    ]
    assert api(account).post("/v1/sms", sms_body(), format="json").json()["status"] == "queued"


def _log(logs, group, stream, records):
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now, "message": json.dumps(record)} for record in records],
    )


def _record(message, status, response, price):
    return {
        "notification": {"messageId": message.sns_message_id, "timestamp": "2026-11-22 04:37:13.100"},
        "delivery": {
            "phoneCarrier": "T-Mobile",
            "mnc": 260,
            "mcc": 310,
            "numberOfMessageParts": 1,
            "destination": message.to,
            "priceInUSD": price,
            "smsType": "Transactional",
            "providerResponse": response,
            "dwellTimeMs": 512,
        },
        "status": status,
    }


def test_delivery_status_logs_are_ingested_once_even_when_read_twice(api, account, sns):
    connection = sms_connection(account)
    services.delivery_status_provision(connection=connection, role_arn="arn:aws:iam::123456789012:role/SnsLogs")
    attributes = sns.get_sms_attributes()["attributes"]
    assert attributes["DeliveryStatusIAMRole"] == "arn:aws:iam::123456789012:role/SnsLogs"
    assert attributes["DeliveryStatusSuccessSamplingRate"] == "100"
    contact = contact_for(account, mobile="+14254147167")
    delivered = _send(api, account)
    failed = _send(api, account, to="+14254147167")
    logs = boto3.client("logs", region_name="us-east-1")
    base = "sns/us-east-1/123456789012/DirectPublishToPhoneNumber"
    _log(logs, base, "ok", [_record(delivered, "SUCCESS", "Message has been accepted by phone carrier", 0.00645)])
    _log(logs, f"{base}/Failure", "ko", [_record(failed, "FAILURE", "Phone carrier has blocked this message", 0.00581)])

    assert services.delivery_status_ingest(connection=connection) == 2
    SmsConnectionState.objects.filter(connection=connection).update(log_cursors={})  # forget where it stopped
    assert services.delivery_status_ingest(connection=connection) == 0  # the same events read again

    delivered.refresh_from_db()
    failed.refresh_from_db()
    assert (delivered.status, delivered.price_usd) == ("delivered", Decimal("0.00645"))
    assert delivered.delivered_at is not None
    assert (failed.status, failed.price_usd) == ("failed", Decimal("0.00581"))
    assert failed.failure_reason == "Phone carrier has blocked this message"
    assert SmsMonthlySpend.objects.get(account=account).spent_usd == Decimal("0.01226")
    detail = api(account).get(f"/v1/sms/{failed.pk}").json()
    entry = next(e for e in detail["timeline"] if e["type"] == "failed")
    assert "blocked" in entry["detail"] and entry["payload"]["mcc"] == 310 and entry["source"] == "sns"
    [event] = ContactEvent.objects.filter(contact=contact)
    assert event.name == "sms.failed" and event.source == "sms"
    assert event.properties["provider_response"] == "Phone carrier has blocked this message"
    assert SmsEvent.objects.filter(source="sns").count() == 2


def test_spend_reported_beyond_the_limit_stops_queued_sms_before_publish(api, account, sns, publish_calls):
    sms_connection(account)
    response = api(account).post("/v1/sms", sms_body(), format="json").json()
    services.sms_policy_update(account=account, monthly_spend_limit_usd=Decimal("1.00"))
    from django.utils import timezone

    SmsMonthlySpend.objects.create(account=account, month=timezone.now().date().replace(day=1), spent_usd=Decimal(2))
    Engine().drain(timeout=10)
    message = SmsMessage.objects.get(pk=response["id"])
    assert message.status == "failed" and "spend limit of $1.00" in message.failure_reason
    assert publish_calls == []
