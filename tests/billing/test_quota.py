"""Quota at accept: reserved with the email, released by cancel, suppression or a permanent failure; a spent quota
answers 402 while reads keep working; SMS and push are counted once even when their send is retried."""

import uuid

import pytest

from accounts.models import Account
from billing.models import BillingPeriod, UsageAlert, UsageEntry
from billing.quota import usage_record, usage_release
from config.delivery.channels import channel_named
from emails.models import Email, Suppression
from tests.accounts.factories import AccountFactory
from tests.billing.factories import current_period, use
from tests.emails.factories import email_body, sending_connection

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture
def free(db):
    account = AccountFactory.create(name="Free Co", plan_slug="free")
    sending_connection(account)
    return account


def test_each_accepted_email_reserves_a_unit_in_the_ledger_and_the_counter(api, free):
    client = api(free)
    ids = [client.post("/v1/emails", email_body(), format="json").json()["id"] for _ in range(3)]
    period = current_period(free)
    assert period.emails_used == 3
    entries = UsageEntry.objects.filter(period=period, channel="email", kind="reserved")
    assert sorted(str(e.message_id) for e in entries) == sorted(ids)
    assert client.get("/v1/billing").json()["used"] == 3


def test_a_spent_quota_answers_402_saying_what_was_used_and_how_to_raise_it(api, free):
    use(free, 2_999)
    client = api(free)
    assert client.post("/v1/emails", email_body(), format="json").status_code == 200
    refused = client.post("/v1/emails", email_body(), format="json")
    assert refused.status_code == 402
    detail = refused.json()["detail"]
    assert "used 3,000 emails" in detail
    assert "the Free plan includes 3,000" in detail
    assert "POST /v1/billing/change-plan" in detail
    assert Email.objects.filter(account=free).count() == 1  # the accepted one stays; nothing more stored
    # Reads and the other endpoints keep working.
    assert client.get("/v1/emails").status_code == 200
    assert client.get("/v1/billing").json()["used"] == 3_000
    assert client.get("/v1/account").status_code == 200


def test_a_batch_takes_what_the_quota_allows_and_rejects_the_rest_by_item(api, free):
    use(free, 2_998)
    response = api(free).post("/v1/emails/batch", {"emails": [email_body() for _ in range(4)]}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 2)
    assert [r["status"] for r in body["results"]][:2] == ["queued", "queued"]
    assert body["results"][2]["errors"][0]["type"] == "value_error.quota_exceeded"
    assert current_period(free).emails_used == 3_000
    again = api(free).post("/v1/emails/batch", {"emails": [email_body()]}, format="json")
    assert again.status_code == 402


def test_an_email_whose_recipients_are_all_suppressed_takes_no_unit(api, free):
    Suppression.objects.create(account=free, address="jon@example.net", reason=Suppression.Reason.HARD_BOUNCE)
    response = api(free).post("/v1/emails", email_body(), format="json")
    assert response.json()["status"] == "suppressed"
    assert current_period(free).emails_used == 0


def test_cancelling_gives_the_unit_back_once(api, free):
    client = api(free)
    email_id = client.post("/v1/emails", email_body(schedule_send_at="2099-01-01T00:00:00Z"), format="json").json()[
        "id"
    ]
    assert current_period(free).emails_used == 1
    assert client.post(f"/v1/emails/{email_id}/cancel").status_code == 200
    assert current_period(free).emails_used == 0
    assert usage_release(channel="email", message_ids=[uuid.UUID(email_id)]) == 0  # a retry releases nothing more
    assert current_period(free).emails_used == 0
    kinds = sorted(UsageEntry.objects.filter(message_id=email_id).values_list("kind", "units"))
    assert kinds == [("released", -1), ("reserved", 1)]


def test_a_permanent_failure_releases_the_unit_once_even_when_recorded_twice(api, free):
    email_id = api(free).post("/v1/emails", email_body(), format="json").json()["id"]
    email = Email.objects.get(pk=email_id)
    Email.objects.filter(pk=email_id).update(status="sending")
    channel = channel_named("email")
    channel.mark_failed(email, "MessageRejected: Email address is not verified.")
    Email.objects.filter(pk=email_id).update(status="sending")  # as if the task ran again after a crash
    channel.mark_failed(email, "MessageRejected: Email address is not verified.")
    assert current_period(free).emails_used == 0
    assert UsageEntry.objects.filter(message_id=email_id, kind="released").count() == 1


def test_a_retried_send_task_counts_sms_and_push_usage_once(free):
    sms_id, push_id = uuid.uuid4(), uuid.uuid4()
    usage_record(channel="sms", messages=[(free.pk, sms_id)])
    usage_record(channel="sms", messages=[(free.pk, sms_id)])  # the settler ran again after a crash
    usage_record(channel="push", messages=[(free.pk, push_id), (free.pk, push_id)])
    period = current_period(free)
    assert (period.sms_sent, period.push_sent, period.emails_used) == (1, 1, 0)
    assert UsageEntry.objects.filter(message_id=sms_id).count() == 1


def test_sms_of_an_account_without_a_subscription_yet_are_counted_in_its_new_period(free):
    bare = Account.objects.create(name="Bare", plan=free.plan)
    usage_record(channel="sms", messages=[(bare.pk, uuid.uuid4()), (free.pk, uuid.uuid4())])
    assert (current_period(bare).sms_sent, current_period(free).sms_sent) == (1, 1)
    assert bare.subscription.plan == free.plan


def test_each_alert_threshold_is_recorded_once_per_period(api, free):
    client = api(free)
    use(free, 2_398)
    client.post("/v1/emails", email_body(), format="json")  # 2,399: below 80%
    assert not UsageAlert.objects.exists()
    client.post("/v1/emails", email_body(), format="json")  # 2,400 = 80%
    assert list(UsageAlert.objects.values_list("threshold", "emails_used")) == [(80, 2_400)]
    client.post("/v1/emails", email_body(), format="json")
    use(free, 2_699)
    client.post("/v1/emails/batch", {"emails": [email_body() for _ in range(301)]}, format="json")  # to 3,000
    assert sorted(UsageAlert.objects.values_list("threshold", flat=True)) == [80, 90, 100]
    # Dropping back under a threshold (a release) and crossing it again fires nothing new.
    use(free, 2_000)
    client.post("/v1/emails/batch", {"emails": [email_body() for _ in range(500)]}, format="json")
    assert UsageAlert.objects.count() == 3
    assert BillingPeriod.objects.get(account=free).emails_used == 2_500


def test_bulk_emails_take_what_the_quota_allows_and_the_rest_fail_saying_why(free):
    from emails.addresses import parse_address
    from emails.services import BulkEmail, BulkSender, emails_enqueue_bulk

    use(free, 2_998)
    sender = BulkSender(
        account=free,
        connection=free.aws_connections.get(),
        from_address="News <news@example.com>",
        reply_to="",
        priority=90,
        tags=[],
        custom_fields={},
    )
    items = [
        BulkEmail(client_email_id=f"b-{i}", to=parse_address(f"reader{i}@example.net"), subject="Hi", html_body="",
                  text_body="Hello")
        for i in range(4)
    ]  # fmt: skip
    stored = emails_enqueue_bulk(sender=sender, items=items)
    statuses = [Email.objects.get(pk=stored[f"b-{i}"]).status for i in range(4)]
    assert statuses == ["queued", "queued", "failed", "failed"]
    failed = Email.objects.get(pk=stored["b-3"])
    assert "quota for this billing period is spent" in failed.failure_reason
    assert failed.events.filter(event_type="failed").exists()
    assert current_period(free).emails_used == 3_000
    # Stored again (a retried batch), nothing is stored or counted twice.
    assert emails_enqueue_bulk(sender=sender, items=items) == stored
    assert current_period(free).emails_used == 3_000


def test_a_repeated_client_email_id_answers_409_and_takes_no_unit(api, free):
    client = api(free)
    body = email_body(client_email_id="order-1")
    first = client.post("/v1/emails", body, format="json")
    assert first.status_code == 200
    again = client.post("/v1/emails", body, format="json")
    assert again.status_code == 409
    assert again.json()["id"] == first.json()["id"]
    assert current_period(free).emails_used == 1
    assert client.get("/v1/billing").json()["used"] == 1
