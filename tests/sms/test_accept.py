"""POST /v1/sms and its family: validation, the account's rules, de-duplication, lists, detail, cancel, tenancy."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from sms.models import SmsEvent, SmsMessage, SmsMonthlySpend, SmsOptOut, SmsPolicy
from sms.services import sms_policy_for
from tests.sms.factories import DELIVERED, sms_body, sms_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def sender(account):
    sms_connection(account)
    return account


def _errors(response):
    assert response.status_code == 422, response.content
    return {tuple(entry["loc"]): entry for entry in response.json()["detail"]}


def test_an_sms_is_accepted_queued_with_its_encoding_and_segments(api, sender):
    response = api(sender).post("/v1/sms", sms_body(body="Hello " * 40), format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert (body["encoding"], body["segments"], body["country"]) == ("GSM-7", 2, "US")
    message = SmsMessage.objects.get(pk=body["id"])
    assert message.to == DELIVERED and message.sms_type == "transactional" and message.priority == 50


def test_unicode_bodies_are_ucs2_and_counted_in_utf16_units(api, sender):
    body = api(sender).post("/v1/sms", sms_body(body="Ваш заказ отправлен 🚚"), format="json").json()
    assert (body["encoding"], body["segments"]) == ("UCS-2", 1)
    body = api(sender).post("/v1/sms", sms_body(body="é" * 150 + "€"), format="json").json()
    assert (body["encoding"], body["segments"]) == ("GSM-7", 1)  # é is GSM-7; € takes two septets


def test_a_number_not_in_e164_says_what_to_send(api, sender):
    errors = _errors(api(sender).post("/v1/sms", sms_body(to="+1 (425) 414-7755"), format="json"))
    msg = errors[("body", "to")]["msg"]
    assert "E.164" in msg and "'+14254147755'" in msg


def test_more_than_ten_segments_is_refused(api, sender):
    errors = _errors(api(sender).post("/v1/sms", sms_body(body="ж" * 700), format="json"))
    entry = errors[("body", "body")]
    assert entry["type"] == "value_error.sms.segments"
    assert "11 segments" in entry["msg"] and "UCS-2" in entry["msg"]


def test_bad_optional_fields_are_each_reported(api, sender):
    errors = _errors(
        api(sender).post(
            "/v1/sms",
            sms_body(sms_type="marketing", sender_id="ACME CORP!", max_price="-1", priority=0, colour="red"),
            format="json",
        )
    )
    assert {
        ("body", "sms_type"),
        ("body", "sender_id"),
        ("body", "max_price"),
        ("body", "priority"),
        ("body", "colour"),
    } <= set(errors)


def test_a_country_outside_the_allow_list_is_refused(api, sender):
    errors = _errors(api(sender).post("/v1/sms", sms_body(to="+442071838750"), format="json"))
    entry = errors[("body", "to")]
    assert entry["type"] == "value_error.country_not_allowed"
    assert "GB" in entry["msg"] and "US" in entry["msg"]
    api(sender).patch("/v1/sms/settings", {"allowed_countries": ["US", "GB"]}, format="json")
    assert api(sender).post("/v1/sms", sms_body(to="+442071838750"), format="json").status_code == 200


def test_at_the_monthly_spend_limit_new_sms_are_refused_with_the_limit_and_the_spend(api, sender):
    SmsPolicy.objects.filter(pk=sms_policy_for(account=sender).pk).update(monthly_spend_limit_usd=Decimal("5.00"))
    month = timezone.now().date().replace(day=1)
    SmsMonthlySpend.objects.create(account=sender, month=month, spent_usd=Decimal("5.00412"))
    errors = _errors(api(sender).post("/v1/sms", sms_body(), format="json"))
    entry = errors[("body",)]
    assert entry["type"] == "value_error.spend_limit"
    assert "$5.00" in entry["msg"] and "spent" in entry["msg"]


def test_sandbox_connections_refuse_unverified_numbers_with_how_to_verify(api, account, sandbox):
    sms_connection(account, in_sandbox=True)
    entry = _errors(api(account).post("/v1/sms", sms_body(), format="json"))[("body", "to")]
    assert entry["type"] == "value_error.sandbox_unverified"
    assert "POST /v1/sms/sandbox-numbers" in entry["msg"] and "verify" in entry["msg"]


def test_an_opted_out_number_is_stored_suppressed_and_never_queued(api, sender):
    SmsOptOut.objects.create(account=sender, phone_number=DELIVERED, source=SmsOptOut.Source.MANUAL)
    body = api(sender).post("/v1/sms", sms_body(), format="json").json()
    assert body["status"] == "suppressed"
    event = SmsEvent.objects.get(message_id=body["id"])
    assert event.event_type == "suppressed" and DELIVERED in event.detail


def test_a_repeated_client_sms_id_answers_409_with_the_first_id(api, sender):
    first = api(sender).post("/v1/sms", sms_body(client_sms_id="order-1"), format="json").json()
    again = api(sender).post("/v1/sms", sms_body(client_sms_id="order-1"), format="json")
    assert again.status_code == 409
    assert again.json()["id"] == first["id"]


def test_batch_accepts_the_good_ones_and_reports_the_rest_in_order(api, sender):
    items = [sms_body(client_sms_id="a"), sms_body(to="12345"), sms_body(client_sms_id="a"), sms_body()]
    body = api(sender).post("/v1/sms/batch", {"sms": items}, format="json").json()
    assert (body["accepted"], body["rejected"]) == (2, 2)
    assert [r.get("status") for r in body["results"]] == ["queued", "rejected", "rejected", "queued"]
    assert body["results"][1]["errors"][0]["loc"] == ["body", "sms", 1, "to"]
    assert body["results"][2]["errors"][0]["type"] == "value_error.duplicate"
    repeat = api(sender).post("/v1/sms/batch", {"sms": [sms_body(client_sms_id="a")]}, format="json").json()
    assert repeat["results"][0]["status"] == "duplicate"


def test_list_filters_and_detail_with_timeline(api, sender):
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    api(sender).post("/v1/sms", sms_body(tags=["otp"], custom_fields={"order": 7}), format="json")
    scheduled = (
        api(sender).post("/v1/sms", sms_body(sms_type="promotional", schedule_send_at=later), format="json").json()
    )
    assert scheduled["status"] == "scheduled"
    client = api(sender)
    assert len(client.get("/v1/sms").json()["results"]) == 2
    assert len(client.get("/v1/sms?sms_type=promotional").json()["results"]) == 1
    assert len(client.get("/v1/sms?tag=otp").json()["results"]) == 1
    assert len(client.get("/v1/sms?custom_fields__order=7").json()["results"]) == 1
    assert len(client.get("/v1/sms?status=scheduled&country=us").json()["results"]) == 1
    assert client.get("/v1/sms?stauts=queued").status_code == 422
    detail = client.get(f"/v1/sms/{scheduled['id']}").json()
    assert [entry["type"] for entry in detail["timeline"]] == ["accepted", "scheduled"]
    assert "sealed_body" not in detail


def test_cancel_before_sending_then_409(api, sender):
    sms_id = api(sender).post("/v1/sms", sms_body(), format="json").json()["id"]
    assert api(sender).post(f"/v1/sms/{sms_id}/cancel").json()["status"] == "cancelled"
    again = api(sender).post(f"/v1/sms/{sms_id}/cancel")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]


def test_another_accounts_sms_is_404(api, sender, other_account):
    sms_id = api(sender).post("/v1/sms", sms_body(), format="json").json()["id"]
    assert api(other_account).get(f"/v1/sms/{sms_id}").status_code == 404
    assert api(other_account).post(f"/v1/sms/{sms_id}/cancel").status_code == 404
    assert api(other_account).get("/v1/sms").json()["results"] == []
