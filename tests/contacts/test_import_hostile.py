"""Hostile and foreign CSV files: control characters, bytes that do not decode, absurd widths and lengths, other
encodings. One bad row never costs the others; a bad header is one clear error; nothing raises a traceback."""

import codecs
import csv
import io

import pytest
from django.core.management import CommandError, call_command

from contacts.csv_import import ImportFileError, contacts_import, staging
from contacts.models import Contact, ContactImport
from contacts.tasks import contact_import_run

pytestmark = pytest.mark.django_db

BOTH_PATHS = pytest.mark.parametrize("bulk", [True, False], ids=["postgres-copy", "row-by-row"])


def run(account, data: bytes, **options):
    errors = io.StringIO()
    report = contacts_import(account_id=account.pk, source=io.BytesIO(data), errors=errors, **options)
    return report, list(csv.DictReader(io.StringIO(errors.getvalue())))


def names(account):
    return dict(Contact.objects.filter(account=account).values_list("email", "full_name"))


def command(account, path, *args):
    out = io.StringIO()
    call_command("import_contacts", str(account.pk), str(path), "--no-progress", *args, stdout=out)
    return out.getvalue()


# Control characters


@BOTH_PATHS
def test_a_nul_in_a_field_reports_that_row_and_imports_the_others(account, bulk):
    data = b"email,full_name\na@example.com,Ann\nb@example.com,Bo\x00b\nc@example.com,Cy\n"
    report, errors = run(account, data, bulk=bulk)
    assert names(account) == {"a@example.com": "Ann", "c@example.com": "Cy"}
    assert (report.created, report.errors) == (2, 1)
    assert [(e["row"], e["column"], e["value"]) for e in errors] == [("3", "full_name", "Bo\ufffdb")]
    assert errors[0]["reason"] == "Contains a control character, U+0000 (NUL), at position 3: remove it."


@BOTH_PATHS
def test_other_control_characters_are_refused_in_any_column_but_tabs_and_line_breaks_are_text(account, bulk):
    data = (
        b'email,full_name,plan\na@example.com,"Ann\nSmith",pro\tplus\n'
        b"b@example.com,Bob,\x1b[31mred\nc@example.com,C\x7f,x\nd@example.com,D,\x0cpage\n"
    )
    report, errors = run(account, data, bulk=bulk)
    ann = Contact.objects.get(account=account, email="a@example.com")
    assert (ann.full_name, ann.attributes) == ("Ann\nSmith", {"plan": "pro\tplus"})
    assert report.created == 1
    # The quoted cell spans two lines but is one row: Bob is row 3.
    assert [(e["row"], e["column"], e["reason"].split(",")[1].strip()) for e in errors] == [
        ("3", "plan", "U+001B (ESC)"),
        ("4", "full_name", "U+007F (DEL)"),
        ("5", "plan", "U+000C (FF)"),
    ]


@BOTH_PATHS
def test_a_nul_in_the_header_refuses_the_file_in_one_sentence(account, bulk):
    with pytest.raises(ImportFileError) as caught:
        run(account, b"email,na\x00me\na@example.com,Ann\n", bulk=bulk)
    assert str(caught.value) == (
        "Column 2 of the header row ('na\ufffdme'): Contains a control character, U+0000 (NUL), at position 3: "
        "remove it."
    )
    assert not Contact.objects.filter(account=account).exists()


def test_the_command_reports_a_bad_header_without_a_traceback_or_an_error_file(account, tmp_path):
    source = tmp_path / "contacts.csv"
    source.write_bytes(b"email,na\x00me\na@example.com,Ann\n")
    with pytest.raises(CommandError, match=r"Column 2 of the header row .* U\+0000 \(NUL\)"):
        command(account, source)
    assert not (tmp_path / "contacts.csv.errors.csv").exists()
    assert not Contact.objects.filter(account=account).exists()


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"email,,name", "Column 2 of the header row has no name: name it (it becomes an attribute) or delete it."),
        (b"email,Email", "Columns 'email' and 'Email' both mean 'email'; keep one of them."),
        (b"email,plan,plan", "Columns 'plan' and 'plan' both mean 'plan'; keep one of them."),
        (b"email," + b"x" * 201, "Column 2 of the header row is longer than 200 characters: shorten it."),
    ],
    ids=["empty-name", "alias-twice", "attribute-twice", "long-name"],
)
def test_a_bad_header_is_one_clear_error(account, header, message):
    with pytest.raises(ImportFileError) as caught:
        run(account, header + b"\na@example.com,1,2\n")
    assert str(caught.value) == message


@BOTH_PATHS
def test_empty_names_at_the_end_of_the_header_are_ignored(account, bulk):
    _, errors = run(account, b"email,name,,\na@example.com,Ann,,\nb@example.com,Bob,,lost\n", bulk=bulk)
    assert names(account) == {"a@example.com": "Ann"}
    assert [(e["row"], e["reason"]) for e in errors] == [("3", "This row has 4 cells; the header has 2.")]


# Width and length


@BOTH_PATHS
def test_a_header_of_5001_columns_is_refused_whole(account, bulk, tmp_path):
    header = ",".join(["email", *[f"c{i}" for i in range(5000)]]).encode()
    with pytest.raises(ImportFileError, match=r"^The header row has 5,001 columns; an import takes at most 1,000\."):
        run(account, header + b"\na@example.com\n", bulk=bulk)
    source = tmp_path / "wide.csv"
    source.write_bytes(header + b"\na@example.com\n")
    with pytest.raises(CommandError, match="5,001 columns"):
        command(account, source)


@BOTH_PATHS
def test_a_row_of_5001_cells_is_reported_and_the_others_imported(account, bulk):
    wide = b"b@example.com,Bob," + b",".join([b"x"] * 4999)
    _, errors = run(account, b"email,name\na@example.com,Ann\n" + wide + b"\nc@example.com,Cy\n", bulk=bulk)
    assert names(account) == {"a@example.com": "Ann", "c@example.com": "Cy"}
    assert [(e["row"], e["reason"]) for e in errors] == [("3", "This row has 5,001 cells; the header has 2.")]


WIDE_FILE = "\n".join(
    [
        ",".join(["email", *[f"c{i}" for i in range(999)]]),
        "a@example.com,one" + "," * 998,
        "b@example.com," + ",".join(["0123456789"] * 999),
        "c@example.com," + ",".join(["ééééé"] * 999),
        "d@example.com" + "," * 999 + "last",
        "",
    ]
).encode()


def test_a_thousand_column_file_imports_and_refuses_only_rows_too_big_to_store(account):
    _, errors = run(account, WIDE_FILE, bulk=True)
    assert set(names(account)) == {"a@example.com", "d@example.com"}
    assert Contact.objects.get(account=account, email="d@example.com").attributes == {"c998": "last"}
    assert [(e["row"], e["reason"]) for e in errors] == [
        ("3", "Too many filled cells (1,000) to store in one row: remove columns."),
        ("4", "Too many filled cells (1,000) to store in one row: remove columns."),
    ]


def test_a_row_postgresql_refuses_is_reported_alone_and_the_rest_of_its_batch_stored(account, monkeypatch):
    monkeypatch.setattr(staging, "WIDE", 10_000)  # no size check before the COPY: PostgreSQL itself refuses
    _, errors = run(account, WIDE_FILE, bulk=True)
    assert set(names(account)) == {"a@example.com", "d@example.com"}
    assert [e["row"] for e in errors] == ["3", "4"]
    assert all(e["reason"].startswith("PostgreSQL cannot store this row (row is too big: size") for e in errors)


@BOTH_PATHS
def test_cells_too_long_are_reported_with_their_limit(account, bulk):
    rows = [
        "email,mobile,full_name,plan",
        "a@example.com,,Ann,pro",
        f"b@example.com,{'1' * 5000},Bob,",
        f"c@example.com,,{'C' * 201},",
        f"d@example.com,,Dee,{'p' * 200_000}",
        "e@example.com,,Eve,",
    ]
    _, errors = run(account, "\n".join(rows).encode() + b"\n", bulk=bulk)
    # Bob's only fault is his mobile: he is imported by his email, without it.
    assert names(account) == {"a@example.com": "Ann", "b@example.com": "Bob", "e@example.com": "Eve"}
    assert [(e["row"], e["column"], e["reason"]) for e in errors] == [
        ("3", "mobile", "Longer than 100 characters. Imported by email without this mobile."),
        ("4", "full_name", "Longer than 200 characters."),
        ("5", "", "A cell is longer than 131,072 characters: shorten it."),
    ]


def test_a_line_of_millions_of_characters_is_skipped_unread_and_reported(account):
    data = b"email,name\na@example.com,Ann\nb@example.com," + b"x," * 2_500_000 + b"\nc@example.com,Cy\n"
    _, errors = run(account, data)
    assert names(account) == {"a@example.com": "Ann", "c@example.com": "Cy"}
    assert [(e["row"], e["reason"]) for e in errors] == [
        ("3", "This row has a line longer than 4,000,000 characters; split or shorten it.")
    ]


# Bytes that do not decode, and other encodings


def _utf8_file_with_a_bad_byte(rows: int, bad_row: int) -> bytes:
    lines = ["email,full_name,city"]
    for row in range(2, rows + 2):
        city = "Kraków" if row % 2 else "São Paulo"
        lines.append(f"user{row}@example.com,José Müller {row},{city}")
    data = ("\n".join(lines) + "\n").encode()
    line_start = data.index(f"\nuser{bad_row}@".encode()) + 1
    marker = data.index(b"Jos", line_start)
    return data[:marker] + b"Ren\xe9 " + data[marker:]  # a Latin-1 é in a UTF-8 file


def test_a_non_utf8_byte_on_line_3001_of_5000_reports_exactly_that_row(account, tmp_path):
    source = tmp_path / "contacts.csv"
    source.write_bytes(_utf8_file_with_a_bad_byte(5000, 3001))
    out = command(account, source)
    assert "5,000 rows in" in out and "4,999 created" in out and "1 with errors" in out
    assert "Read as UTF-8 (detected)." in out
    errors = list(csv.DictReader((tmp_path / "contacts.csv.errors.csv").open(encoding="utf-8")))
    assert [(e["row"], e["column"], e["value"]) for e in errors] == [
        ("3001", "full_name", "Ren\ufffd José Müller 3001")
    ]
    assert errors[0]["reason"] == (
        "Has bytes that are not valid UTF-8 (0xE9) at position 4: fix the cell, or import the file again choosing "
        "its real encoding (often cp1252, for files saved by Excel)."
    )
    assert Contact.objects.filter(account=account).count() == 4999
    assert not Contact.objects.filter(account=account, email="user3001@example.com").exists()
    assert Contact.objects.get(account=account, email="user3000@example.com").full_name == "José Müller 3000"
    assert Contact.objects.get(account=account, email="user3002@example.com").city == "São Paulo"
    assert Contact.objects.get(account=account, email="user3003@example.com").city == "Kraków"


@BOTH_PATHS
def test_one_stray_byte_never_switches_a_small_file_to_cp1252(account, bulk):
    report, errors = run(account, b"email,name\na@example.com,Ann\nb@example.com,Ren\xe9\n", bulk=bulk)
    assert (report.encoding, report.encoding_detected) == ("UTF-8", True)
    assert names(account) == {"a@example.com": "Ann"}
    assert [(e["row"], e["column"]) for e in errors] == [("3", "name")]


ACCENTED = ["José Müller", "Zoë Brontë", "François Lefèvre", "Ærøskøbing Ångström"]


def _file(names_, encoding, *, bom=b""):
    text = "email,full_name\n" + "".join(f"p{i}@example.com,{name}\n" for i, name in enumerate(names_))
    return bom + text.encode(encoding)


@BOTH_PATHS
@pytest.mark.parametrize(
    ("people", "encoding", "bom", "told"),
    [
        ([*ACCENTED, "Price in €", "“Smart” quotes… ‰"], "cp1252", b"", "cp1252"),
        (ACCENTED, "latin-1", b"", "cp1252"),
        ([*ACCENTED, "Łukasz Żółć", "Αλέξης"], "utf-8", b"", "UTF-8"),
        ([*ACCENTED, "Łukasz Żółć"], "utf-8", codecs.BOM_UTF8, "UTF-8"),
        ([*ACCENTED, "Łukasz Żółć", "李小龍"], "utf-16-le", codecs.BOM_UTF16_LE, "UTF-16"),
        ([*ACCENTED, "Łukasz Żółć", "李小龍"], "utf-16-be", codecs.BOM_UTF16_BE, "UTF-16"),
        ([*ACCENTED, "Łukasz Żółć"], "utf-16-le", b"", "UTF-16-LE"),
    ],
    ids=["cp1252", "latin-1", "utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "utf-16-le-no-bom"],
)
def test_files_in_other_encodings_are_detected_and_accented_names_arrive_intact(
    account, bulk, people, encoding, bom, told
):
    report, errors = run(account, _file(people, encoding, bom=bom), bulk=bulk)
    assert errors == []
    assert (report.encoding, report.encoding_detected) == (told, True)
    assert sorted(names(account).values()) == sorted(people)


def test_the_encoding_option_reads_what_detection_would_not_guess(account, tmp_path):
    source = tmp_path / "latin.csv"
    source.write_bytes("email,full_name\na@example.com,Ann\nb@example.com,Renée\n".encode("latin-1"))
    out = command(account, source)
    assert "1 created" in out and "1 with errors" in out and "Read as UTF-8 (detected)." in out
    out = command(account, source, "--encoding", "latin-1")
    assert "1 created" in out and "0 with errors" in out and "Read as iso8859-1." in out
    assert names(account) == {"a@example.com": "Ann", "b@example.com": "Renée"}


def test_the_encoding_option_reads_utf16_without_keeping_its_byte_order_mark(account, tmp_path):
    source = tmp_path / "utf16.csv"
    source.write_bytes(codecs.BOM_UTF16_LE + "email,full_name\na@example.com,Łukasz\n".encode("utf-16-le"))
    out = command(account, source, "--encoding", "utf-16-le")
    assert "1 created" in out and "Read as utf-16-le." in out
    assert names(account) == {"a@example.com": "Łukasz"}


@pytest.mark.parametrize("name", ["klingon", "rot13"])
def test_the_encoding_option_refuses_what_is_not_a_text_encoding(account, tmp_path, name):
    source = tmp_path / "contacts.csv"
    source.write_bytes(b"email\na@example.com\n")
    with pytest.raises(CommandError, match=rf"--encoding: '{name}' is not a text encoding Python knows"):
        command(account, source, "--encoding", name)


def test_the_admin_upload_takes_an_encoding_and_records_the_detected_one(admin_client, account):
    def upload(name, encoding):
        data = io.BytesIO("email,full_name\nb@example.com,Renée\n".encode("cp1252"))
        data.name = name
        response = admin_client.post(
            "/admin/contacts/contactimport/upload/",
            {"account": account.pk, "file": data, "tags": "", "default_region": "", "encoding": encoding},
        )
        assert response.status_code == 302
        job = ContactImport.objects.get(filename=name)
        assert contact_import_run.apply(args=(str(job.pk),)).get() == "done"
        job.refresh_from_db()
        return job, admin_client.get(f"/admin/contacts/contactimport/{job.pk}/change/").content.decode()

    # Detected: one non-UTF-8 byte is not enough to call the file cp1252, so its row is refused, saying why.
    job, page = upload("detected.csv", "")
    assert (job.encoding, job.created_count, job.error_count) == ("UTF-8", 0, 1)
    assert "UTF-8" in page and "Download 1 bad row(s)" in page
    errors = admin_client.get(f"/admin/contacts/contactimport/{job.pk}/errors.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(errors.streaming_content).decode())))
    assert [(r["row"], r["column"], r["value"]) for r in rows] == [("2", "full_name", "Ren\ufffde")]
    assert "often cp1252" in rows[0]["reason"]
    # Chosen on the form: read as cp1252.
    job, page = upload("chosen.csv", "cp1252")
    assert (job.encoding, job.created_count, job.error_count) == ("cp1252", 1, 0)
    assert "cp1252" in page
    assert names(account) == {"b@example.com": "Renée"}


def test_the_admin_upload_of_a_bad_header_fails_the_job_with_the_reason_not_a_traceback(admin_client, account):
    upload = io.BytesIO(b"email,na\x00me\na@example.com,Ann\n")
    upload.name = "bad.csv"
    admin_client.post("/admin/contacts/contactimport/upload/", {"account": account.pk, "file": upload})
    job = ContactImport.objects.get()
    assert contact_import_run.apply(args=(str(job.pk),)).get() == "failed"
    job.refresh_from_db()
    assert job.failure.startswith("Column 2 of the header row")
    page = admin_client.get(f"/admin/contacts/contactimport/{job.pk}/change/").content.decode()
    assert "U+0000 (NUL)" in page


# The error CSV is opened in spreadsheets too


def test_the_error_csv_never_holds_a_formula_or_a_raw_control_character(account):
    data = b'email,name\n"=HYPERLINK(""http://x"")",A\n@evil,B\nc@example.com,Bo\x1bb\n'
    _, errors = run(account, data)
    assert [e["value"] for e in errors] == ['\'=HYPERLINK("http://x")', "'@evil", "Bo\ufffdb"]
