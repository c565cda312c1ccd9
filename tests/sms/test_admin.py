"""The operator's SMS pages: read-only logs with filters, OTP verifications, sandbox numbers, opt-outs."""

import pytest
from django.contrib.auth import get_user_model

from sms.models import SmsOptOut, SmsSandboxNumber
from tests.sms.factories import sms_body, sms_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw"))
    return client


def test_sms_pages_list_filter_and_show_details_read_only(api, account, operator):
    connection = sms_connection(account)
    sms_id = api(account).post("/v1/sms", sms_body(body="Parcel on its way", tags=["x"]), format="json").json()["id"]
    SmsSandboxNumber.objects.create(account=account, connection=connection, phone_number="+14254147000")
    SmsOptOut.objects.create(account=account, phone_number="+14254147001", source="manual")
    listing = operator.get("/admin/sms/smsmessage/?status__exact=queued&sms_type__exact=transactional&country=us")
    assert listing.status_code == 200 and "+14254147755" in listing.content.decode()
    assert "+14254147755" not in operator.get("/admin/sms/smsmessage/?country=GB").content.decode()
    detail = operator.get(f"/admin/sms/smsmessage/{sms_id}/change/")
    assert detail.status_code == 200 and "Parcel on its way" in detail.content.decode()
    assert operator.post(f"/admin/sms/smsmessage/{sms_id}/delete/").status_code == 403
    for url in (
        "/admin/sms/smssandboxnumber/",
        "/admin/sms/smsoptout/",
        "/admin/sms/otpverification/",
        "/admin/sms/smsconnectionstate/",
        "/admin/sms/smspolicy/",
        "/admin/sms/otpcountrypause/",
        "/admin/sms/simulatedsms/",
        "/admin/sms/smsmonthlyspend/",
    ):
        assert operator.get(url).status_code == 200, url
    assert "+14254147001" in operator.get("/admin/sms/smsoptout/").content.decode()
