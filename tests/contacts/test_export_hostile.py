"""Exports are opened in spreadsheets: no cell may run as a formula or carry a control character (OWASP's CSV
injection rule), and the file still imports back unchanged."""

import csv
import io

import pytest
from django.core.management import call_command

from contacts.csv_import import contacts_import
from contacts.models import Contact, Tag
from tests.contacts.factories import contact_for, segment_for

pytestmark = pytest.mark.django_db


def export(account, *args):
    out = io.StringIO()
    call_command("export_contacts", str(account.pk), *args, stdout=out)
    return out.getvalue()


def test_cells_that_would_run_as_formulas_are_quoted_and_control_characters_stripped(account):
    contact_for(
        account,
        email="a@example.com",
        mobile="+442071838750",
        full_name="=1+1",
        city="+cmd|' /C calc'!A0",
        gender="-2+3",
        country="\x1b[31mred\x07",
        tags=["@x"],
        attributes={"=key": "@SUM(A1)", "tab": "\tstart", "cr": "\rstart", "seats": -2, "plan": "pro", "note": "a\nb"},
    )
    text = export(account)
    assert "\x1b" not in text and "\x07" not in text
    rows = list(csv.reader(io.StringIO(text)))
    header, row = rows[0], rows[1]
    cells = dict(zip(header, row, strict=True))
    assert "'=key" in header
    assert cells["full_name"] == "'=1+1"
    assert cells["city"] == "'+cmd|' /C calc'!A0"
    assert cells["gender"] == "'-2+3"
    assert cells["country"] == "[31mred"
    assert cells["tags"] == "'@x"
    assert cells["'=key"] == "'@SUM(A1)"
    assert (cells["tab"], cells["cr"]) == ("'\tstart", "'\rstart")
    # Plain numbers are read as numbers, never as formulas: E.164 mobiles and -2 stay as they are.
    assert (cells["mobile"], cells["seats"]) == ("+442071838750", "-2")
    assert (cells["email"], cells["plan"], cells["note"]) == ("a@example.com", "pro", "a\nb")


def test_a_quoted_export_imports_back_unchanged(account, other_account):
    contact_for(
        account,
        email="a@example.com",
        mobile="+442071838750",
        full_name="=1+1",
        city="-2+3",
        tags=["+cmd"],
        attributes={"=key": "@x", "seats": "-2"},
    )
    report = contacts_import(
        account_id=other_account.pk, source=io.BytesIO(export(account).encode()), errors=io.StringIO()
    )
    assert (report.created, report.errors) == (1, 0)
    copy = Contact.objects.get(account=other_account)
    assert (copy.full_name, copy.city, copy.mobile) == ("=1+1", "-2+3", "+442071838750")
    assert (copy.attributes["=key"], copy.attributes["seats"]) == ("@x", "-2")
    assert list(Tag.objects.filter(pk__in=copy.tag_ids).values_list("name", flat=True)) == ["+cmd"]


def test_the_admin_segment_export_is_quoted_too(admin_client, account):
    contact_for(account, email="a@example.com", full_name='=HYPERLINK("http://evil")', tags=["vip"])
    segment = segment_for(account, tags=["vip"])
    response = admin_client.post("/admin/contacts/segment/", {"action": "export_csv", "_selected_action": [segment.pk]})
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows[0]["full_name"] == '\'=HYPERLINK("http://evil")'
