import csv
import io
import time
from datetime import UTC, datetime, timedelta

import pytest

from contacts.models import Contact, ContactImport, Tag
from tests.contacts.factories import contact_for, event_for, segment_for

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/admin/contacts/contact/",
        "/admin/contacts/tag/",
        "/admin/contacts/segment/",
        "/admin/contacts/contactimport/",
        "/admin/contacts/contactimport/upload/",
    ],
)
def test_contact_pages_load(admin_client, account, url):
    contact_for(account, email="a@example.com", tags=["vip"])
    segment_for(account)
    assert admin_client.get(url).status_code == 200


@pytest.mark.django_db
def test_list_shows_tags_and_filters_by_status_tag_and_search(admin_client, account):
    contact_for(account, email="ada@example.com", full_name="Ada Lovelace", tags=["vip", "red sneakers"])
    contact_for(account, email="bob@example.com", status="unsubscribed")
    contact_for(account, mobile="+442071838750", full_name="Carol")
    page = admin_client.get("/admin/contacts/contact/").content.decode()
    assert "red sneakers, vip" in page
    vip = Tag.objects.get(account=account, key="vip")
    by_tag = admin_client.get(f"/admin/contacts/contact/?tag={vip.pk}").content.decode()
    assert "ada@example.com" in by_tag and "bob@example.com" not in by_tag
    by_status = admin_client.get("/admin/contacts/contact/?status=unsubscribed").content.decode()
    assert "bob@example.com" in by_status and "ada@example.com" not in by_status
    for term, expected in (("ADA@example.com", "ada@example.com"), ("+44 20 7183 8750", "Carol"), ("lovelace", "ada@")):
        found = admin_client.get("/admin/contacts/contact/", {"q": term}).content.decode()
        assert expected in found, term


@pytest.mark.django_db
def test_timeline_inline_is_newest_first_and_paged_by_keyset(admin_client, account):
    contact = contact_for(account, email="a@example.com")
    for n in range(30):
        event_for(contact, f"event-{n:02d}", at=T0 + timedelta(minutes=n))
    page = admin_client.get(f"/admin/contacts/contact/{contact.pk}/change/").content.decode()
    assert page.index("event-29") < page.index("event-05")
    assert "event-04" not in page and "Older events" in page
    cursor = page.split("timeline_before=")[1].split('"')[0]
    older = admin_client.get(f"/admin/contacts/contact/{contact.pk}/change/?timeline_before={cursor}").content.decode()
    assert "event-04" in older and "event-00" in older and "event-05" not in older and "Older events" not in older
    saved = admin_client.post(
        f"/admin/contacts/contact/{contact.pk}/change/",
        {
            "account": account.pk,
            "email": "a@example.com",
            "status": "subscribed",
            "full_name": "Renamed",
            "attributes": "{}",
            "events-TOTAL_FORMS": "25",
            "events-INITIAL_FORMS": "25",
            "events-MIN_NUM_FORMS": "0",
            "events-MAX_NUM_FORMS": "1000",
        },
    )
    assert saved.status_code == 302
    contact.refresh_from_db()
    assert contact.full_name == "Renamed"


@pytest.mark.django_db
def test_tag_actions_add_and_remove_with_counts(admin_client, account):
    a = contact_for(account, email="a@example.com")
    b = contact_for(account, email="b@example.com", tags=["old"])
    form = admin_client.post("/admin/contacts/contact/", {"action": "add_tags", "_selected_action": [a.pk, b.pk]})
    assert form.status_code == 200 and "Add tags" in form.content.decode()
    done = admin_client.post(
        "/admin/contacts/contact/",
        {"action": "add_tags", "_selected_action": [a.pk, b.pk], "tags": "vip, Spring", "apply": "1"},
        follow=True,
    )
    assert "Tagged 2 contact(s)" in done.content.decode()
    admin_client.post(
        "/admin/contacts/contact/",
        {"action": "remove_tags", "_selected_action": [b.pk], "tags": "old,vip", "apply": "1"},
    )
    counts = dict(Tag.objects.filter(account=account).values_list("key", "contact_count"))
    assert counts == {"old": 0, "vip": 1, "spring": 2}


@pytest.mark.django_db
def test_recount_action_repairs_tag_counts(admin_client, account):
    contact_for(account, email="a@example.com", tags=["vip"])
    Tag.objects.filter(account=account).update(contact_count=42)
    vip = Tag.objects.get(account=account)
    response = admin_client.post(
        "/admin/contacts/tag/", {"action": "recount", "_selected_action": [vip.pk]}, follow=True
    )
    assert "Recounted 1 tag(s)" in response.content.decode()
    vip.refresh_from_db()
    assert vip.contact_count == 1


@pytest.mark.django_db
def test_delete_action_keeps_tag_counts(admin_client, account):
    a = contact_for(account, email="a@example.com", tags=["vip"])
    response = admin_client.post(
        "/admin/contacts/contact/", {"action": "delete_contacts", "_selected_action": [a.pk]}, follow=True
    )
    assert "Deleted 1 contact(s)" in response.content.decode()
    assert Tag.objects.get(account=account, key="vip").contact_count == 0


@pytest.mark.django_db
def test_segment_page_shows_its_count_and_exports_csv(admin_client, account):
    contact_for(account, email="a@example.com", tags=["vip"], attributes={"plan": "pro"}, dob="1990-10-10")
    contact_for(account, email="b@example.com", tags=["vip"])
    contact_for(account, email="c@example.com")
    segment = segment_for(account, name="VIPs", tags=["vip"])
    listing = admin_client.get("/admin/contacts/segment/").content.decode()
    assert f"?segment={segment.pk}" in listing and ">2</a>" in listing
    members = admin_client.get(f"/admin/contacts/contact/?segment={segment.pk}").content.decode()
    assert "a@example.com" in members and "c@example.com" not in members
    response = admin_client.post("/admin/contacts/segment/", {"action": "export_csv", "_selected_action": [segment.pk]})
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["email"], r["tags"], r["plan"], r["dob"]) for r in rows] == [
        ("a@example.com", "vip", "pro", "10-10-1990"),
        ("b@example.com", "vip", "", ""),
    ]


@pytest.mark.workers
def test_upload_page_imports_in_a_worker_with_progress_and_error_file(admin_client, account, celery_worker):
    upload = io.BytesIO(b"email,full_name,tags\nada@example.com,Ada,vip\nnot-an-email,Bad,\nbob@example.com,Bob,\n")
    upload.name = "list.csv"
    response = admin_client.post(
        "/admin/contacts/contactimport/upload/",
        {"account": account.pk, "file": upload, "tags": "march", "default_region": ""},
    )
    assert response.status_code == 302
    job = ContactImport.objects.get()
    deadline = time.monotonic() + 30
    while job.status not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        job.refresh_from_db()
    assert (job.status, job.created_count, job.error_count) == ("done", 2, 1)
    page = admin_client.get(response["Location"]).content.decode()
    assert "100%" in page and "Download 1 bad row(s)" in page
    errors = admin_client.get(f"/admin/contacts/contactimport/{job.pk}/errors.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(errors.streaming_content).decode())))
    assert [(r["row"], r["column"], r["value"]) for r in rows] == [("3", "email", "not-an-email")]
    assert set(Contact.objects.filter(account=account).values_list("email", flat=True)) == {
        "ada@example.com",
        "bob@example.com",
    }
    assert Tag.objects.get(account=account, key="march").contact_count == 2
