"""SMS through real Celery workers: a passcode sent while a promotional backlog waits goes out first."""

from datetime import timedelta

import pytest
from django.db.models import Q

from sms.models import SmsMessage
from tests.sms.factories import DELIVERED, sms_connection
from tests.waiting import wait_for

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]


def test_an_otp_sent_while_1000_promotional_sms_are_queued_goes_out_first(api, account, start_worker):
    sms_connection(account, rate=20)
    promos = [
        {"to": f"+1425414{i:04d}", "body": f"Spring sale {i}: 20% off", "sms_type": "promotional"} for i in range(1000)
    ]
    for start in range(0, 1000, 500):
        answer = api(account).post("/v1/sms/batch", {"sms": promos[start : start + 500]}, format="json").json()
        assert answer["accepted"] == 500
    start_worker()
    promotional = SmsMessage.objects.filter(sms_type="promotional")
    assert wait_for(lambda: promotional.filter(sent_at__isnull=False).count() >= 20, timeout=30)

    started = api(account).post("/v1/otp", {"to": DELIVERED}, format="json")
    assert started.status_code == 200, started.content
    otp_sms = SmsMessage.objects.filter(otp_id=started.json()["id"])
    assert wait_for(lambda: otp_sms.filter(sent_at__isnull=False).exists(), timeout=30)

    otp = otp_sms.get()
    assert otp.priority == 1 and otp.status in {"sent", "delivered"}
    # No promotional SMS was claimed between the passcode's commit and its own claim: the next claim took it.
    jumped = promotional.filter(
        claimed_at__gt=otp.created_at + timedelta(milliseconds=50), claimed_at__lt=otp.claimed_at
    ).count()
    assert jumped == 0
    # And most of the backlog was still waiting when it went out.
    assert promotional.filter(Q(sent_at__isnull=True) | Q(sent_at__gt=otp.sent_at)).count() >= 900
