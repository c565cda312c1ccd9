"""The team inbox in the operator console: the conversation list (search, filters, flags), the thread with
sanitised HTML, the reply, note and status forms, actions, attachments as downloads, and inbound domains."""

from datetime import timedelta

import pytest
from django.utils import timezone

from emails.models import Conversation, ConversationNote, Email, InboundDomain, InboxAttachment, InboxMessage
from tests.emails.inbox_support import conversation_for, mime

pytestmark = pytest.mark.django_db

HTML = '<p onclick="steal()">Hello <b>team</b></p><script>alert("x")</script><img src="https://track.test/p.gif">'


@pytest.fixture
def conversation(account):
    raw = mime(
        subject="Broken blender",
        html=HTML,
        attachments=[("photo.svg", "image/svg+xml", b"<svg onload='alert(1)'/>")],
    )
    return conversation_for(account, raw, verdicts={"spam": "FAIL"})


@pytest.mark.parametrize(
    "query",
    ["", "?status__exact=open", "?flagged__exact=1", "?assigned=none", "?q=ada%40customer", "?q=blender",
     "?q=order+1234"],
)  # fmt: skip
def test_conversation_list_search_and_filters(admin_client, conversation, query):
    response = admin_client.get(f"/admin/emails/conversation/{query}")
    assert response.status_code == 200
    assert "Broken blender" in response.content.decode()


def test_conversation_list_hides_what_does_not_match(admin_client, conversation):
    page = admin_client.get("/admin/emails/conversation/?q=nothing-like-this").content.decode()
    assert "Broken blender" not in page
    assert "Broken blender" not in admin_client.get("/admin/emails/conversation/?status__exact=closed").content.decode()


def test_thread_page_shows_sanitised_html_verdicts_and_downloads(admin_client, conversation):
    page = admin_client.get(f"/admin/emails/conversation/{conversation.pk}/change/").content.decode()
    assert "Broken blender" in page and "Ada Lovelace" in page
    assert 'sandbox=""' in page and "&lt;b&gt;team&lt;/b&gt;" in page  # the sanitised HTML, escaped into srcdoc
    assert "alert(&quot;x&quot;)" not in page and "onclick" not in page and "track.test" not in page
    assert "spam FAIL" in page and "Flagged: spam check failed" in page
    attachment = InboxAttachment.objects.get()
    download = admin_client.get(f"/admin/emails/conversation/attachment/{attachment.pk}/")
    assert download.status_code == 200 and download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"] == 'attachment; filename="photo.svg"'
    assert download.content == b"<svg onload='alert(1)'/>"


def test_reply_note_and_status_forms(admin_client, admin_user, account, conversation):
    from accounts.models import Membership

    Membership.objects.create(account=account, user=admin_user)
    url = f"/admin/emails/conversation/{conversation.pk}/change/"
    replied = admin_client.post(url, {"op": "reply", "text_body": "We will send a new one."})
    assert replied.status_code == 302
    reply = InboxMessage.objects.get(direction="outbound")
    assert reply.email is not None
    assert reply.author == admin_user and reply.email.priority == 1
    assert reply.email.headers["In-Reply-To"].startswith("<")

    admin_client.post(url, {"op": "note", "body": "Warranty case"})
    assert ConversationNote.objects.get().author == admin_user

    until = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    admin_client.post(url, {"op": "update", "status": "snoozed", "snoozed_until": until, "assignee": admin_user.pk})
    conversation.refresh_from_db()
    assert conversation.status == "snoozed" and conversation.assignee == admin_user

    refused = admin_client.post(url, {"op": "update", "status": "snoozed", "snoozed_until": ""}, follow=True)
    assert "Not done: snoozing needs a time in the future" in refused.content.decode()
    page = admin_client.get(url).content.decode()
    assert "We will send a new one." in page and "Warranty case" in page


def test_actions_assign_close_and_reopen(admin_client, admin_user, account, conversation):
    from accounts.models import Membership

    refused = admin_client.post(
        "/admin/emails/conversation/", {"action": "assign_to_me", "_selected_action": [conversation.pk]}, follow=True
    )
    assert "not a member of this account" in refused.content.decode()  # operators assign members of the account
    Membership.objects.create(account=account, user=admin_user)
    url = "/admin/emails/conversation/"
    response = admin_client.post(url, {"action": "assign_to_me", "_selected_action": [conversation.pk]}, follow=True)
    assert "Assigned to you: 1 conversation." in response.content.decode()
    admin_client.post(url, {"action": "close", "_selected_action": [conversation.pk]})
    assert Conversation.objects.get().status == "closed"
    admin_client.post(url, {"action": "reopen", "_selected_action": [conversation.pk]})
    conversation.refresh_from_db()
    assert conversation.status == "open" and conversation.assignee == admin_user


def test_inbound_domain_page_and_provision_action(admin_client, account):
    from tests.emails.factories import sending_connection

    connection = sending_connection(account)
    inbound = InboundDomain.objects.create(account=account, connection=connection, domain="help.acme.test")
    page = admin_client.get("/admin/emails/inbounddomain/").content.decode()
    assert "help.acme.test  MX  10 inbound-smtp.us-east-1.amazonaws.com" in page
    response = admin_client.post(
        "/admin/emails/inbounddomain/", {"action": "provision", "_selected_action": [inbound.pk]}, follow=True
    )
    assert "Receipt rule of help.acme.test: [ok] Simulator" in response.content.decode()
    inbound.refresh_from_db()
    assert inbound.provisioned_at is not None
    assert not Email.objects.exists()
