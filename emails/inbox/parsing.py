"""Raw MIME of received mail, read with the standard library (`email`, policy=default). Pure: no database, no AWS.

Whatever the sender wrote, reading never raises: a header or part that cannot be decoded is replaced by what can
be read of it, and each such problem is named in `problems`, so the message is kept and the team sees why.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.headerregistry import Address
from email.message import Message
from email.policy import default as default_policy
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

_MSGID = re.compile(r"<([^<>\s]{1,900})>")
# The mailbox names mail systems send bounces and notices from (RFC 3834 §2 and common practice).
_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")


@dataclass(frozen=True)
class Part:
    filename: str
    content_type: str
    content_id: str
    inline: bool
    payload: bytes


@dataclass
class ParsedMail:
    subject: str = ""
    from_address: str = ""
    from_email: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    reply_to: str = ""
    reply_to_email: str = ""
    message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    date: datetime | None = None
    text: str = ""
    html: str = ""
    parts: list[Part] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    auto_reason: str = ""  # why this is automatic mail (an auto-reply, bulk, a bounce); "" for a person's mail
    bounce: bool = False
    problems: list[str] = field(default_factory=list)

    def header(self, name: str) -> str:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), "")


def message_ids(value: str) -> list[str]:
    """The `<id>`s of a Message-ID, In-Reply-To or References header, without brackets, in order."""
    found = _MSGID.findall(value or "")
    if not found and value and " " not in value.strip() and "@" in value:
        found = [value.strip().strip("<>")]  # a bare id, as some clients write it
    return found


def _text(value: object) -> str:
    # Header values are str subclasses; a NUL or lone surrogate from a broken charset must not reach PostgreSQL.
    return str(value).replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _header(message: Message, name: str, problems: list[str]) -> str:
    try:
        value = message.get(name)
    except Exception as exc:  # the header registry raises on some malformed values; keep going without it
        problems.append(f"The {name} header could not be read ({exc.__class__.__name__}).")
        return ""
    return _text(value) if value is not None else ""


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    return [(name, address) for name, address in getaddresses(values) if address]


def _formatted(name: str, address: str) -> str:
    if not name:
        return address
    try:
        return str(Address(display_name=name, addr_spec=address))
    except (ValueError, IndexError):
        return f"{name} <{address}>"


def _part_text(part: Message, problems: list[str]) -> str:
    """A text part's content, decoded with its charset; bytes that charset cannot read become U+FFFD."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "us-ascii"
    try:
        return _text(payload.decode(charset))
    except LookupError:
        problems.append(f"Unknown charset {charset!r}; read as UTF-8.")
        return _text(payload.decode("utf-8", "replace"))
    except UnicodeDecodeError:
        problems.append(f"Some bytes are not {charset}; they are shown as \ufffd.")
        return _text(payload.decode(charset, "replace"))


def _walk(message: Message, mail: ParsedMail) -> None:
    for part in message.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        try:
            filename = _text(part.get_filename() or "")
        except Exception:
            filename = ""
        content_id = message_ids(_header(part, "Content-ID", mail.problems))
        is_body_text = content_type in ("text/plain", "text/html") and disposition != "attachment" and not filename
        if is_body_text:
            text = _part_text(part, mail.problems)
            if content_type == "text/plain" and not mail.text:
                mail.text = text
            elif content_type == "text/html" and not mail.html:
                mail.html = text
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = str(part.get_payload()).encode("utf-8", "replace")
        mail.parts.append(
            Part(
                filename=filename[:255],
                content_type=content_type[:255],
                content_id=(content_id[0] if content_id else "")[:255],
                inline=disposition == "inline" or (bool(content_id) and disposition != "attachment"),
                payload=payload,
            )
        )


def _automatic(mail: ParsedMail, message: Message) -> str:
    """Why this mail was written by a machine (RFC 3834 and the usual headers), or "" when a person wrote it."""
    auto_submitted = mail.header("Auto-Submitted").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return f"Auto-Submitted: {auto_submitted}"
    precedence = mail.header("Precedence").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond"):
        if mail.header(name):
            return f"{name}: {mail.header(name)[:60]}"
    if mail.header("List-Id"):
        return "mailing-list mail (List-Id)"
    local = mail.from_email.split("@")[0]
    return_path = mail.header("Return-Path").strip()
    if local in _DAEMONS or return_path == "<>" or message.get_content_type() == "multipart/report":
        mail.bounce = True
        return "a delivery report (bounce) from a mail system"
    return ""


def mail_parse(raw: bytes) -> ParsedMail:
    """Read a raw message. Never raises: what cannot be read is named in `problems`."""
    mail = ParsedMail()
    try:
        message = message_from_bytes(raw, policy=default_policy)
    except Exception as exc:  # the parser is lenient; this is a last resort for input it cannot walk at all
        mail.problems.append(f"Not a MIME message ({exc.__class__.__name__}: {exc}).")
        return mail
    problems = mail.problems
    for defect in message.defects:
        problems.append(f"MIME defect: {defect.__class__.__name__}.")
    for name in message:
        mail.headers.append((name, _header(message, name, problems)[:2000]))
    mail.subject = _header(message, "Subject", problems).strip()
    from_name, from_email = parseaddr(_header(message, "From", problems))
    mail.from_email = from_email.strip().lower()[:320]
    mail.from_address = _formatted(from_name, from_email.strip())[:998]
    mail.to = [_formatted(n, a) for n, a in _addresses([_header(message, "To", problems)])]
    mail.cc = [_formatted(n, a) for n, a in _addresses([_header(message, "Cc", problems)])]
    reply_to = _addresses([_header(message, "Reply-To", problems)])
    if reply_to:
        mail.reply_to, mail.reply_to_email = _formatted(*reply_to[0]), reply_to[0][1].strip().lower()[:320]
    ids = message_ids(_header(message, "Message-ID", problems))
    mail.message_id = ids[0] if ids else ""
    in_reply_to = message_ids(_header(message, "In-Reply-To", problems))
    mail.in_reply_to = in_reply_to[0] if in_reply_to else ""
    mail.references = message_ids(_header(message, "References", problems))[-50:]
    date = _header(message, "Date", problems)
    if date:
        try:
            mail.date = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            problems.append(f"Unreadable Date header {date[:60]!r}.")
    try:
        _walk(message, mail)
    except Exception as exc:  # a part the library cannot decode: keep what was read before it
        problems.append(f"A part could not be read ({exc.__class__.__name__}: {exc}).")
    if not mail.from_email:
        problems.append("No sender address in From.")
    mail.auto_reason = _automatic(mail, message)
    return mail
