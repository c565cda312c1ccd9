"""The MIME message SES sends, written out directly.

The email package's header registry and generator cost close to a millisecond per message; every value here has
a known shape, so the message is assembled as bytes. Headers are printable ASCII: any other value (non-ASCII,
control or line-break-like characters) becomes RFC 2047 encoded-words, so a value can never start a header of its
own. Bodies are quoted-printable, or base64 when that is shorter; attachments are base64. Lines end in CRLF and
stay within 76 octets, except an unbreakable ASCII header word, which stays within 998.
"""

import base64
import binascii
import contextlib
import random
import re
import string
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.utils import format_datetime, formataddr, make_msgid, quote
from functools import lru_cache
from typing import Any
from urllib.parse import quote as percent_encode

from emails.addresses import Address, parse_address
from emails.models import Email
from emails.validation import RESERVED_HEADERS

SESAME_ID_HEADER = "X-Sesame-Email-Id"

_LINE = 76  # RFC 2047's limit for a line holding encoded-words, within RFC 5322's 78
_MAX_LINE = 998  # RFC 5322's hard limit, without the CRLF
_WORD_BYTES = 45  # one encoded-word: "=?utf-8?b?" + 60 base64 characters + "?=" is 72 characters
_NAME_BYTES = 39  # a display name's first word fits after "Reply-To: "
_MIME_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")
_BASE64 = (string.ascii_letters + string.digits + "+/").encode("ascii")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_Entity = list[bytes]  # a MIME entity: its header lines and blank line, then its body


def _plain(value: str) -> bool:
    return value.isascii() and value.isprintable()


def _fold(name: str, words: list[str], *, break_first: bool = False) -> str | None:
    """`name: words...` broken before a word where a line would pass 76 octets; None if a line must pass 998."""
    lines = []
    line = f"{name}:"
    has_text = break_first
    for word in words:
        if word and has_text and len(line) + 1 + len(word) > _LINE:
            lines.append(line)
            line = ""
        line += " " + word
        has_text = has_text or bool(word)
        if len(line) > _MAX_LINE:
            return None
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def _encoded_words(text: str, first: int = _WORD_BYTES) -> list[str]:
    """RFC 2047 B encoding in words of at most `first`, then 45, bytes of UTF-8, never splitting a character."""
    data = text.encode()
    words = []
    start, size = 0, first
    while start < len(data):
        end = start + size
        if end < len(data):
            while data[end] & 0xC0 == 0x80:  # a continuation byte: the character started before `end`
                end -= 1
        words.append(f"=?utf-8?b?{binascii.b2a_base64(data[start:end], newline=False).decode('ascii')}?=")
        start, size = end, _WORD_BYTES
    return words


def _header(name: str, value: str) -> str:
    """An unstructured header (Subject, custom headers): as given when printable ASCII, else encoded."""
    if _plain(value) and "=?" not in value:  # a client would decode a literal encoded-word
        if len(name) + len(value) <= _LINE - 2:
            return f"{name}: {value}\r\n"
        folded = _fold(name, value.split(" "))
        if folded is not None:
            return folded
    first = (_LINE - len(name) - 2 - 12) // 4 * 3  # what fits after "Name: " besides "=?utf-8?b?" and "?="
    # After a very long name not even one character fits: the words start on the next line.
    folded = _fold(name, _encoded_words(value, first if first >= 4 else _WORD_BYTES), break_first=first < 4)
    if folded is None:
        raise ValueError(f"the {name[:40]!r} header does not fit in a 998-octet line")
    return folded


def _custom_name(name: str) -> str:
    if not (name and _plain(name) and " " not in name and ":" not in name):
        raise ValueError(f"{name!r} is not a header name (printable ASCII without spaces or ':')")
    if name.lower() in RESERVED_HEADERS or name.lower().startswith("x-sesame-"):
        raise ValueError(f"the {name} header is written by Sesame and cannot be set again")
    return name


def _format(address: Address) -> str:
    if not _plain(address.email):
        raise ValueError(f"the address {address.email!r} cannot be written in a header")
    name = address.name
    if "=?" in name:  # already RFC 2047 encoded by Address.formatted(), maybe in over-long words: decode it
        with contextlib.suppress(HeaderParseError, LookupError, UnicodeError):
            name = str(make_header(decode_header(name)))
    if not name:
        return address.email
    if _plain(name):
        formatted = formataddr((name, address.email))
        if len(formatted) <= 900:
            return formatted
    return " ".join(_encoded_words(name, _NAME_BYTES)) + f" <{address.email}>"


# Senders repeat across emails and addresses are immutable: parse (and encode) each once.
@lru_cache(maxsize=1024)
def _sender(value: str) -> Address:
    return parse_address(_FOLD.sub("", value))  # a folded value is one line once unfolded


@lru_cache(maxsize=1024)
def _encoded_mailbox(value: str) -> str:
    return _format(_sender(value))


def _mailbox(value: str) -> str:
    """A stored address as header text: as stored when plain ASCII, else parsed and encoded again."""
    if _plain(value) and "=?" not in value and len(value) <= 900:
        return value
    return _encoded_mailbox(value)


def _address_header(name: str, values: list[str]) -> str:
    text = ", ".join([_mailbox(value) for value in values])
    if len(name) + len(text) <= _LINE - 2:
        return f"{name}: {text}\r\n"
    folded = _fold(name, text.split(" "))
    if folded is None:
        raise ValueError(f"the {name} header does not fit in 998-octet lines")
    return folded


def _lines(encoded: bytes) -> bytes:
    return b"\r\n".join([encoded[i : i + _LINE] for i in range(0, len(encoded), _LINE)])


def _base64(data: bytes) -> bytes:
    return _lines(binascii.b2a_base64(data, newline=False))


def _attachment_body(content_base64: str) -> bytes:
    """Validation stored canonical base64: checking that is 5x cheaper than decoding and encoding it again."""
    if content_base64.isascii():
        encoded = content_base64.encode("ascii")
        unpadded = encoded.rstrip(b"=")
        if len(encoded) % 4 == 0 and len(encoded) - len(unpadded) <= 2 and not unpadded.translate(None, _BASE64):
            return _lines(encoded)
    return _base64(base64.b64decode(content_base64))


def _text(subtype: str, text: str) -> _Entity:
    """A text part in canonical form (CRLF line breaks): quoted-printable, or base64 when that is shorter."""
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode()
    # With LF line breaks (and no CR) b2a_qp writes LF hard and soft breaks, made CRLF afterwards.
    body = binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")
    encoding = "quoted-printable"
    crlf_size = len(data) + data.count(b"\n")
    if len(body) > (crlf_size + 2) // 3 * 4 * (_LINE + 2) // _LINE:
        body, encoding = _base64(data.replace(b"\n", b"\r\n")), "base64"
    head = f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n'
    return [head.encode("ascii"), body]


def _disposition(filename: str) -> str:
    """Content-Disposition with the file name quoted when printable ASCII, else RFC 2231 encoded (continued in
    segments when long, each a whole number of characters)."""
    quoted = quote(filename)
    if _plain(filename) and len(quoted) <= 900:
        params = [f'filename="{quoted}"']
    else:
        segments = [""]
        for char in filename:
            encoded = percent_encode(char, safe="")
            if len(segments[-1]) + len(encoded) > 48:
                segments.append("")
            segments[-1] += encoded
        if len(segments) == 1:
            params = [f"filename*=utf-8''{segments[0]}"]
        else:
            segments[0] = "utf-8''" + segments[0]
            params = [f"filename*{index}*={segment}" for index, segment in enumerate(segments)]
    line = f"Content-Disposition: attachment; {'; '.join(params)}"
    if len(line) <= _LINE:
        return line + "\r\n"
    return "Content-Disposition: attachment;\r\n " + ";\r\n ".join(params) + "\r\n"


def _attachment(attachment: dict[str, Any]) -> _Entity:
    content_type = attachment.get("content_type") or "application/octet-stream"
    # A multipart or message type would announce a structure a base64 file does not have.
    if not _MIME_TYPE.fullmatch(content_type) or content_type.lower().startswith(("multipart/", "message/")):
        content_type = "application/octet-stream"
    head = (
        f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: base64\r\n"
        f"{_disposition(str(attachment['filename']))}\r\n"
    )
    return [head.encode("ascii"), _attachment_body(attachment["content_base64"])]


def _multipart(subtype: str, parts: list[_Entity]) -> _Entity:
    # "=_" never occurs in quoted-printable or base64 text, so the boundary cannot occur in a part; the subtype's
    # letter keeps a nested boundary from starting with the enclosing one.
    boundary = f"=_{subtype[0]}{random.getrandbits(96):024x}"
    delimiter = f"--{boundary}\r\n".encode("ascii")
    entity = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode("ascii")]
    for part in parts:
        entity.append(delimiter)
        entity.extend(part)
        entity.append(b"\r\n")
    entity.append(f"--{boundary}--\r\n".encode("ascii"))
    return entity


def build_mime(email: Email) -> bytes:
    """Render the stored email. Headers keep the addresses as given (a suppressed recipient still appears in
    To/Cc); who actually receives it is decided by the SES destinations. Bcc never appears in headers.

    Raises ValueError for what no header can carry: an invalid or reserved custom header name, or an address
    that does not parse (such as one with a CR or LF outside a fold)."""
    sender = _sender(email.from_address)
    head = [_address_header("From", [email.from_address]), _address_header("To", [email.to_address])]
    if email.cc:
        head.append(_address_header("Cc", email.cc))
    if email.reply_to:
        head.append(_address_header("Reply-To", [email.reply_to]))
    head.append(_header("Subject", email.subject))
    head.append(f"Date: {format_datetime(datetime.now(UTC))}\r\n")
    head.append(f"Message-ID: {make_msgid(domain=sender.domain)}\r\n")
    head.append(f"{SESAME_ID_HEADER}: {email.id}\r\n")
    for name, value in (email.headers or {}).items():
        head.append(_header(_custom_name(name), str(value)))
    head.append("MIME-Version: 1.0\r\n")

    bodies = []
    if email.text_body:
        bodies.append(_text("plain", email.text_body))
    if email.html_body or not email.text_body:
        bodies.append(_text("html", email.html_body or ""))
    body = bodies[0] if len(bodies) == 1 else _multipart("alternative", bodies)
    if email.attachments:
        body = _multipart("mixed", [body, *(_attachment(item) for item in email.attachments)])
    return b"".join([("".join(head)).encode("ascii"), *body])
