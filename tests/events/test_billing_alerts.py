"""Usage alerts leave as an email to the owner (through Sesame itself) and a `billing.usage_alert` webhook event,
each once per period and threshold, however often the sender runs."""

import pytest

from billing.models import UsageAlert
from emails.models import Email
from events import services, tasks
from events.models import WebhookDelivery
from tests.accounts.factories import AccountFactory
from tests.billing.factories import use
from tests.emails.factories import email_body, sending_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(settings, other_account):
    sending_connection(other_account, domain="sesame.test")
    settings.SESAME_NOTIFY_ACCOUNT_ID = str(other_account.pk)
    settings.SESAME_NOTIFY_FROM = "billing@sesame.test"
    return other_account


def test_each_threshold_emails_the_owner_and_emits_a_webhook_event_once(api, operator):
    customer = AccountFactory.create(name="Busy", plan_slug="free", owner_email="owner@busy.test")
    sending_connection(customer)
    endpoint, _ = services.webhook_endpoint_create(
        account=customer, url="https://hooks.busy.test/sesame", event_types=["billing.usage_alert"]
    )
    client = api(customer)
    use(customer, 2_399)
    client.post("/v1/emails/batch", {"emails": [email_body() for _ in range(301)]}, format="json")  # to 2,700
    assert tasks.billing_alerts_send() == 2
    assert tasks.billing_alerts_send() == 0  # beat runs again: nothing is sent twice

    notices = Email.objects.filter(account=operator, to_email="owner@busy.test").order_by("subject")
    assert [n.subject for n in notices] == [
        "Sesame: Busy has used 80% of the emails its plan includes",
        "Sesame: Busy has used 90% of the emails its plan includes",
    ]
    text = notices[0].text_body or ""
    assert "The Free plan has no overage: once they are used, new emails are refused (402)" in text
    assert "2,700 of the 3,000 emails" in text
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("payload__threshold")
    assert [(d.event_type, d.payload["threshold"], d.payload["emails_used"]) for d in deliveries] == [
        ("billing.usage_alert", 80, 2_700),
        ("billing.usage_alert", 90, 2_700),
    ]
    assert all(a.notified_at and "Emailed the owner" in a.notice for a in UsageAlert.objects.all())

    client.post("/v1/emails/batch", {"emails": [email_body() for _ in range(300)]}, format="json")  # to 3,000
    assert tasks.billing_alerts_send() == 1
    assert Email.objects.filter(account=operator, subject__contains="has used all the emails").count() == 1
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 3


def test_an_alert_without_a_notify_account_is_stamped_with_why(settings):
    settings.SESAME_NOTIFY_ACCOUNT_ID = ""
    customer = AccountFactory.create(plan_slug="free")
    sending_connection(customer)
    use(customer, 2_399)
    import uuid

    from billing.quota import usage_reserve

    usage_reserve(account_id=customer.pk, channel="email", message_ids=[uuid.uuid4()])
    assert services.billing_alerts_send() == 1
    assert UsageAlert.objects.get().notice == "Not notified: set SESAME_NOTIFY_ACCOUNT_ID and SESAME_NOTIFY_FROM."
