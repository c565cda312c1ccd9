"""Every field of POST /v1/emails, each rejection a 422 in the documented shape."""

import pytest

from tests.emails.factories import email_body, sending_connection

pytestmark = pytest.mark.django_db

TEN_MB_OF_BASE64 = "QUFB" * (2_800_000)  # 8.4 MB of 'A', 11.2 MB once MIME-encoded with the body

CASES: list[tuple[dict[str, object], list[str | int], str, str]] = [
    # (overrides, loc, type, fragment of msg)
    ({"from": None}, ["body", "from"], "value_error.missing", "field required"),
    ({"to": None}, ["body", "to"], "value_error.missing", "field required"),
    ({"subject": None}, ["body", "subject"], "value_error.missing", "field required"),
    ({"subject": "   "}, ["body", "subject"], "value_error.blank", "blank"),
    ({"subject": "a\nBcc: x@y.z"}, ["body", "subject"], "value_error.invalid", "line breaks"),
    ({"text_body": None}, ["body", "html_body"], "value_error.missing", "html_body or text_body"),
    ({"from": "not-an-address"}, ["body", "from"], "value_error.email", "not an email address"),
    ({"to": "a@b.com, c@d.com"}, ["body", "to"], "value_error.email", "exactly one address"),
    ({"to": ["a@example.net"]}, ["body", "to"], "value_error.single", "single address"),
    ({"cc": ["ok@example.net", "broken"]}, ["body", "cc", 1], "value_error.email", "not an email address"),
    ({"cc": "x"}, ["body", "cc", 0], "value_error.email", "not an email address"),
    ({"bcc": 5}, ["body", "bcc"], "type_error.list", "list of addresses"),
    ({"reply_to": "Jon <jon@example.net"}, ["body", "reply_to"], "value_error.email", "angle brackets"),
    ({"cc": [f"u{i}@example.net" for i in range(50)]}, ["body", "cc"], "value_error.recipients", "at most 50"),
    ({"schedule_send_at": "tomorrow"}, ["body", "schedule_send_at"], "value_error.datetime", "ISO 8601"),
    (
        {"schedule_send_at": "2099-01-01T10:00:00"},
        ["body", "schedule_send_at"],
        "value_error.datetime.offset",
        "UTC offset",
    ),
    (
        {"schedule_send_at": "2001-01-01T10:00:00+00:00"},
        ["body", "schedule_send_at"],
        "value_error.datetime.past",
        "must be in the future",
    ),
    ({"priority": 0}, ["body", "priority"], "value_error.number", "from 1 (highest) to 100"),
    ({"priority": 101}, ["body", "priority"], "value_error.number", "from 1 (highest) to 100"),
    ({"priority": "high"}, ["body", "priority"], "type_error.integer", "integer"),
    ({"priority": True}, ["body", "priority"], "type_error.integer", "integer"),
    ({"custom_fields": ["a"]}, ["body", "custom_fields"], "type_error.dict", "key-value"),
    ({"custom_fields": {"k": {"nested": 1}}}, ["body", "custom_fields", "k"], "type_error.scalar", "values"),
    ({"tags": "vip"}, ["body", "tags"], "type_error.list", "list of strings"),
    ({"tags": ["ok", ""]}, ["body", "tags", 1], "value_error.invalid", "non-empty"),
    ({"config_identifier": "nope"}, ["body", "config_identifier"], "value_error.unknown", "no AWS connection named"),
    ({"headers": {"Subject": "x"}}, ["body", "headers", "Subject"], "value_error.reserved", "set by Sesame"),
    ({"headers": {"X-Ok": "a\r\nBcc: evil@x.y"}}, ["body", "headers", "X-Ok"], "value_error.invalid", "line breaks"),
    ({"headers": {"Bad Name": "x"}}, ["body", "headers", "Bad Name"], "value_error.invalid", "printable ASCII"),
    (
        {"attachments": [{"filename": "a.txt", "content_base64": "!!!"}]},
        ["body", "attachments", 0, "content_base64"],
        "value_error.base64",
        "base64",
    ),
    (
        {"attachments": [{"filename": "../a.txt", "content_base64": "aGk="}]},
        ["body", "attachments", 0, "filename"],
        "value_error.invalid",
        "without slashes",
    ),
    (
        {"attachments": [{"filename": "a.txt", "content_type": "pdf", "content_base64": "aGk="}]},
        ["body", "attachments", 0, "content_type"],
        "value_error.invalid",
        "MIME type",
    ),
    (
        {"attachments": [{"filename": "big.bin", "content_base64": TEN_MB_OF_BASE64}]},
        ["body"],
        "value_error.size",
        "at most 10 MB",
    ),
    (
        {"from": "someone@unverified.example"},
        ["body", "from"],
        "value_error.unverified_sender",
        "not a verified identity",
    ),
    ({"colour": "blue"}, ["body", "colour"], "value_error.extra", "Unknown field 'colour'"),
]


@pytest.mark.parametrize(("overrides", "loc", "error_type", "fragment"), CASES, ids=[str(c[1][1:]) for c in CASES])
def test_invalid_field_is_422_with_its_location(client_for, account, overrides, loc, error_type, fragment):
    sending_connection(account)
    response = client_for.post("/v1/emails", email_body(**overrides), format="json")
    assert response.status_code == 422, response.content
    entries = response.json()["detail"]
    matching = [e for e in entries if e["loc"] == loc]
    assert matching, entries
    assert matching[0]["type"] == error_type
    assert fragment in matching[0]["msg"]


def test_every_problem_is_reported_at_once(client_for, account):
    sending_connection(account)
    response = client_for.post("/v1/emails", {"from": "hello@example.com", "priority": 500}, format="json")
    assert response.status_code == 422
    locs = [entry["loc"] for entry in response.json()["detail"]]
    assert ["body", "to"] in locs and ["body", "subject"] in locs and ["body", "priority"] in locs
    assert ["body", "html_body"] in locs


def test_inactive_connection_is_422(client_for, account):
    sending_connection(account, is_active=False)
    response = client_for.post("/v1/emails", email_body(), format="json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "value_error.inactive"


def test_no_default_connection_is_422_saying_what_to_do(client_for, account):
    response = client_for.post("/v1/emails", email_body(), format="json")
    assert response.status_code == 422
    [entry] = response.json()["detail"]
    assert entry["loc"] == ["body", "config_identifier"]
    assert "pass config_identifier or mark one default" in entry["msg"]
