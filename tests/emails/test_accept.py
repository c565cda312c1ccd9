import threading
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from emails import services
from emails.models import BlockedDomain, Email, Suppression
from tests.emails.factories import email_body, sending_connection

pytestmark = pytest.mark.django_db


def test_accepted_email_answers_pendable_ids_and_is_queued(client_for, account):
    sending_connection(account)
    response = client_for.post("/v1/emails", email_body(priority=5, tags=["receipt"]), format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["pendable_id"] == body["id"]
    assert body["status"] == "queued"
    received = parse_datetime(body["pendable_received_on"])
    assert received is not None and received <= timezone.now()
    email = Email.objects.get(pk=body["id"])
    assert (email.account, email.priority, email.tags, email.to_address) == (
        account,
        5,
        ["receipt"],
        "Jon Doe <jon@example.net>",
    )


def test_pendable_path_without_version_works(client_for, account):
    sending_connection(account)
    response = client_for.post("/emails", email_body(), format="json")
    assert response.status_code == 200
    assert Email.objects.filter(pk=response.json()["pendable_id"]).exists()


def test_idn_domains_are_accepted_in_ascii_form(client_for, account):
    sending_connection(account)
    response = client_for.post("/v1/emails", email_body(to="Jörg <joerg@bücher.de>"), format="json")
    assert response.status_code == 200
    assert Email.objects.get().to_address.endswith("<joerg@xn--bcher-kva.de>")


def test_scheduled_email_is_stored_scheduled(client_for, account):
    sending_connection(account)
    when = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    response = client_for.post("/v1/emails", email_body(schedule_send_at=when.isoformat()), format="json")
    assert response.json()["status"] == "scheduled"
    assert parse_datetime(response.json()["send_at"]) == when


def test_repeated_client_email_id_is_409_with_the_first_id(client_for, account):
    sending_connection(account)
    first = client_for.post("/v1/emails", email_body(client_email_id="order-1"), format="json").json()
    again = client_for.post("/v1/emails", email_body(client_email_id="order-1", subject="Other"), format="json")
    assert again.status_code == 409
    assert again.json()["pendable_id"] == first["pendable_id"]
    assert Email.objects.filter(client_email_id="order-1").count() == 1


@pytest.mark.django_db(transaction=True)
def test_racing_requests_with_one_client_email_id_store_one_email(api, account):
    sending_connection(account)
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def post() -> None:
        client = api(account)
        barrier.wait()
        statuses.append(client.post("/v1/emails", email_body(client_email_id="race"), format="json").status_code)
        db_connection.close()

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [409] * 7
    assert Email.objects.filter(client_email_id="race").count() == 1


def test_same_client_email_id_in_another_account_is_fine(client_for, api, account, other_account):
    sending_connection(account)
    sending_connection(other_account)
    assert client_for.post("/v1/emails", email_body(client_email_id="x"), format="json").status_code == 200
    assert api(other_account).post("/v1/emails", email_body(client_email_id="x"), format="json").status_code == 200


def test_suppressed_recipients_are_dropped_and_all_suppressed_is_never_sent(client_for, account):
    sending_connection(account)
    services.suppression_add(account=account, address="JON@example.net", reason=Suppression.Reason.HARD_BOUNCE)
    partly = client_for.post("/v1/emails", email_body(cc=["ok@example.net"]), format="json").json()
    assert partly["status"] == "queued"
    assert Email.objects.get(pk=partly["id"]).dropped_recipients == [
        {"address": "jon@example.net", "reason": "hard_bounce"}
    ]
    alone = client_for.post("/v1/emails", email_body(), format="json").json()
    assert alone["status"] == "suppressed"
    detail = client_for.get(f"/v1/emails/{alone['id']}").json()
    assert any(e["type"] == "dropped" and "hard bounce" in e["detail"] for e in detail["timeline"])


def test_disposable_and_blocked_domains_are_dropped_as_blocked_domain(client_for, account):
    sending_connection(account)
    BlockedDomain.objects.create(account=account, domain="spammy.example")
    response = client_for.post(
        "/v1/emails", email_body(to="x@mailinator.com", cc=["y@mx.spammy.example", "z@example.net"]), format="json"
    )
    email = Email.objects.get(pk=response.json()["id"])
    assert email.status == Email.Status.QUEUED
    assert email.dropped_recipients == [
        {"address": "x@mailinator.com", "reason": "blocked_domain"},
        {"address": "y@mx.spammy.example", "reason": "blocked_domain"},
    ]


def test_a_blocked_parent_domain_drops_only_its_recipients_and_other_blocked_domains_drop_nobody(
    client_for, account
):
    sending_connection(account)
    BlockedDomain.objects.create(account=account, domain="spammy.example")
    BlockedDomain.objects.create(account=account, domain="elsewhere.example")
    mixed = client_for.post("/v1/emails", email_body(to="y@mx.spammy.example", cc=["z@example.net"]), format="json")
    email = Email.objects.get(pk=mixed.json()["id"])
    assert (email.status, email.cost) == (Email.Status.QUEUED, 1)
    assert email.dropped_recipients == [{"address": "y@mx.spammy.example", "reason": "blocked_domain"}]
    clean = client_for.post("/v1/emails", email_body(to="z@example.net"), format="json").json()
    assert Email.objects.get(pk=clean["id"]).dropped_recipients == []


def test_batch_accepts_valid_items_and_reports_the_others_in_order(client_for, account):
    sending_connection(account)
    items = [
        email_body(client_email_id="b-1"),
        email_body(to=None),
        email_body(client_email_id="b-1"),
        email_body(priority=1),
    ]
    response = client_for.post("/v1/emails/batch", {"emails": items}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 2)
    results = body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert results[0]["status"] == "queued" and results[3]["status"] == "queued"
    assert results[1]["errors"][0]["loc"] == ["body", "emails", 1, "to"]
    assert results[2]["errors"][0]["type"] == "value_error.duplicate"
    assert Email.objects.filter(account=account).count() == 2


def test_batch_reports_client_email_ids_used_by_earlier_requests(client_for, account):
    sending_connection(account)
    first = client_for.post("/v1/emails", email_body(client_email_id="old"), format="json").json()
    body = client_for.post("/v1/emails/batch", {"emails": [email_body(client_email_id="old")]}, format="json").json()
    assert body["results"][0]["status"] == "duplicate"
    assert body["results"][0]["pendable_id"] == first["pendable_id"]


@pytest.mark.parametrize("payload", [{"emails": []}, {"emails": "x"}, {"emails": [{}] * 501}, {}])
def test_batch_size_is_checked(client_for, account, payload):
    response = client_for.post("/v1/emails/batch", payload, format="json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "emails"]


def test_list_filters(client_for, account):
    sending_connection(account)
    post = lambda **kw: client_for.post("/v1/emails", email_body(**kw), format="json").json()["id"]  # noqa: E731
    a = post(tags=["vip"], custom_fields={"project_code": "abc", "internal_id": 123}, subject="Invoice 1")
    b = post(tags=["news"], custom_fields={"project_code": "xyz"}, to="ann@example.org")
    c = post(client_email_id="c-1", priority=3)

    def ids(query: str) -> set[str]:
        response = client_for.get(f"/v1/emails?{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids("tag=vip") == {a}
    assert ids("custom_fields__project_code=abc") == {a}
    assert ids("custom_fields__internal_id=123") == {a}
    assert ids("to=ann@example.org") == {b}
    assert ids("client_email_id=c-1") == {c}
    assert ids("q=invoice") == {a}
    assert ids("status=queued") == {a, b, c}
    assert ids("status=sent") == set()
    assert ids(f"created_after={(timezone.now() - timedelta(minutes=1)).isoformat().replace('+', '%2B')}") == {a, b, c}
    bad = client_for.get("/v1/emails?status=nope")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "status"]


def test_list_is_cursor_paginated_newest_first(client_for, account):
    sending_connection(account)
    ids = [client_for.post("/v1/emails", email_body(), format="json").json()["id"] for _ in range(3)]
    page = client_for.get("/v1/emails?limit=2").json()
    assert [row["id"] for row in page["results"]] == ids[::-1][:2]
    rest = client_for.get(page["next"]).json()
    assert [row["id"] for row in rest["results"]] == ids[:1]


def test_detail_shows_bodies_and_timeline(client_for, account):
    sending_connection(account)
    email_id = client_for.post(
        "/v1/emails",
        email_body(
            html_body="<b>Hi</b>",
            attachments=[{"filename": "a.txt", "content_type": "text/plain", "content_base64": "aGVsbG8="}],
        ),
        format="json",
    ).json()["id"]
    detail = client_for.get(f"/v1/emails/{email_id}").json()
    assert detail["html_body"] == "<b>Hi</b>"
    assert detail["attachments"] == [{"filename": "a.txt", "content_type": "text/plain", "size": 5}]
    assert [entry["type"] for entry in detail["timeline"]] == ["accepted"]


def test_cancel_before_sending_and_not_after(client_for, account):
    sending_connection(account)
    email_id = client_for.post("/v1/emails", email_body(), format="json").json()["id"]
    cancelled = client_for.post(f"/v1/emails/{email_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client_for.post(f"/v1/emails/{email_id}/cancel")
    assert again.status_code == 409
    assert "cancelled" in again.json()["detail"]


def test_resend_copies_the_email_and_links_it(client_for, account):
    sending_connection(account)
    original = client_for.post("/v1/emails", email_body(cc=["c@example.net"], tags=["t"]), format="json").json()
    Email.objects.filter(pk=original["id"]).update(status=Email.Status.DELIVERED)
    resent = client_for.post(f"/v1/emails/{original['id']}/resend")
    assert resent.status_code == 200
    copy = Email.objects.get(pk=resent.json()["id"])
    assert copy.pk != original["id"]
    assert str(copy.resent_from_id) == original["id"]
    assert (copy.cc, copy.tags, copy.status) == (["c@example.net"], ["t"], Email.Status.QUEUED)


def test_resend_of_a_pruned_email_is_422(client_for, account):
    sending_connection(account)
    email_id = client_for.post("/v1/emails", email_body(), format="json").json()["id"]
    Email.objects.filter(pk=email_id).update(body_pruned_at=timezone.now(), text_body=None, status="sent")
    response = client_for.post(f"/v1/emails/{email_id}/resend")
    assert response.status_code == 422
    assert "no longer stored" in response.json()["detail"][0]["msg"]


def test_bodies_beyond_the_plans_storage_limit_are_pruned(account, client_for):
    sending_connection(account)
    account.plan.email_storage_limit = 2
    account.plan.save()
    ids = [client_for.post("/v1/emails", email_body(), format="json").json()["id"] for _ in range(4)]
    Email.objects.update(status=Email.Status.DELIVERED)
    assert services.email_bodies_prune() == 2
    kept = {str(e.pk): e.text_body for e in Email.objects.all()}
    assert kept[ids[0]] is None and kept[ids[1]] is None
    assert kept[ids[2]] and kept[ids[3]]
    assert client_for.get(f"/v1/emails/{ids[0]}").json()["body_pruned_at"] is not None


def test_suppression_api(client_for, account):
    created = client_for.post("/v1/suppressions", {"address": "Gone@Example.net"}, format="json")
    assert created.status_code == 201
    assert created.json()["address"] == "gone@example.net" and created.json()["reason"] == "manual"
    listed = client_for.get("/v1/suppressions?address=gone@example.net").json()["results"]
    assert [row["id"] for row in listed] == [created.json()["id"]]
    assert client_for.delete(f"/v1/suppressions/{created.json()['id']}").status_code == 204
    assert not Suppression.objects.exists()
    bad = client_for.post("/v1/suppressions", {"address": "nope", "reason": "why"}, format="json")
    assert {tuple(e["loc"]) for e in bad.json()["detail"]} == {("body", "address"), ("body", "reason")}


def test_blocked_domain_api(client_for, account):
    created = client_for.post("/v1/blocked-domains", {"domain": "Spammy.Example"}, format="json")
    assert created.status_code == 201 and created.json()["domain"] == "spammy.example"
    assert client_for.post("/v1/blocked-domains", {"domain": "not a domain"}, format="json").status_code == 422
    assert client_for.delete(f"/v1/blocked-domains/{created.json()['id']}").status_code == 204


def test_timeline_merges_milestones_and_events_in_time_order(client_for, account):
    from emails.models import EmailEvent

    sending_connection(account)
    email_id = client_for.post("/v1/emails", email_body(), format="json").json()["id"]
    email = Email.objects.get(pk=email_id)
    sent_at = email.created_at + timedelta(seconds=2)
    Email.objects.filter(pk=email_id).update(status="delivered", sent_at=sent_at, ses_message_id="m-1")
    for offset, kind in ((1, "send"), (3, "delivery")):
        EmailEvent.objects.create(
            account=account,
            email=email,
            source="ses",
            event_type=kind,
            occurred_at=email.created_at + timedelta(seconds=offset),
        )
    timeline = client_for.get(f"/v1/emails/{email_id}").json()["timeline"]
    assert [entry["type"] for entry in timeline] == ["accepted", "send", "sent", "delivery"]
