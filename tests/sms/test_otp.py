"""One-time passcodes: single use, expiry, check and send limits, cooldown, fraud guards, and the code never shown."""

import logging
import re
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from config.delivery.engine import Engine
from sms import services
from sms.models import OtpCountryPause, OtpVerification, SimulatedSms, SmsMessage
from tests.sms.factories import DELIVERED, sms_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def sender(account):
    sms_connection(account)
    return account


def _code(verification_id) -> str:
    """What the phone receives (the test reads the sealed text; nothing Sesame shows has it)."""
    message = SmsMessage.objects.filter(otp_id=verification_id).order_by("-created_at").first()
    assert message is not None
    found = re.search(r"\d{4,10}", message.sealed_body)
    assert found is not None
    return found.group(0)


def _start(api, account, **fields):
    response = api(account).post("/v1/otp", {"to": DELIVERED, **fields}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_code_is_approved_once_then_refused(api, sender):
    started = _start(api, sender)
    assert set(started) >= {"id", "expires_at"} and started["status"] == "pending"
    sms = SmsMessage.objects.get(otp_id=started["id"])
    assert sms.priority == 1 and sms.sms_type == "transactional"
    code = _code(started["id"])
    assert len(code) == 6
    assert api(sender).post(f"/v1/otp/{started['id']}/check", {"code": code}, format="json").json()["status"] == (
        "approved"
    )
    again = api(sender).post(f"/v1/otp/{started['id']}/check", {"code": code}, format="json")
    assert again.status_code == 409 and "already used" in again.json()["detail"]


def test_an_expired_code_is_expired(api, sender):
    started = _start(api, sender)
    code = _code(started["id"])
    OtpVerification.objects.filter(pk=started["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    answer = api(sender).post(f"/v1/otp/{started['id']}/check", {"code": code}, format="json").json()
    assert answer["status"] == "expired"


def test_the_sixth_check_fails_even_with_the_right_code(api, sender):
    started = _start(api, sender)
    code = _code(started["id"])
    wrong = "000000" if code != "000000" else "111111"
    statuses = [
        api(sender).post(f"/v1/otp/{started['id']}/check", {"code": wrong}, format="json").json()["status"]
        for _ in range(5)
    ]
    assert statuses == ["pending"] * 4 + ["failed"]
    assert api(sender).post(f"/v1/otp/{started['id']}/check", {"code": code}, format="json").json()["status"] == (
        "failed"
    )


def test_resend_has_a_cooldown_then_a_new_code_and_at_most_five_sends(api, sender):
    started = _start(api, sender)
    first_code = _code(started["id"])
    cooled = api(sender).post("/v1/otp", {"to": DELIVERED}, format="json")
    assert cooled.status_code == 429 and int(cooled["Retry-After"]) >= 1 and "30 seconds" in cooled.json()["detail"]
    for sends in range(2, 6):
        OtpVerification.objects.filter(pk=started["id"]).update(last_sent_at=timezone.now() - timedelta(seconds=31))
        again = _start(api, sender)
        assert again["id"] == started["id"] and again["sends"] == sends
    OtpVerification.objects.filter(pk=started["id"]).update(last_sent_at=timezone.now() - timedelta(seconds=31))
    sixth = api(sender).post("/v1/otp", {"to": DELIVERED}, format="json")
    assert sixth.status_code == 429 and "5 times" in sixth.json()["detail"]
    latest = _code(started["id"])
    if latest != first_code:  # the old code no longer works once a new one was sent
        stale = api(sender).post(f"/v1/otp/{started['id']}/check", {"code": first_code}, format="json").json()
        assert stale["status"] == "pending"
    assert api(sender).post(f"/v1/otp/{started['id']}/check", {"code": latest}, format="json").json()["status"] == (
        "approved"
    )


def test_a_number_in_a_disallowed_country_is_refused(api, sender):
    response = api(sender).post("/v1/otp", {"to": "+442071838750"}, format="json")
    assert response.status_code == 422
    entry = response.json()["detail"][0]
    assert entry["loc"] == ["body", "to"] and entry["type"] == "value_error.country_not_allowed"
    assert not OtpVerification.objects.exists()


def test_numbers_are_normalised_before_limits_and_bad_ones_refused(api, sender, settings):
    settings.SESAME_OTP_PER_NUMBER_PER_HOUR = 1
    assert api(sender).post("/v1/otp", {"to": "+1 425 414 7755"}, format="json").status_code == 422
    _start(api, sender)
    OtpVerification.objects.update(status="expired")
    refused = api(sender).post("/v1/otp", {"to": DELIVERED}, format="json")
    assert refused.status_code == 429 and DELIVERED in refused.json()["detail"]


def test_per_ip_limit_uses_forwarded_for_only_behind_a_proxy(api, sender, settings):
    settings.SESAME_OTP_PER_IP_PER_HOUR = 1
    client = api(sender)
    client.post("/v1/otp", {"to": DELIVERED}, format="json", HTTP_X_FORWARDED_FOR="203.0.113.9")
    # Not behind a proxy: the header is ignored, REMOTE_ADDR (127.0.0.1) counts, and it is spent.
    refused = client.post("/v1/otp", {"to": "+14254147000"}, format="json", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert refused.status_code == 429 and "127.0.0.1" in refused.json()["detail"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    ok = client.post("/v1/otp", {"to": "+14254147001"}, format="json", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert ok.status_code == 200


def test_a_collapsed_verify_ratio_pauses_the_country(api, sender, settings, other_account):
    from emails.models import Email
    from tests.emails.factories import sending_connection

    sending_connection(other_account, domain="sesame.test")  # the operator's account, which tells owners
    settings.SESAME_NOTIFY_ACCOUNT_ID = str(other_account.pk)
    settings.SESAME_NOTIFY_FROM = "Sesame alerts <alerts@sesame.test>"
    sender.owner_email = "owner@customer.test"
    sender.save()
    settings.SESAME_OTP_RATIO_MIN_SENDS = 3
    settings.SESAME_OTP_PER_NUMBER_PER_HOUR = 100
    for index in range(4):
        _start(api, sender, to=f"+1425414700{index}")
    old = timezone.now() - timedelta(minutes=15)
    OtpVerification.objects.update(created_at=old)
    [pause] = services.otp_ratio_check()
    assert pause.country == "US" and "0 of 4" in pause.reason
    notice = Email.objects.get(to_email="owner@customer.test")
    assert notice.subject == "Sesame paused your one-time passcodes to US" and "0 of 4" in (notice.text_body or "")
    assert services.otp_ratio_check() == []  # paused once: no second notice
    assert Email.objects.filter(to_email="owner@customer.test").count() == 1
    refused = api(sender).post("/v1/otp", {"to": "+14254147009"}, format="json")
    assert refused.status_code == 422 and refused.json()["detail"][0]["type"] == "value_error.country_paused"
    OtpCountryPause.objects.all().delete()  # an operator lifts it
    assert api(sender).post("/v1/otp", {"to": "+14254147009"}, format="json").status_code == 200


def test_email_passcodes_need_a_sender(api, sender):
    response = api(sender).post("/v1/otp", {"to": "jon@example.net", "channel": "email"}, format="json")
    assert response.status_code == 422 and "otp_email_from" in response.json()["detail"][0]["msg"]


@pytest.mark.django_db(transaction=True)
def test_code_and_hash_never_appear_in_responses_logs_or_admin(api, sender, caplog, client, settings):
    caplog.set_level(logging.DEBUG)
    client_api = api(sender)
    started = client_api.post("/v1/otp", {"to": DELIVERED, "template": "Code: {{code}}"}, format="json")
    verification = OtpVerification.objects.get(pk=started.json()["id"])
    code = _code(verification.pk)
    sms = SmsMessage.objects.get(otp=verification)
    assert sms.body == "Code: ******"
    Engine().drain(timeout=10)
    assert SimulatedSms.objects.get(sms_id=sms.pk).text == "Code: ******"
    sms.refresh_from_db()
    assert sms.sealed_body == ""  # gone once sent
    pages = [
        started,
        client_api.get(f"/v1/otp/{verification.pk}"),
        client_api.get(f"/v1/sms/{sms.pk}"),
        client_api.get("/v1/sms"),
        client_api.post(f"/v1/otp/{verification.pk}/check", {"code": code}, format="json"),
    ]
    admin = get_user_model().objects.create_superuser("op", "op@example.com", "pw")
    client.force_login(admin)
    for url in (
        "/admin/sms/otpverification/",
        f"/admin/sms/otpverification/{verification.pk}/change/",
        "/admin/sms/smsmessage/",
        f"/admin/sms/smsmessage/{sms.pk}/change/",
        "/admin/sms/simulatedsms/",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        pages.append(page)
    for page in pages:
        text = page.content.decode()
        assert code not in text and verification.code_hash not in text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert code not in logged and verification.code_hash not in logged


def test_email_passcodes_go_out_at_priority_1_and_their_bodies_are_dropped_once_sent(api, account):
    from emails.models import Email
    from tests.emails.factories import sending_connection

    sending_connection(account)
    api(account).patch("/v1/sms/settings", {"otp_email_from": "security@example.com"}, format="json")
    started = _start(api, account, to="Jon@Example.net", channel="email")
    assert started["to"] == "jon@example.net"
    email = Email.objects.get(custom_fields__otp_id=started["id"])
    assert email.priority == 1 and email.to_email == "jon@example.net"
    Email.objects.filter(pk=email.pk).update(status="sent")
    assert services.otp_email_bodies_prune() == 1
    email.refresh_from_db()
    assert email.text_body is None and email.body_pruned_at is not None


def test_an_email_passcode_is_sealed_in_the_api_the_admin_and_the_simulator(api, account, client):
    from config.celery import app as celery_app
    from emails.channel import email_channel
    from emails.models import Email, SimulatedMessage
    from emails.simulator import SimulatorTransport
    from tests.emails.factories import sending_connection

    sending_connection(account)
    api(account).patch("/v1/sms/settings", {"otp_email_from": "security@example.com"}, format="json")
    started = _start(api, account, to="jon@example.net", channel="email")
    email = Email.objects.get(custom_fields__otp_id=started["id"])
    code = re.search(r"\d{4,10}", email.text_body or "")
    assert code is not None, "the stored body carries the code until it is sent"
    # The engine hands the email to the simulator as it would to SES.
    with mock.patch.object(celery_app, "send_task"):
        SimulatorTransport().send_raw(email.connection, email_channel.prepare(email.connection, email))
    simulated = SimulatedMessage.objects.get(email=email)

    admin = get_user_model().objects.create_superuser("op", "op@example.com", "pw")
    client.force_login(admin)
    pages = [
        api(account).get(f"/v1/emails/{email.pk}"),
        api(account).get("/v1/emails"),
        client.get("/admin/emails/email/"),
        client.get(f"/admin/emails/email/{email.pk}/change/"),
        client.get(f"/admin/emails/simulatedmessage/{simulated.pk}/change/"),
    ]
    assert all(page.status_code == 200 for page in pages)
    assert all(code.group(0) not in page.content.decode() for page in pages)
    detail = pages[0].json()
    assert (detail["subject"], detail["text_body"], detail["html_body"]) == ("Your verification code", None, None)
    assert "Sealed: this email carried a one-time passcode" in pages[3].content.decode()
    assert b"(sealed: this message carried a one-time passcode" in bytes(simulated.raw)
