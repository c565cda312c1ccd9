"""SES's verdicts are shown and failing mail is flagged; machine mail (auto-replies, bulk, bounces) never gets an
answer, so two auto-responders cannot loop."""

import pytest

from contacts.models import Contact
from emails.models import Conversation, Email, InboundDomain, InboxAttachment, InboxMessage
from tests.emails.inbox_support import mime, received

pytestmark = pytest.mark.django_db

ACK = "Thanks, we got your message and answer within a day."


@pytest.fixture
def acknowledging(inbox_connection):
    InboundDomain.objects.create(
        account=inbox_connection.account, connection=inbox_connection, domain="example.com", acknowledgement_text=ACK
    )
    return inbox_connection


def _to_support(raw: bytes, **kwargs):
    return received(raw, recipients=["support@example.com"], **kwargs)


def test_virus_flagged_mail_is_flagged_and_its_attachment_not_kept(acknowledging, deliver, api, account):
    raw = mime(attachments=[("invoice.exe", "application/octet-stream", b"MZ-evil")])
    deliver(acknowledging, _to_support(raw, verdicts={"virus": "FAIL", "spam": "PASS", "dmarc": "FAIL"}))
    message = InboxMessage.objects.get()
    assert message.flagged and message.flags == ["virus check failed", "DMARC check failed"]
    assert message.verdicts["virus"] == "FAIL" and message.verdicts["spam"] == "PASS"
    assert message.raw is None
    attachment = InboxAttachment.objects.get()
    assert attachment.content is None and attachment.note == "Not kept: SES found a virus in this message."
    assert Conversation.objects.get().flagged
    assert not Email.objects.exists()  # flagged mail is never acknowledged
    listed = api(account).get("/v1/conversations?flagged=true").json()["results"]
    assert listed[0]["flagged"] is True
    detail = api(account).get(f"/v1/conversations/{listed[0]['id']}").json()
    assert detail["messages"][0]["flags"] == ["virus check failed", "DMARC check failed"]
    assert detail["messages"][0]["attachments"][0]["kept"] is False


def test_a_persons_mail_gets_the_acknowledgement_once(acknowledging, deliver):
    deliver(acknowledging, _to_support(mime(message_id="<p1@customer.test>")))
    [ack] = Email.objects.all()
    assert ack.priority == 1 and ack.text_body == ACK and ack.to_email == "ada@customer.test"
    assert ack.headers["Auto-Submitted"] == "auto-replied" and ack.headers["In-Reply-To"] == "<p1@customer.test>"
    assert InboxMessage.objects.get(direction="outbound").kind == "acknowledgement"
    # The next message of the same conversation is not acknowledged again.
    deliver(acknowledging, _to_support(mime(message_id="<p2@customer.test>", in_reply_to="<p1@customer.test>")))
    assert Email.objects.count() == 1


@pytest.mark.parametrize(
    ("headers", "sender", "kind"),
    [
        ({"Auto-Submitted": "auto-replied"}, "Ada <ada@customer.test>", "auto_reply"),
        ({"Precedence": "bulk"}, "news@shop.test", "auto_reply"),
        ({"Precedence": "junk"}, "news@shop.test", "auto_reply"),
        ({"Precedence": "list"}, "list@lists.test", "auto_reply"),
        ({"X-Autoreply": "yes"}, "ada@customer.test", "auto_reply"),
        ({}, "MAILER-DAEMON@amazonses.com", "bounce"),
        ({"Return-Path": "<>"}, "postmaster@customer.test", "bounce"),
    ],
)
def test_machine_mail_is_never_answered(acknowledging, deliver, headers, sender, kind):
    deliver(acknowledging, _to_support(mime(sender=sender, subject="Out of office", headers=headers)))
    message = InboxMessage.objects.get()
    assert message.kind == kind
    assert not Email.objects.exists()
    if kind == "bounce":
        assert not Contact.objects.exists()  # a mail system is nobody's contact


def test_auto_submitted_no_is_a_person(acknowledging, deliver):
    deliver(acknowledging, _to_support(mime(headers={"Auto-Submitted": "no"})))
    assert InboxMessage.objects.get(direction="inbound").kind == "message"
    assert Email.objects.count() == 1


def test_our_own_acknowledgement_coming_back_is_not_answered(acknowledging, deliver):
    # Another Sesame inbox (or ours, looped back) answering with Auto-Submitted: never answered in turn.
    looped = mime(sender="support@example.com", headers={"Auto-Submitted": "auto-replied"})
    deliver(acknowledging, _to_support(looped))
    # And mail from one of our own inbound domains without the header is not acknowledged either.
    deliver(acknowledging, _to_support(mime(sender="sales@example.com", message_id="<own@example.com>")))
    assert not Email.objects.exists()
    assert InboxMessage.objects.count() == 2


def test_an_auto_reply_does_not_reopen_a_closed_conversation(inbox_connection, deliver):
    deliver(inbox_connection, received(mime(message_id="<c1@customer.test>")))
    Conversation.objects.update(status="closed")
    ooo = mime(
        message_id="<c2@customer.test>", in_reply_to="<c1@customer.test>", headers={"Auto-Submitted": "auto-replied"}
    )
    deliver(inbox_connection, received(ooo))
    assert Conversation.objects.get().status == "closed"
    assert InboxMessage.objects.count() == 2
