"""Validation of an email request body (Pendable's contract plus headers and attachments).

Plain Python rather than a DRF serializer: the batch endpoint validates 500 emails per call and must stay well
above 10,000 emails/s, and every problem is reported at once in the API's {loc, msg, type} shape.
"""

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from config.api.datetimes import InvalidDateTime, parse_iso_datetime
from config.api.errors import ErrorEntry, Loc, error_entry
from emails.addresses import Address, AddressError, parse_address

MAX_RECIPIENTS = 50
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
MAX_TAGS = 50
MAX_CUSTOM_FIELDS = 50

FIELDS = (
    "client_email_id",
    "from",
    "to",
    "cc",
    "bcc",
    "reply_to",
    "subject",
    "html_body",
    "text_body",
    "schedule_send_at",
    "custom_fields",
    "tags",
    "priority",
    "config_identifier",
    "headers",
    "attachments",
    # A send with a template: emails/templating/sending.py puts the rendered bodies in their place first.
    "template",
    "variables",
)
ATTACHMENT_FIELDS = ("filename", "content_type", "content_base64")

# Headers Sesame writes itself; letting callers set them would contradict the message's own fields.
RESERVED_HEADERS = {
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "reply-to",
    "sender",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "return-path",
}
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 ftext: printable ASCII except ':'
_CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")


@dataclass
class Attachment:
    filename: str
    content_type: str
    content_base64: str
    size: int


@dataclass
class EmailDraft:
    """A validated request, before policy (suppression, blocking) and storage."""

    sender: Address
    to: Address
    cc: list[Address]
    bcc: list[Address]
    reply_to: Address | None
    subject: str
    html_body: str | None
    text_body: str | None
    client_email_id: str | None = None
    schedule_send_at: datetime | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    priority: int = 50
    config_identifier: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)

    def estimated_size(self) -> int:
        """An upper bound of the MIME size: bodies may grow by a third when base64-encoded."""
        bodies = len((self.html_body or "").encode()) + len((self.text_body or "").encode())
        files = sum(a.size for a in self.attachments)
        headers = sum(len(k) + len(v) for k, v in self.headers.items()) + len(self.subject.encode()) * 2
        return int((bodies + files) * 1.4) + headers + 4096


class _Errors:
    def __init__(self, base: Loc) -> None:
        self.base = base
        self.entries: list[ErrorEntry] = []

    def add(self, path: Loc, msg: str, code: str = "invalid") -> None:
        self.entries.append(error_entry([*self.base, *path], msg, code))


def _text(
    data: Mapping[str, Any], name: str, errors: _Errors, *, required: bool = False, max_length: int | None = None
) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            errors.add([name], "field required", "required")
        return None
    if not isinstance(value, str):
        errors.add([name], f"must be a string, got {type(value).__name__}", "type_error.str")
        return None
    if required and not value.strip():
        errors.add([name], "must not be blank", "blank")
        return None
    if max_length is not None and len(value) > max_length:
        errors.add([name], f"at most {max_length} characters (got {len(value)})", "max_length")
        return None
    return value


def _address(value: Any, path: Loc, errors: _Errors) -> Address | None:
    try:
        return parse_address(value)
    except AddressError as exc:
        errors.add(path, str(exc), "value_error.email")
        return None


def _address_list(data: Mapping[str, Any], name: str, errors: _Errors) -> list[Address]:
    value = data.get(name)
    if value is None:
        return []
    if isinstance(value, str):  # a lone address is accepted as a list of one
        value = [value]
    if not isinstance(value, list):
        errors.add([name], f"must be a list of addresses, got {type(value).__name__}", "not_a_list")
        return []
    parsed = [_address(item, [name, index], errors) for index, item in enumerate(value)]
    return [address for address in parsed if address is not None]


def _schedule(data: Mapping[str, Any], errors: _Errors, now: datetime) -> datetime | None:
    value = data.get("schedule_send_at")
    if value is None:
        return None
    if not isinstance(value, str):
        errors.add(
            ["schedule_send_at"],
            "must be an ISO 8601 date-time, e.g. 2025-01-23T04:37:12+00:00",
            "value_error.datetime",
        )
        return None
    try:
        parsed = parse_iso_datetime(value)
    except InvalidDateTime as exc:
        errors.add(["schedule_send_at"], exc.message, exc.code)
        return None
    if timezone.is_naive(parsed):
        errors.add(
            ["schedule_send_at"],
            "must include a UTC offset, e.g. 2025-01-23T04:37:12+00:00",
            "value_error.datetime.offset",
        )
        return None
    if parsed <= now:
        errors.add(
            ["schedule_send_at"],
            f"must be in the future; {value} has passed (now {now.isoformat()})",
            "value_error.datetime.past",
        )
        return None
    return parsed


def _priority(data: Mapping[str, Any], errors: _Errors) -> int:
    value = data.get("priority", 50)
    if value is None:
        return 50
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(["priority"], "must be an integer from 1 (highest) to 100 (lowest)", "type_error.integer")
        return 50
    if not 1 <= value <= 100:
        errors.add(["priority"], f"must be from 1 (highest) to 100 (lowest), got {value}", "value_error.number")
        return 50
    return value


def _custom_fields(data: Mapping[str, Any], errors: _Errors) -> dict[str, Any]:
    value = data.get("custom_fields")
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.add(["custom_fields"], "must be an object of key-value pairs", "type_error.dict")
        return {}
    if len(value) > MAX_CUSTOM_FIELDS:
        errors.add(["custom_fields"], f"at most {MAX_CUSTOM_FIELDS} keys (got {len(value)})", "max_items")
    for key, item in value.items():
        if len(key) > 64:
            errors.add(["custom_fields", key], "keys are at most 64 characters", "max_length")
        if not isinstance(item, str | int | float | bool) and item is not None:
            errors.add(["custom_fields", key], "values must be strings, numbers, booleans or null", "type_error.scalar")
    return value


def _tags(data: Mapping[str, Any], errors: _Errors) -> list[str]:
    value = data.get("tags")
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(["tags"], "must be a list of strings", "not_a_list")
        return []
    if len(value) > MAX_TAGS:
        errors.add(["tags"], f"at most {MAX_TAGS} tags (got {len(value)})", "max_items")
    tags = []
    for index, tag in enumerate(value):
        if not isinstance(tag, str) or not tag.strip() or len(tag) > 100:
            errors.add(["tags", index], "each tag is a non-empty string of at most 100 characters", "invalid")
        else:
            tags.append(tag.strip())
    return list(dict.fromkeys(tags))


def _headers(data: Mapping[str, Any], errors: _Errors) -> dict[str, str]:
    value = data.get("headers")
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.add(["headers"], "must be an object of header names to values", "type_error.dict")
        return {}
    headers = {}
    for name, item in value.items():
        if not _HEADER_NAME.match(name):
            errors.add(["headers", name], "header names are printable ASCII without spaces or ':'", "invalid")
        elif name.lower() in RESERVED_HEADERS or name.lower().startswith("x-sesame-"):
            errors.add(
                ["headers", name],
                f"{name} is set by Sesame; use the email's own fields instead",
                "value_error.reserved",
            )
        elif not isinstance(item, str) or "\r" in item or "\n" in item:
            errors.add(["headers", name], "header values are strings without line breaks", "invalid")
        else:
            headers[name] = item
    return headers


def _attachments(data: Mapping[str, Any], errors: _Errors) -> list[Attachment]:
    value = data.get("attachments")
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(["attachments"], "must be a list of {filename, content_type, content_base64}", "not_a_list")
        return []
    attachments = []
    for index, item in enumerate(value):
        path: Loc = ["attachments", index]
        if not isinstance(item, dict):
            errors.add(path, "must be an object {filename, content_type, content_base64}", "type_error.dict")
            continue
        for key in item.keys() - set(ATTACHMENT_FIELDS):
            errors.add(
                [*path, key], f"Unknown field {key!r}; allowed fields are: {', '.join(ATTACHMENT_FIELDS)}.", "extra"
            )
        filename = item.get("filename")
        content_type = item.get("content_type") or "application/octet-stream"
        encoded = item.get("content_base64")
        ok = True
        if not isinstance(filename, str) or not filename.strip() or any(c in filename for c in "/\\\r\n"):
            errors.add([*path, "filename"], "required: a file name without slashes or line breaks", "invalid")
            ok = False
        if not isinstance(content_type, str) or not _CONTENT_TYPE.match(content_type):
            errors.add([*path, "content_type"], "must be a MIME type such as application/pdf", "invalid")
            ok = False
        size = 0
        if not isinstance(encoded, str):
            errors.add([*path, "content_base64"], "field required", "required")
            ok = False
        else:
            try:
                size = len(base64.b64decode(encoded, validate=True))
            except (binascii.Error, ValueError):
                errors.add(
                    [*path, "content_base64"],
                    "is not valid base64 (standard alphabet, with padding)",
                    "value_error.base64",
                )
                ok = False
        if ok:
            attachments.append(Attachment(str(filename), str(content_type), str(encoded), size))
    return attachments


def validate_email_body(
    data: Any, *, base: Loc | None = None, now: datetime | None = None
) -> tuple[EmailDraft | None, list[ErrorEntry]]:
    """Check one request body; returns the draft, or None and every problem found."""
    errors = _Errors(base if base is not None else ["body"])
    if not isinstance(data, Mapping):
        errors.add([], f"Expected a JSON object, got {type(data).__name__}.", "type_error.dict")
        return None, errors.entries
    for key in data.keys() - set(FIELDS):
        errors.add([key], f"Unknown field {key!r}; allowed fields are: {', '.join(sorted(FIELDS))}.", "extra")
    now = now or timezone.now()

    sender = _address(data["from"], ["from"], errors) if data.get("from") is not None else None
    if "from" not in data or data.get("from") is None:
        errors.add(["from"], "field required", "required")
    to_value = data.get("to")
    to = None
    if to_value is None:
        errors.add(["to"], "field required", "required")
    elif isinstance(to_value, list):
        errors.add(["to"], "takes a single address; put further recipients in cc or bcc", "value_error.single")
    else:
        to = _address(to_value, ["to"], errors)
    cc = _address_list(data, "cc", errors)
    bcc = _address_list(data, "bcc", errors)
    reply_to = _address(data["reply_to"], ["reply_to"], errors) if data.get("reply_to") is not None else None
    subject = _text(data, "subject", errors, required=True, max_length=998)
    if subject is not None and ("\r" in subject or "\n" in subject):
        errors.add(["subject"], "must not contain line breaks", "invalid")
    html_body = _text(data, "html_body", errors)
    text_body = _text(data, "text_body", errors)
    if not html_body and not text_body and "html_body" not in _failed(errors) and "text_body" not in _failed(errors):
        errors.add(
            ["html_body"],
            "html_body or text_body is required (send both for multipart/alternative)",
            "value_error.missing",
        )
    recipients = (1 if to_value is not None else 0) + len(cc) + len(bcc)
    if recipients > MAX_RECIPIENTS:
        errors.add(
            ["cc"],
            f"at most {MAX_RECIPIENTS} recipients in to, cc and bcc together (got {recipients}); split the message",
            "value_error.recipients",
        )
    client_email_id = _text(data, "client_email_id", errors, max_length=255)
    schedule_send_at = _schedule(data, errors, now)
    custom_fields = _custom_fields(data, errors)
    tags = _tags(data, errors)
    priority = _priority(data, errors)
    config_identifier = _text(data, "config_identifier", errors, max_length=64)
    headers = _headers(data, errors)
    attachments = _attachments(data, errors)
    if errors.entries or sender is None or to is None or subject is None:
        return None, errors.entries
    draft = EmailDraft(
        sender=sender,
        to=to,
        cc=cc,
        bcc=bcc,
        reply_to=reply_to,
        subject=subject,
        html_body=html_body,
        text_body=text_body,
        client_email_id=client_email_id or None,
        schedule_send_at=schedule_send_at,
        custom_fields=custom_fields,
        tags=tags,
        priority=priority,
        config_identifier=config_identifier,
        headers=headers,
        attachments=attachments,
    )
    return draft, []


def _failed(errors: _Errors) -> set[str]:
    """Top-level fields that already have an error, so one mistake is not reported twice."""
    depth = len(errors.base)
    return {str(entry["loc"][depth]) for entry in errors.entries if len(entry["loc"]) > depth}
