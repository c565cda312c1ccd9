import pytest

from contacts.models import Contact, ContactEvent, Topic, TopicOptOut
from emails.models import Email, Suppression
from emails.templating.services import template_create
from events.automations import runner
from events.automations.models import AutomationRun
from push.models import PushDelivery, PushMessage
from sms.models import SmsMessage
from tests.accounts.factories import connection_for
from tests.contacts.factories import contact_for
from tests.emails.factories import sending_connection
from tests.events.automations_helpers import automation_for, release_all, step_outcomes
from tests.events.broadcasts.factories import device_for, push_app_for, push_template

pytestmark = pytest.mark.django_db

SEND = {"type": "send", "channel": "email", "template": "Red sneakers", "from": "Acme <hello@example.com>"}


@pytest.fixture
def sender(account):
    sending_connection(account)
    template_create(
        account=account,
        channel="email",
        name="Red sneakers",
        content={
            "subject": "Still thinking about them, {{ first_name | default: 'friend' }}?",
            "html": '<p>Your red sneakers wait. <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
        },
    )


def test_send_step_queues_the_rendered_email_at_the_automations_priority_with_unsubscribe_headers(account, sender):
    automation = automation_for(account, steps=[SEND])
    contact = contact_for(account, email="ada@example.com", full_name="Ada Lovelace", tags=["red sneakers"])
    release_all()
    run = AutomationRun.objects.get(automation=automation)
    email = Email.objects.get(account=account)
    assert (email.to_email, email.subject, email.priority) == ("ada@example.com", "Still thinking about them, Ada?", 60)
    assert email.client_email_id == f"automation-{run.pk}-s1"
    assert email.status == Email.Status.QUEUED
    assert "/u/" in str(email.html_body) and "Your red sneakers wait." in str(email.text_body)
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email.template_version is not None and email.template_version.number == 1
    assert step_outcomes(run)[-1] == ("s1", "sent")
    sent = ContactEvent.objects.get(contact=contact, name="automation.sent")
    assert sent.properties["email"] == str(email.pk) and sent.properties["template"] == "Red sneakers"


def test_consent_is_judged_when_sending_not_at_enrolment(account, sender):
    news = Topic.objects.create(account=account, key="offers", name="Offers")
    automation = automation_for(account, steps=[{"type": "wait", "seconds": 60}, {**SEND, "topic": "offers"}])
    gone = contact_for(account, email="gone@example.com", tags=["red sneakers"])
    opted = contact_for(account, email="opted@example.com", tags=["red sneakers"])
    bounced = contact_for(account, email="bounced@example.com", tags=["red sneakers"])
    fine = contact_for(account, email="fine@example.com", tags=["red sneakers"])
    release_all()
    # After enrolment, before the send:
    Contact.objects.filter(pk=gone.pk).update(status=Contact.Status.UNSUBSCRIBED)
    TopicOptOut.objects.create(account=account, topic=news, contact=opted, source="api")
    Suppression.objects.create(account=account, address="bounced@example.com", reason="hard_bounce")
    release_all(fast_forward=True)
    outcome = {
        run.contact_id: (step_outcomes(run)[-1][1], run.steps.order_by("-id")[0].detail.get("reason", ""))
        for run in AutomationRun.objects.filter(automation=automation)
    }
    assert outcome[gone.pk] == ("skipped", "the contact is unsubscribed")
    assert outcome[opted.pk] == ("skipped", "the contact opted out of the topic 'offers'")
    assert outcome[bounced.pk][0] == "skipped" and "suppress" in outcome[bounced.pk][1]
    assert outcome[fine.pk] == ("sent", "")
    assert list(Email.objects.filter(status=Email.Status.QUEUED).values_list("to_email", flat=True)) == [
        "fine@example.com"
    ]
    assert Email.objects.get(to_email="bounced@example.com").status == Email.Status.SUPPRESSED


def test_an_unknown_template_fails_the_run_at_once_with_the_reason(account, sender):
    automation = automation_for(account, steps=[{**SEND, "template": "Nope"}, {"type": "add_tag", "tag": "after"}])
    contact_for(account, tags=["red sneakers"])
    release_all()
    run = AutomationRun.objects.get(automation=automation)
    assert run.status == "failed"
    assert run.exit_reason == "step s1 failed: no email template 'Nope' in your account (give its id or name)"


def test_a_send_that_crashed_after_queueing_is_queued_once_on_the_retry(account, sender, monkeypatch):
    automation = automation_for(account, steps=[SEND])
    contact_for(account, tags=["red sneakers"])
    real_step, crashes = runner._step, list[int]()

    def crash_once(run, step_id, kind, outcome, detail, now, out):
        real_step(run, step_id, kind, outcome, detail, now, out)
        if kind == "send" and not crashes:
            crashes.append(1)
            raise ConnectionError("killed")

    monkeypatch.setattr(runner, "_step", crash_once)
    release_all()
    assert Email.objects.count() == 0, "the queued email rolled back with the step"
    release_all(fast_forward=True)
    assert Email.objects.count() == 1
    assert AutomationRun.objects.get(automation=automation).status == "completed"


def test_sms_send_step(account):
    sending_connection(account)
    template_create(account=account, channel="sms", name="Nudge", content={"body": "Red sneakers: 10% off today."})
    automation = automation_for(account, steps=[{"type": "send", "channel": "sms", "template": "Nudge"}])
    contact_for(account, mobile="+14254147755", tags=["red sneakers"])
    contact_for(account, email="no-mobile@example.com", tags=["red sneakers"])
    release_all()
    sms = SmsMessage.objects.get(account=account)
    assert (sms.to, sms.body, sms.priority) == ("+14254147755", "Red sneakers: 10% off today.", 60)
    reasons = sorted(
        run.steps.order_by("-id")[0].detail.get("reason", "")
        for run in AutomationRun.objects.filter(automation=automation)
    )
    assert reasons == ["", "the contact has no mobile number"]


def test_a_push_step_sends_the_contacts_rendered_push_to_each_enabled_device(account):
    app = push_app_for(account, connection_for(account))
    push_template(
        account,
        title="Back in stock",
        body="Your size {{ size | default: 'new' }} sneakers are back.",
        data={},
    )
    automation = automation_for(account, steps=[{"type": "send", "channel": "push", "template": "season"}])
    ada = contact_for(account, email="ada@example.com", attributes={"size": "42"}, tags=["red sneakers"])
    phone, tablet = device_for(ada, app), device_for(ada, app)
    device_for(ada, app, enabled=False)
    nobody = contact_for(account, email="no-device@example.com", tags=["red sneakers"])
    release_all()

    push = PushMessage.objects.get(account=account)
    assert (push.contact_id, push.body, push.priority) == (ada.pk, "Your size 42 sneakers are back.", 60)
    assert push.client_push_id == f"automation-{AutomationRun.objects.get(contact=ada).pk}-s1"
    assert set(PushDelivery.objects.filter(message=push).values_list("device_id", flat=True)) == {phone.pk, tablet.pk}
    assert step_outcomes(AutomationRun.objects.get(contact=ada))[-1] == ("s1", "sent")
    sent = ContactEvent.objects.get(contact=ada, name="automation.sent")
    assert sent.properties["push"] == str(push.pk)
    skipped = AutomationRun.objects.get(automation=automation, contact=nobody).steps.order_by("-id")[0]
    assert (skipped.outcome, skipped.detail["reason"]) == ("skipped", "the contact has no enabled push device")


def test_a_push_step_takes_no_sender(account):
    from config.api.errors import UnprocessableEntity

    with pytest.raises(UnprocessableEntity) as refused:
        automation_for(account, steps=[{"type": "send", "channel": "push", "template": "season", "from": "x@y.z"}])
    [entry] = refused.value.entries
    assert entry["loc"][-1] == "from" and "push goes to the contact's enabled devices" in entry["msg"]
