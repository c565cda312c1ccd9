"""The MIME message as a mail client reads it: parsed back with the standard library's modern parser."""

import base64
import email as email_lib
import os
import re
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest

from emails.addresses import parse_address
from emails.mime import SESAME_ID_HEADER, build_mime
from emails.models import Email

LINE_BREAKS = {
    "VT": "\x0b",
    "FF": "\x0c",
    "FS": "\x1c",
    "GS": "\x1d",
    "RS": "\x1e",
    "NEL": "\x85",
    "LS": "\u2028",
    "PS": "\u2029",
    "CR": "\r",
    "LF": "\n",
    "CRLF": "\r\n",
}
# An address with a bare CR or LF does not parse: those are refused rather than encoded (see below).
NAME_SAFE_BREAKS = {name: char for name, char in LINE_BREAKS.items() if name not in {"CR", "LF", "CRLF"}}
ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def _email(*, stored: bool = True, **overrides: Any) -> Email:
    """An email as accept stores it: addresses parsed and formatted (unless `stored=False`: as typed)."""
    fields: dict[str, Any] = {
        "from_address": "Acme <hello@example.com>",
        "to_address": "Jon Doe <jon@example.net>",
        "cc": [],
        "bcc": [],
        "reply_to": "",
        "subject": "Your receipt",
        "text_body": "Thanks for your order.",
        "html_body": None,
        "headers": {},
        "attachments": [],
    }
    fields.update(overrides)
    if stored:

        def formatted(value: str) -> str:
            return parse_address(value).formatted()

        fields["from_address"] = formatted(fields["from_address"])
        fields["to_address"] = formatted(fields["to_address"])
        fields["cc"] = [formatted(value) for value in fields["cc"]]
        fields["bcc"] = [formatted(value) for value in fields["bcc"]]
        fields["reply_to"] = formatted(fields["reply_to"]) if fields["reply_to"] else ""
    return Email(**fields)


def _wire(raw: bytes) -> None:
    """What SES and every MTA on the way require: 7-bit text, CRLF line ends, lines of at most 998 octets."""
    assert raw.isascii()
    lines = raw.split(b"\r\n")
    assert not [line for line in lines if b"\r" in line or b"\n" in line]
    assert max(len(line) for line in lines) <= 998
    head, body = raw.split(b"\r\n\r\n", 1)
    assert max(len(line) for line in body.split(b"\r\n")) <= 76  # quoted-printable and base64 lines
    assert all(len(word) <= 75 for word in ENCODED_WORD.findall(head))
    assert all(len(line) <= 76 for line in head.split(b"\r\n") if ENCODED_WORD.search(line))


def _parse(email: Email) -> EmailMessage:
    raw = build_mime(email)
    _wire(raw)
    message = email_lib.message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


def _crlf(text: str) -> str:
    """A text body in canonical form, as a client decodes it."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def _mailbox(message: EmailMessage, name: str, index: int = 0) -> tuple[str, str]:
    address = message[name].addresses[index]
    return address.display_name, address.addr_spec


def test_headers_are_those_of_the_email_and_bcc_is_absent():
    email = _email(
        cc=["Carol <carol@example.net>", "dave@example.net"],
        bcc=["audit@example.org"],
        reply_to="support@example.com",
        headers={"X-Campaign": "spring", "List-Unsubscribe": "<https://example.com/u/1>"},
    )
    raw = build_mime(email)
    message = _parse(email)

    assert list(message.keys()) == [
        "From",
        "To",
        "Cc",
        "Reply-To",
        "Subject",
        "Date",
        "Message-ID",
        SESAME_ID_HEADER,
        "X-Campaign",
        "List-Unsubscribe",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
    ]
    assert message["From"] == "Acme <hello@example.com>"
    assert message["To"] == "Jon Doe <jon@example.net>"
    assert message["Cc"] == "Carol <carol@example.net>, dave@example.net"
    assert message["Reply-To"] == "support@example.com"
    assert message["Subject"] == "Your receipt"
    assert message["Bcc"] is None and b"audit@example.org" not in raw
    assert message[SESAME_ID_HEADER] == str(email.id)
    assert message["X-Campaign"] == "spring"
    assert message["List-Unsubscribe"] == "<https://example.com/u/1>"
    assert message["Message-ID"].endswith("@example.com>")
    assert message["Date"].datetime.utcoffset().total_seconds() == 0
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message.get_content() == "Thanks for your order."
    # ASCII values are written as they are, not encoded.
    assert b"\r\nSubject: Your receipt\r\n" in raw
    assert raw.startswith(b"From: Acme <hello@example.com>\r\nTo: Jon Doe <jon@example.net>\r\n")


@pytest.mark.parametrize("stored", [True, False], ids=["formatted", "as-typed"])
def test_non_ascii_names_and_subjects_decode_and_idn_domains_are_punycode(stored):
    email = _email(
        stored=stored,
        from_address="Jürgen Müller <jurgen@bücher.de>",
        to_address="Зоя Иванова <zoya@пример.рф>",
        cc=["山田 太郎 <taro@例え.jp>", "Plain Name <plain@example.org>", '"Ünïcödé, Ltd." <u@example.org>'],
        reply_to="Bücher Support <support@bücher.de>",
        subject="Grüße aus München \u2013 東京からこんにちは",
    )
    message = _parse(email)

    assert _mailbox(message, "From") == ("Jürgen Müller", "jurgen@xn--bcher-kva.de")
    assert _mailbox(message, "To") == ("Зоя Иванова", "zoya@xn--e1afmkfd.xn--p1ai")
    assert [(a.display_name, a.addr_spec) for a in message["Cc"].addresses] == [
        ("山田 太郎", "taro@xn--r8jz45g.jp"),
        ("Plain Name", "plain@example.org"),
        ("Ünïcödé, Ltd.", "u@example.org"),
    ]
    assert _mailbox(message, "Reply-To") == ("Bücher Support", "support@xn--bcher-kva.de")
    assert message["Subject"] == "Grüße aus München \u2013 東京からこんにちは"
    assert message["Message-ID"].endswith("@xn--bcher-kva.de>")


@pytest.mark.parametrize(
    "subject",
    [
        " ".join(["word"] * 150),
        "Ünïcödé " * 100,
        "x" * 998,
        "東京" * 499,
        "a  double  spaced  subject " * 20,
    ],
    ids=["ascii-words", "latin", "one-ascii-word", "cjk", "spaces"],
)
def test_long_subjects_are_folded_and_decode_exactly(subject):
    message = _parse(_email(subject=subject))

    assert message["Subject"] == subject


def test_long_ascii_subjects_are_folded_between_words_not_encoded():
    subject = " ".join(["word"] * 150)
    raw = build_mime(_email(subject=subject))

    head = raw.split(b"\r\n\r\n", 1)[0]
    subject_lines = head.split(b"\r\nSubject: ", 1)[1].split(b"\r\nDate: ", 1)[0].split(b"\r\n")
    assert len(subject_lines) > 1
    assert all(len(line) <= 76 for line in subject_lines)
    assert b"=?" not in head


def test_long_names_and_many_recipients_fold_and_decode():
    long_name = "Ü" * 200
    cc = [f"Récipient Nümber {n} <r{n}@example.net>" for n in range(40)]
    message = _parse(_email(from_address=f"{long_name} <hello@example.com>", cc=cc))

    # A long name takes several encoded-words. RFC 2047 (6.2) has clients ignore the folding space between them;
    # the modern parser does not in display names (CPython gh-128110), the legacy decoder does.
    raw_from = dict(message.raw_items())["From"]
    encoded_name, _, address = raw_from.rpartition(" ")
    assert str(make_header(decode_header(encoded_name))) == long_name
    assert address == "<hello@example.com>"
    assert [a.display_name for a in message["Cc"].addresses] == [f"Récipient Nümber {n}" for n in range(40)]


def test_a_folded_stored_address_is_unfolded():
    folded = "=?utf-8?b?SsO8cmdlbg==?=\r\n =?utf-8?b?IE3DvGxsZXI=?= <jurgen@example.com>"
    message = _parse(_email(stored=False, from_address=folded, to_address=folded))

    assert _mailbox(message, "From") == ("Jürgen Müller", "jurgen@example.com")
    assert _mailbox(message, "To") == ("Jürgen Müller", "jurgen@example.com")


def test_text_and_html_make_multipart_alternative_and_decode_exactly():
    text = "Grüße,\nline two\r\nline three\rtrailing space \n" + "é" * 50 + "x" * 5000 + "\n" + "y" * 3000
    html = "<p>日本語のテキスト</p>\n" * 50 + "<p>" + "長い行" * 1000 + "</p>"
    message = _parse(_email(text_body=text, html_body=html))

    assert message.get_content_type() == "multipart/alternative"
    plain, rich = message.iter_parts()
    assert plain.get_content_type() == "text/plain" and plain.get_content_charset() == "utf-8"
    assert rich.get_content_type() == "text/html" and rich.get_content_charset() == "utf-8"
    assert plain.get_content() == _crlf(text)
    assert rich.get_content() == _crlf(html)
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"
    assert rich["Content-Transfer-Encoding"] == "base64"  # shorter than quoted-printable for CJK


@pytest.mark.parametrize(
    ("text_body", "html_body", "content_type", "content"),
    [
        ("Hello", None, "text/plain", "Hello"),
        (None, "<p>Hello</p>", "text/html", "<p>Hello</p>"),
        (None, None, "text/html", ""),
    ],
    ids=["text-only", "html-only", "purged"],
)
def test_a_single_body_is_a_single_part(text_body, html_body, content_type, content):
    message = _parse(_email(text_body=text_body, html_body=html_body))

    assert not message.is_multipart()
    assert message.get_content_type() == content_type
    assert message.get_content() == content


def test_a_body_that_looks_like_mime_structure_stays_in_its_part():
    text = '--=_a\n--=_m0000--\nContent-Type: text/html\n\n<b>boundary="=_a"</b>\n--'
    message = _parse(_email(text_body=text, html_body="<p>Hi</p>"))

    plain, rich = message.iter_parts()
    assert plain.get_content() == _crlf(text)
    assert rich.get_content() == "<p>Hi</p>"


def test_attachments_wrap_the_body_in_multipart_mixed_and_round_trip():
    pdf = os.urandom(100_000)
    long_name = "請求書 2025年3月分 (ご確認ください) " * 6 + ".pdf"
    attachments = [
        ("invoice.pdf", "application/pdf", pdf),
        ("résumé.pdf", "application/pdf", b"%PDF-1"),
        (long_name, "application/pdf", b"x"),
        ('quote "q".txt', "text/plain", b"a\r\nb"),
        ("empty.bin", "application/octet-stream", b""),
        ("forwarded.eml", "message/rfc822", b"Subject: hi\r\n\r\nhi"),
    ]
    email = _email(
        html_body="<p>Hi</p>",
        attachments=[
            {"filename": name, "content_type": content_type, "content_base64": base64.b64encode(content).decode()}
            for name, content_type, content in attachments
        ],
    )
    message = _parse(email)

    assert message.get_content_type() == "multipart/mixed"
    body, *files = message.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert [part.get_content() for part in body.iter_parts()] == ["Thanks for your order.", "<p>Hi</p>"]
    assert [(f.get_filename(), f.get_content_type(), f.get_payload(decode=True)) for f in files] == [
        ("invoice.pdf", "application/pdf", pdf),
        ("résumé.pdf", "application/pdf", b"%PDF-1"),
        (long_name, "application/pdf", b"x"),
        ('quote "q".txt', "text/plain", b"a\r\nb"),
        ("empty.bin", "application/octet-stream", b""),
        # base64 is not allowed for message/rfc822, so the .eml travels as a plain file.
        ("forwarded.eml", "application/octet-stream", b"Subject: hi\r\n\r\nhi"),
    ]
    assert all(f.get_content_disposition() == "attachment" for f in files)
    assert [a.get_filename() for a in message.iter_attachments()] == [name for name, _, _ in attachments]


def test_non_canonical_stored_base64_is_still_encoded_cleanly():
    content = os.urandom(500)
    encoded = base64.encodebytes(content).decode()  # 76-character lines with bare LF
    message = _parse(
        _email(
            attachments=[{"filename": "a.bin", "content_type": "application/octet-stream", "content_base64": encoded}]
        )
    )

    [attachment] = message.iter_attachments()
    assert attachment.get_payload(decode=True) == content


@pytest.mark.parametrize("line_break", LINE_BREAKS.values(), ids=LINE_BREAKS.keys())
def test_line_break_characters_in_header_values_never_start_a_header(line_break):
    subject = f"Hello{line_break}Bcc: victim@example.org"
    note = f"a{line_break}X-Injected: yes{line_break}"
    message = _parse(_email(subject=subject, headers={"X-Note": note}))

    assert "Bcc" not in message and "X-Injected" not in message
    assert message["Subject"] == subject
    assert message["X-Note"] == note


@pytest.mark.parametrize("line_break", NAME_SAFE_BREAKS.values(), ids=NAME_SAFE_BREAKS.keys())
@pytest.mark.parametrize("stored", [True, False], ids=["formatted", "as-typed"])
def test_line_break_characters_in_display_names_never_start_a_header(line_break, stored):
    name = f"Acme{line_break}Bcc: victim@example.org"
    message = _parse(
        _email(stored=stored, from_address=f'"{name}" <hello@example.com>', to_address=f'"{name}" <jon@example.net>')
    )

    assert "Bcc" not in message
    assert _mailbox(message, "From") == (name, "hello@example.com")
    assert _mailbox(message, "To") == (name, "jon@example.net")


@pytest.mark.parametrize(
    "field",
    [
        {"to_address": "Jon\nBcc: victim@example.org <jon@example.net>"},
        {"to_address": "jon@example.net\r\nBcc: victim@example.org"},
        {"cc": ["carol@example.net\rBcc: victim@example.org"]},
        {"reply_to": "Help\r\nBcc: victim@example.org <help@example.com>"},
        {"from_address": "Acme <hello@example.com>\nBcc: victim@example.org"},
    ],
    ids=["to-name", "to-address", "cc", "reply-to", "from"],
)
def test_addresses_with_bare_line_breaks_are_refused(field):
    with pytest.raises(ValueError, match="line breaks"):
        build_mime(_email(stored=False, **field))


@pytest.mark.parametrize("name", ["X Bad", "X-Colon:", "", "X-Ünï", "X-Tab\t", "Bcc", "subject", "X-Sesame-Email-Id"])
def test_custom_header_names_that_would_break_the_message_are_refused(name):
    with pytest.raises(ValueError, match="header"):
        build_mime(_email(headers={name: "value"}))


def test_non_ascii_custom_header_values_are_encoded():
    value = "Frühjahr \u2013 春"
    long_name = "X-" + "Very-Long-Header-Name-" * 4
    message = _parse(_email(headers={"X-Campaign": value, long_name: value * 20}))

    assert message["X-Campaign"] == value
    # No encoded-word fits after so long a name: the value starts on the next line, whose space the parser keeps.
    assert message[long_name].lstrip() == value * 20
