"""The team inbox receives mail through the signed SNS webhook: AWS's sample and crafted MIME become messages in
conversations, threaded by reply address, In-Reply-To, References, and the SES message id SES gave our reply."""

import base64

import pytest

from contacts.models import Contact, ContactEvent
from emails.models import Conversation, Email, InboxAttachment, InboxMessage
from events.models import SnsNotification
from tests.emails.inbox_support import mime, received
from tests.events.conftest import TOPIC_ARN, fixture_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(inbox_connection):
    return inbox_connection


def test_aws_sample_notification_becomes_a_conversation_with_a_contact(connection, deliver):
    payload = fixture_payload("ses-inbound/received-1.json")
    response = deliver(connection, payload)
    assert response.status_code == 200
    notification = SnsNotification.objects.get()
    assert notification.kind == "inbound" and notification.processed_at is not None
    assert notification.ses_message_id == "d6iitobk75ur44p8kdnnp7g2n800"
    message = InboxMessage.objects.get()
    assert message.direction == "inbound" and message.kind == "message"
    assert message.subject == "Example subject" and message.text_body.strip() == "Example content"
    assert message.from_email == "sender@example.com"
    assert message.message_id == "61967230-7A45-4A9D-BEC9-87CBCF2211C9@example.com"
    assert message.verdicts == {"spam": "PASS", "virus": "PASS", "spf": "PASS", "dkim": "PASS"}
    assert not message.flagged and message.error == ""
    conversation = message.conversation
    assert conversation is not None
    assert conversation.account_id == connection.account_id
    assert conversation.correspondent_email == "sender@example.com"
    assert conversation.team_address == "recipient@example.com"
    assert conversation.status == "open"
    contact = Contact.objects.get(account=connection.account, email="sender@example.com")
    assert conversation.contact_id == contact.pk
    event = ContactEvent.objects.get(contact_id=contact.pk)
    assert event.name == "email.received" and event.properties["conversation"] == str(conversation.pk)
    assert "threaded" not in notification.result and "new conversation" in notification.result


def test_same_ses_message_twice_is_one_message(connection, deliver):
    payload = received(mime(), ses_message_id="same-id")
    deliver(connection, payload)
    deliver(connection, payload)  # a second SNS delivery (new SNS MessageId) of the same mail
    assert InboxMessage.objects.count() == 1
    last = SnsNotification.objects.order_by("received_at").last()
    assert last is not None and "already received" in last.result


def test_multipart_with_attachment_and_inline_image(connection, deliver):
    from email.message import EmailMessage
    from email.policy import SMTP

    message = EmailMessage()
    message["From"] = "Ada <ada@customer.test>"
    message["To"] = "support@example.com"
    message["Subject"] = "Screenshot"
    message["Message-ID"] = "<shot-1@customer.test>"
    message.set_content("See the picture.")
    message.add_alternative(
        '<p onclick="steal()">See <img src="cid:pic1@customer.test"></p><script>alert(1)</script>', subtype="html"
    )
    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(b"\x89PNG-bytes", maintype="image", subtype="png", cid="<pic1@customer.test>")
    message.add_attachment(b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice.pdf")
    deliver(connection, received(message.as_bytes(policy=SMTP)))

    stored = InboxMessage.objects.get()
    assert stored.text_body.strip() == "See the picture."
    assert "<script>" not in stored.html_sanitized and "onclick" not in stored.html_sanitized
    assert "data:image/png;base64," + base64.b64encode(b"\x89PNG-bytes").decode() in stored.html_sanitized
    parts = {a.filename or a.content_id: a for a in InboxAttachment.objects.filter(message=stored)}
    assert parts["invoice.pdf"].content == b"%PDF-1.4 invoice" and not parts["invoice.pdf"].inline
    inline = parts["pic1@customer.test"]
    assert inline.inline and inline.content_type == "image/png" and inline.content == b"\x89PNG-bytes"


@pytest.mark.parametrize(
    ("charset", "encoding", "text"),
    [
        ("iso-8859-1", "quoted-printable", "Grüße aus Köln, ça va?"),
        ("windows-1252", "8bit", "Price: 10 € - “quoted”"),
        ("iso-2022-jp", "7bit", "こんにちは、注文について"),
    ],
)
def test_non_utf8_charsets_are_decoded(connection, deliver, charset, encoding, text):
    import quopri

    data = text.encode(charset)
    body = quopri.encodestring(data) if encoding == "quoted-printable" else data
    subject = "=?" + charset + "?B?" + base64.b64encode(text[:8].encode(charset)).decode() + "?="
    raw = (
        f"From: Jürgen <j@customer.test>\r\nTo: support@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <cs-{charset}@customer.test>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode("latin-1") + body + b"\r\n"
    # 8-bit mail goes through an SNS action with Base64 encoding, which keeps every byte.
    payload = received(None)
    payload["content"] = base64.b64encode(raw).decode()
    payload["receipt"]["action"] = {"type": "SNS", "topicArn": TOPIC_ARN, "encoding": "BASE64"}
    deliver(connection, payload)
    stored = InboxMessage.objects.get()
    assert stored.text_body.strip() == text
    assert stored.subject == text[:8]
    assert stored.error == ""


@pytest.mark.django_db(transaction=True)
def test_reply_chain_threads_by_in_reply_to_references_and_rewritten_ses_id(api, account, connection, deliver):
    from config.delivery.engine import Engine

    first = mime(message_id="<first@customer.test>", subject="Order 1234")
    deliver(connection, received(first))
    conversation = Conversation.objects.get()

    # The customer writes again, answering their own first message (In-Reply-To).
    second = mime(message_id="<second@customer.test>", in_reply_to="<first@customer.test>", subject="Re: Order 1234")
    deliver(connection, received(second))

    # The team answers; the simulator sends it and SES (here: the simulator) assigns its own message id.
    reply = api(account).post(f"/v1/conversations/{conversation.pk}/reply", {"text_body": "On its way!"}, format="json")
    assert reply.status_code == 201, reply.content
    Engine().drain(timeout=10)
    email = Email.objects.get(pk=reply.json()["email_id"])
    assert email.status == "sent" and email.ses_message_id

    # The customer's mail client names only SES's rewritten Message-ID of our reply, not any id we wrote.
    third = mime(
        message_id="<third@customer.test>",
        in_reply_to=f"<{email.ses_message_id}@email.amazonses.com>",
        references=f"<{email.ses_message_id}@email.amazonses.com>",
        subject="Re: Order 1234",
    )
    deliver(connection, received(third))
    # A message naming the thread only in References (an older id first).
    fourth = mime(message_id="<fourth@customer.test>", references="<unknown@x.test> <second@customer.test>")
    deliver(connection, received(fourth))
    # And one sent to the conversation's reply address, with no threading headers at all.
    fifth = mime(message_id="<fifth@customer.test>", to=f"reply+{conversation.pk.hex}@example.com")
    deliver(connection, received(fifth, recipients=[f"reply+{conversation.pk.hex}@example.com"]))
    # A stranger's mail starts a conversation of its own.
    deliver(connection, received(mime(sender="bob@other.test", message_id="<bob@other.test>")))

    assert Conversation.objects.count() == 2
    thread = list(conversation.messages.order_by("occurred_at", "id").values_list("message_id", "direction"))
    assert [m for m, _ in thread if m] == [
        "first@customer.test",
        "second@customer.test",
        "third@customer.test",
        "fourth@customer.test",
        "fifth@customer.test",
    ]
    results = list(SnsNotification.objects.order_by("received_at", "id").values_list("result", flat=True))
    assert "by In-Reply-To <first@customer.test>" in results[1]
    assert "by the SES message id of our reply" in results[2]
    assert "by References <second@customer.test>" in results[3]
    assert "by its reply address" in results[4]


@pytest.mark.django_db(transaction=True)
def test_mail_answering_a_sesame_email_starts_a_conversation_linked_to_it(api, account, connection, deliver):
    from config.delivery.engine import Engine

    sent = api(account).post(
        "/v1/emails",
        {"from": "news@example.com", "to": "ada@customer.test", "subject": "Spring sale", "text_body": "20% off"},
        format="json",
    )
    Engine().drain(timeout=10)
    email = Email.objects.get(pk=sent.json()["id"])
    answer = mime(in_reply_to=f"<{email.ses_message_id}@email.amazonses.com>", to="news@example.com")
    deliver(connection, received(answer))
    conversation = Conversation.objects.get()
    assert conversation.started_by_email_id == email.pk


def test_replies_go_to_the_reply_to_address_when_the_mail_has_one(connection, deliver, api, account):
    raw = mime(sender="Shop Bot <noreply@shop.test>", headers={"Reply-To": "Care Team <care@shop.test>"})
    deliver(connection, received(raw))
    conversation = Conversation.objects.get()
    assert conversation.correspondent == "Care Team <care@shop.test>"
    assert conversation.correspondent_email == "care@shop.test"
    reply = api(account).post(f"/v1/conversations/{conversation.pk}/reply", {"text_body": "Hi"}, format="json")
    assert Email.objects.get(pk=reply.json()["email_id"]).to_email == "care@shop.test"
