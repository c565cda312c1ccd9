import csv
import io

import pytest
from django.core.management import CommandError, call_command

from contacts.csv_import import contacts_import
from contacts.csv_import.jobs import blob_chunks
from contacts.models import Contact, ContactImport, ContactImportBlob, Tag
from tests.contacts.factories import contact_for

pytestmark = pytest.mark.django_db

# 10 good rows and 5 faulty ones: a bad mobile (imported by its email without it), bad email, bad date, duplicate in
# file, empty key.
CSV = """email,mobile,full_name,dob,city,plan,tags
ada@example.com,+442071838750,Ada,10-12-1990,London,pro,"vip, red sneakers"
Bob@Example.com,,Bob,1985-01-31,Leeds,free,newsletter
carol@example.com,+918098763849,Carol,,Pune,,
dan@example.com,,Dan,,,,VIP
erin@example.com,,Erin,,,team,
frank@example.com,,Frank,,,,
grace@example.com,,Grace,,,,
heidi@example.com,,Heidi,,,,
ivan@example.com,,Ivan,,,,
,+14155552671,Judy,,,,sms-only
bad@example.com,+44 20 7183 8750,Bad Mobile,,,,
not-an-email,,Bad Email,,,,
kim@example.com,,Bad Date,31-02-1990,,,
bob@example.com,,Duplicate Bob,,,,
,,No Key,,,,
"""


def run(account, text=CSV, **options):
    errors = io.StringIO()
    report = contacts_import(account_id=account.pk, source=io.BytesIO(text.encode()), errors=errors, **options)
    errors.seek(0)
    return report, list(csv.DictReader(errors))


def snapshot(account):
    return sorted(
        Contact.objects.filter(account=account).values_list(
            "email", "mobile", "full_name", "dob", "city", "attributes", "tag_ids", "updated_at"
        ),
        key=str,
    )


@pytest.mark.parametrize("bulk", [True, False], ids=["postgres-copy", "row-by-row"])
def test_ten_good_rows_kept_and_five_bad_ones_reported_by_row(account, bulk):
    report, errors = run(account, bulk=bulk)
    assert (report.rows, report.created, report.errors) == (15, 11, 5)
    assert [(e["row"], e["column"]) for e in errors] == [
        ("12", "mobile"),
        ("13", "email"),
        ("14", "dob"),
        ("15", "email"),
        ("16", "email"),
    ]
    reasons = {e["row"]: e["reason"] for e in errors}
    assert "+442071838750" in reasons["12"] and reasons["12"].endswith("Imported by email without this mobile.")
    assert Contact.objects.get(account=account, email="bad@example.com").mobile is None
    assert "DD-MM-YYYY" in reasons["14"]
    assert reasons["15"] == "Duplicate in this file: the same email as row 3."
    assert reasons["16"].startswith("Empty key")
    ada = Contact.objects.get(account=account, email="ada@example.com")
    assert (ada.mobile, ada.full_name, str(ada.dob), ada.city, ada.attributes) == (
        "+442071838750",
        "Ada",
        "1990-12-10",
        "London",
        {"plan": "pro"},
    )
    assert Contact.objects.get(account=account, email="bob@example.com").full_name == "Bob"
    assert Contact.objects.get(account=account, mobile="+14155552671").email is None
    counts = dict(Tag.objects.filter(account=account).values_list("name", "contact_count"))
    assert counts == {"vip": 2, "red sneakers": 1, "newsletter": 1, "sms-only": 1}


@pytest.mark.parametrize("bulk", [True, False], ids=["postgres-copy", "row-by-row"])
def test_rerunning_the_same_file_changes_nothing(account, bulk):
    run(account, bulk=bulk)
    before = snapshot(account)
    counts = list(Tag.objects.filter(account=account).values_list("name", "contact_count"))
    report, _ = run(account, bulk=bulk, update_existing=True)
    assert (report.created, report.updated, report.unchanged, report.errors) == (0, 0, 11, 5)
    assert snapshot(account) == before
    assert list(Tag.objects.filter(account=account).values_list("name", "contact_count")) == counts


@pytest.mark.parametrize("bulk", [True, False], ids=["postgres-copy", "row-by-row"])
def test_existing_contacts_gain_tags_and_fields_only_with_update_existing(account, bulk):
    old = contact_for(account, email="ada@example.com", full_name="Old Ada", tags=["legacy"])
    run(account, "email,full_name,tags\nada@example.com,New Ada,fresh\n", bulk=bulk, tags=["march"])
    old.refresh_from_db()
    names = set(Tag.objects.filter(pk__in=old.tag_ids).values_list("name", flat=True))
    assert (old.full_name, names) == ("Old Ada", {"legacy", "fresh", "march"})
    report, _ = run(account, "email,full_name\nada@example.com,New Ada\n", bulk=bulk, update_existing=True)
    old.refresh_from_db()
    assert (report.updated, old.full_name) == (1, "New Ada")
    assert Tag.objects.get(account=account, key="march").contact_count == 1


@pytest.mark.parametrize("bulk", [True, False], ids=["postgres-copy", "row-by-row"])
def test_national_mobiles_are_normalised_with_a_default_region(account, bulk):
    report, errors = run(
        account, "mobile,name\n020 7183 8750,A\n07911 123456,B\n12,C\n", bulk=bulk, default_region="GB"
    )
    assert report.created == 2
    assert set(Contact.objects.filter(account=account).values_list("mobile", flat=True)) == {
        "+442071838750",
        "+447911123456",
    }
    assert [(e["row"], e["column"], e["value"]) for e in errors] == [("4", "mobile", "12")]


def test_another_accounts_contacts_are_never_touched(account, other_account):
    theirs = contact_for(other_account, email="ada@example.com", full_name="Theirs")
    run(account)
    theirs.refresh_from_db()
    assert theirs.full_name == "Theirs"
    assert Contact.objects.filter(account=account, email="ada@example.com").exists()


def test_a_file_without_a_key_column_is_refused_whole(account):
    with pytest.raises(Exception, match="needs an email or a mobile column"):
        run(account, "name,city\nA,B\n")


def test_command_imports_shows_progress_and_writes_the_error_file(account, tmp_path):
    source = tmp_path / "contacts.csv"
    source.write_text(CSV)
    out, err = io.StringIO(), io.StringIO()
    call_command("import_contacts", str(account.pk), str(source), "--tags", "March, import", stdout=out, stderr=err)
    assert "15 rows in" in out.getvalue() and "11 created" in out.getvalue() and "5 with errors" in out.getvalue()
    assert "rows/s" in err.getvalue() and "100%" in err.getvalue()
    errors = list(csv.DictReader((tmp_path / "contacts.csv.errors.csv").open()))
    assert [row["row"] for row in errors] == ["12", "13", "14", "15", "16"]
    assert Tag.objects.get(account=account, key="march").contact_count == 11
    # The run is listed under Contact imports, like an upload, with its counts and error file.
    job = ContactImport.objects.get(account=account)
    assert (job.source, job.status, job.filename) == ("command", "done", "contacts.csv")
    assert (job.rows_read, job.created_count, job.error_count) == (15, 11, 5)
    assert str(job.pk) in out.getvalue()
    stored = b"".join(blob_chunks(job, ContactImportBlob.Kind.ERRORS)).decode()
    assert stored == (tmp_path / "contacts.csv.errors.csv").read_bytes().decode()


def test_command_refuses_an_unknown_account(tmp_path):
    source = tmp_path / "contacts.csv"
    source.write_text("email\na@example.com\n")
    with pytest.raises(CommandError, match="No account"):
        call_command("import_contacts", "00000000-0000-0000-0000-000000000000", str(source))


@pytest.mark.parametrize("bulk", [True, False], ids=["postgres-copy", "row-by-row"])
def test_a_row_whose_only_fault_is_its_mobile_is_imported_by_email_and_the_number_reported(account, bulk):
    report, errors = run(account, "email,mobile,full_name\nzed@example.com,12,Zed\n,12,Nobody\n", bulk=bulk)
    assert (report.rows, report.created, report.errors) == (2, 1, 2)
    zed = Contact.objects.get(account=account, email="zed@example.com")
    assert (zed.mobile, zed.full_name) == (None, "Zed")
    assert [(e["row"], e["column"], e["value"]) for e in errors] == [("2", "mobile", "12"), ("3", "mobile", "12")]
    assert errors[0]["reason"].endswith("Imported by email without this mobile.")
    assert "Imported by email" not in errors[1]["reason"]  # no email to import it by: the row is not imported
