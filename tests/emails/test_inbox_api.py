"""/v1/conversations: reading, answering (the sent MIME carries the threading headers), status, assignee, notes,
search, and tenancy."""

from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Membership
from config.delivery.engine import Engine
from emails.inbox.services import conversations_wake
from emails.models import Conversation, Email, SimulatedMessage, Suppression
from tests.emails.inbox_support import conversation_for, mime

pytestmark = pytest.mark.django_db


def _member(account, email="jon@acme.test"):
    user = get_user_model().objects.create_user(username=email, email=email, password="x")
    account_services.membership_add(account=account, user=user, role=Membership.Role.MEMBER)
    return user


@pytest.mark.django_db(transaction=True)
def test_reply_from_the_api_carries_threading_headers_in_the_sent_mime(api, account):
    first = mime(message_id="<q1@customer.test>", subject="Refund", to="support@example.com")
    conversation = conversation_for(account, first, recipients=["support@example.com"])
    second = mime(
        message_id="<q2@customer.test>", in_reply_to="<q1@customer.test>", references="<q1@customer.test>",
        subject="Re: Refund",
    )  # fmt: skip
    assert conversation_for(account, second).pk == conversation.pk

    response = api(account).post(
        f"/v1/conversations/{conversation.pk}/reply",
        {"text_body": "Refunded today.", "html_body": "<p>Refunded <b>today</b>.</p><script>x()</script>"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["direction"] == "outbound" and body["from"] == "support@example.com"
    assert body["in_reply_to"] == "q2@customer.test"
    assert body["references"] == ["q1@customer.test", "q2@customer.test"]
    assert "<script>" not in body["html"]

    email = Email.objects.get(pk=body["email_id"])
    assert email.priority == 1 and email.status == "queued"
    Engine().drain(timeout=10)
    sent = SimulatedMessage.objects.get(email=email)
    mail = message_from_bytes(bytes(sent.raw), policy=default_policy)
    assert mail["In-Reply-To"] == "<q2@customer.test>"
    assert mail["References"] == "<q1@customer.test> <q2@customer.test>"
    assert mail["From"] == "support@example.com"
    assert mail["To"] == "Ada Lovelace <ada@customer.test>"
    assert mail["Reply-To"] == f"reply+{conversation.pk.hex}@example.com"
    assert mail["Subject"] == "Re: Refund"
    assert sent.destinations == ["ada@customer.test"]
    detail = api(account).get(f"/v1/conversations/{conversation.pk}").json()
    assert [m["direction"] for m in detail["messages"]] == ["inbound", "inbound", "outbound"]
    assert detail["messages"][-1]["email_status"] == "sent"


def test_reply_to_a_suppressed_correspondent_is_not_sent(api, account):
    conversation = conversation_for(account)
    Suppression.objects.create(account=account, address="ada@customer.test", reason="complaint")
    response = api(account).post(f"/v1/conversations/{conversation.pk}/reply", {"text_body": "Hi"}, format="json")
    assert response.status_code == 201
    assert Email.objects.get(pk=response.json()["email_id"]).status == "suppressed"


def test_reply_from_an_unverified_team_address_is_a_422_saying_why(api, account):
    conversation = conversation_for(account, mime(to="help@elsewhere.test"), recipients=["help@elsewhere.test"])
    response = api(account).post(f"/v1/conversations/{conversation.pk}/reply", {"text_body": "Hi"}, format="json")
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body"] and "help@elsewhere.test is not a verified identity" in problem["msg"]
    assert not Email.objects.exists()


def test_empty_reply_and_unknown_fields_are_422(api, account):
    conversation = conversation_for(account)
    client = api(account)
    empty = client.post(f"/v1/conversations/{conversation.pk}/reply", {"text_body": "  "}, format="json")
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "text_body"]
    typo = client.post(f"/v1/conversations/{conversation.pk}/reply", {"txt": "Hi"}, format="json")
    assert typo.status_code == 422
    assert {tuple(e["loc"]) for e in typo.json()["detail"]} == {("body", "txt"), ("body", "text_body")}


def test_assign_snooze_close_and_wake(api, account):
    conversation = conversation_for(account)
    _member(account)
    client = api(account)
    url = f"/v1/conversations/{conversation.pk}"
    assigned = client.patch(url, {"assignee": "jon@acme.test"}, format="json")
    assert assigned.status_code == 200 and assigned.json()["assignee"] == "jon@acme.test"
    stranger = client.patch(url, {"assignee": "someone@else.test"}, format="json")
    assert stranger.status_code == 422 and "jon@acme.test" in stranger.json()["detail"][0]["msg"]
    no_time = client.patch(url, {"status": "snoozed"}, format="json")
    assert no_time.status_code == 422 and no_time.json()["detail"][0]["loc"] == ["body", "snoozed_until"]
    until = timezone.now() + timedelta(hours=2)
    snoozed = client.patch(url, {"status": "snoozed", "snoozed_until": until.isoformat()}, format="json")
    assert snoozed.status_code == 200 and snoozed.json()["status"] == "snoozed"
    assert client.get("/v1/conversations?status=snoozed").json()["results"][0]["id"] == str(conversation.pk)
    assert conversations_wake(now=until + timedelta(seconds=1)) == 1
    assert client.get(url).json()["status"] == "open"
    closed = client.patch(url, {"status": "closed", "assignee": None}, format="json")
    assert closed.json()["status"] == "closed" and closed.json()["assignee"] is None


def test_new_mail_reopens_a_closed_conversation(api, account):
    conversation = conversation_for(account, mime(message_id="<a1@customer.test>"))
    Conversation.objects.filter(pk=conversation.pk).update(status="closed")
    conversation_for(account, mime(message_id="<a2@customer.test>", in_reply_to="<a1@customer.test>"))
    assert api(account).get(f"/v1/conversations/{conversation.pk}").json()["status"] == "open"


def test_notes(api, account):
    conversation = conversation_for(account)
    client = api(account)
    added = client.post(f"/v1/conversations/{conversation.pk}/notes", {"body": "VIP customer"}, format="json")
    assert added.status_code == 201 and added.json()["author"] == "API token “test”"
    assert [n["body"] for n in client.get(f"/v1/conversations/{conversation.pk}/notes").json()] == ["VIP customer"]
    assert client.get(f"/v1/conversations/{conversation.pk}").json()["notes"][0]["body"] == "VIP customer"
    blank = client.post(f"/v1/conversations/{conversation.pk}/notes", {"body": " "}, format="json")
    assert blank.status_code == 422


def test_search_by_address_subject_and_text_and_filters(api, account):
    _member(account)
    refund = conversation_for(account, mime(sender="ada@customer.test", subject="Refund please", text="Order 77"))
    conversation_for(account, mime(sender="bob@other.test", subject="Hello", text="Just saying hi"))
    client = api(account)
    client.patch(f"/v1/conversations/{refund.pk}", {"assignee": "jon@acme.test"}, format="json")

    def ids(query):
        response = client.get(f"/v1/conversations?{query}")
        assert response.status_code == 200, response.content
        return [c["id"] for c in response.json()["results"]]

    assert ids("q=ada@customer") == [str(refund.pk)]
    assert ids("q=refund") == [str(refund.pk)]
    assert ids("q=order%2077") == [str(refund.pk)]
    assert ids("assignee=jon@acme.test") == [str(refund.pk)]
    assert len(ids("assignee=none")) == 1
    assert len(ids("status=open")) == 2
    assert client.get("/v1/conversations?stauts=open").status_code == 422


def test_two_accounts_never_see_each_others_conversations(api, account, other_account):
    mine = conversation_for(account)
    theirs = conversation_for(other_account, mime(sender="eve@customer.test"))
    client = api(account)
    assert [c["id"] for c in client.get("/v1/conversations").json()["results"]] == [str(mine.pk)]
    for method, path, body in (
        ("get", f"/v1/conversations/{theirs.pk}", None),
        ("patch", f"/v1/conversations/{theirs.pk}", {"status": "closed"}),
        ("post", f"/v1/conversations/{theirs.pk}/reply", {"text_body": "Hi"}),
        ("post", f"/v1/conversations/{theirs.pk}/notes", {"body": "x"}),
    ):
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 404, (method, path)
    theirs.refresh_from_db()
    assert theirs.status == "open" and not theirs.notes.exists() and not Email.objects.exists()
