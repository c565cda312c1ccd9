import csv
import io

import pytest
from django.core.management import CommandError, call_command

from contacts.csv_import import contacts_import
from contacts.models import Contact
from tests.contacts.factories import contact_for, segment_for

pytestmark = pytest.mark.django_db


def export(*args):
    out = io.StringIO()
    call_command("export_contacts", *args, stdout=out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_export_of_a_segment_streams_its_contacts_and_imports_back(account, other_account):
    contact_for(account, email="a@example.com", full_name="A", tags=["vip", "x"], attributes={"plan": "pro"})
    contact_for(account, email="b@example.com", tags=["other"])
    contact_for(other_account, email="z@example.com", tags=["vip"])
    segment = segment_for(account, tags=["vip"])
    rows = export(str(account.pk), "--segment", str(segment.pk))
    assert [(r["email"], r["full_name"], r["tags"], r["plan"]) for r in rows] == [
        ("a@example.com", "A", "vip,x", "pro")
    ]
    assert [r["email"] for r in export(str(account.pk), "--filter", "tags_none=vip")] == ["b@example.com"]
    source = io.StringIO()
    csv.DictWriter(source, fieldnames=rows[0].keys()).writeheader()
    csv.DictWriter(source, fieldnames=rows[0].keys()).writerows(rows)
    report = contacts_import(
        account_id=other_account.pk, source=io.BytesIO(source.getvalue().encode()), errors=io.StringIO()
    )
    assert report.errors == 0
    copied = Contact.objects.get(account=other_account, email="a@example.com")
    assert (copied.full_name, copied.attributes["plan"]) == ("A", "pro")


def test_export_refuses_bad_filters(account):
    with pytest.raises(CommandError, match="tag"):
        export(str(account.pk), "--filter", "tag=vip")
