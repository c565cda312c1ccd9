"""Hostile input meets one boundary: every former 500 of the input audit is a 4xx that says where the problem is.

Text anywhere in a JSON body (values and keys, at any depth) is refused when it holds NUL, a lone surrogate or a
non-printing control character; date-times are range-checked; nesting and size are bounded before the JSON
decoder runs, for the API and for the SNS webhook. Around that: JSON 404s everywhere, 422 for a bad cursor or
limit, paginated token and connection lists, one OPTIONS answer, and a schema that says all of it.
"""

import base64
import json
import time
from typing import Any
from unittest import mock

import pytest
from django.test import Client, override_settings

from accounts.models import AwsConnection
from config.api.errors import error_entry, flatten_errors
from contacts.models import Contact, ContactEvent
from emails.models import Email
from events.models import SnsNotification
from tests.accounts.factories import connection_for
from tests.emails.factories import email_body, sending_connection

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000


@pytest.fixture
def client(api, account):
    sending_connection(account)
    return api(account)


def post_raw(client: Any, path: str, body: str | bytes, content_type: str = "application/json") -> Any:
    return client.generic("POST", path, body, content_type=content_type)


def only_error(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.content
    [entry] = response.json()["detail"]
    return entry


# --- text: NUL, lone surrogates, control characters ---------------------------------------------------------------

NUL_CASES = [
    ("/v1/emails", email_body(subject="a\u0000b"), ["body", "subject"]),
    ("/v1/emails", email_body(custom_fields={"order": "12\u000034"}), ["body", "custom_fields", "order"]),
    ("/v1/emails", email_body(custom_fields={"or\u0000der": 1}), ["body", "custom_fields", "or\u0000der"]),
    (
        "/v1/emails",
        email_body(attachments=[{"filename": "a\u0000.txt", "content_base64": "aGk="}]),
        ["body", "attachments", 0, "filename"],
    ),
    ("/v1/emails", email_body(cc=["ok@example.net", "x\u0000@example.net"]), ["body", "cc", 1]),
    (
        "/v1/emails/batch",
        {"emails": [email_body(), email_body(text_body="\u0000")]},
        ["body", "emails", 1, "text_body"],
    ),
    (
        "/v1/contacts",
        {"email": "jon@example.net", "attributes": {"prefs": {"colour": ["red", "gr\u0000een"]}}},
        ["body", "attributes", "prefs", "colour", 1],
    ),
    ("/v1/contacts", {"email": "jon@example.net", "full_name": "Jon\u0000"}, ["body", "full_name"]),
    ("/v1/events", {"email": "jon@example.net", "name": "sign\u0000up"}, ["body", "name"]),
    (
        "/v1/events",
        {"events": [{"email": "jon@example.net", "name": "x", "properties": {"k": "\u0000"}}]},
        ["body", "events", 0, "properties", "k"],
    ),
    ("/v1/tokens", {"name": "ci\u0000"}, ["body", "name"]),
]


@pytest.mark.parametrize(("path", "body", "loc"), NUL_CASES)
def test_nul_anywhere_in_a_body_is_422_at_its_path_and_stores_nothing(client, path, body, loc):
    response = client.post(path, body, format="json")
    entry = only_error(response)
    assert entry["loc"] == loc
    assert entry["type"] == "value_error.str.nul"
    assert "NUL" in entry["msg"]
    assert not Email.objects.exists() and not Contact.objects.exists() and not ContactEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ('{"from": "hello@example.com", "to": "a@example.net", "subject": "\\ud800", "text_body": "x"}', ["subject"]),
        (
            '{"from": "hello@example.com", "to": "a@example.net", "subject": "a", "text_body": "\\udfff x"}',
            ["text_body"],
        ),
        (
            '{"from": "hello@example.com", "to": "a@example.net", "subject": "a", "custom_fields": {"k": "\\udc80"}}',
            ["custom_fields", "k"],
        ),
    ],
)
def test_a_lone_surrogate_is_422_not_a_unicode_error(client, body, loc):
    entry = only_error(post_raw(client, "/v1/emails", body))
    assert entry["loc"] == ["body", *loc]
    assert entry["type"] == "value_error.str.surrogate"


def test_a_surrogate_pair_is_an_ordinary_character(client):
    body = '{"from": "hello@example.com", "to": "a@example.net", "subject": "Hi \\ud83d\\ude00", "text_body": "x"}'
    response = post_raw(client, "/v1/emails", body)
    assert response.status_code == 200, response.content
    assert Email.objects.get().subject == "Hi \U0001f600"


def test_a_key_that_is_a_lone_surrogate_is_reported_in_a_response_that_is_valid_utf8(client):
    response = post_raw(client, "/v1/emails", '{"\\ud800": 1}')
    assert response.status_code == 422
    response.content.decode("utf-8")  # strict: the error body itself must be encodable
    entry = next(e for e in response.json()["detail"] if e["type"] == "value_error.str.surrogate")
    assert entry["loc"] == ["body", "\\ud800"]


@pytest.mark.parametrize("char", ["\u0001", "\u0007", "\u001b", "\u007f", "\u0085", "\u009f"])
def test_non_printing_control_characters_are_refused(client, char):
    entry = only_error(client.post("/v1/emails", email_body(html_body=f"<p>a{char}b</p>"), format="json"))
    assert entry == {
        "loc": ["body", "html_body"],
        "msg": f"The text holds the control character U+{ord(char):04X} at position 4; tab, line feed and carriage "
        "return are the only ones allowed in text.",
        "type": "value_error.str.control_character",
    }


def test_tab_line_feed_and_carriage_return_stay_legal_in_multi_line_text(client):
    response = client.post("/v1/emails", email_body(text_body="Hi,\r\n\tthanks.\n"), format="json")
    assert response.status_code == 200, response.content
    assert Email.objects.get().text_body == "Hi,\r\n\tthanks.\n"


def test_keys_may_not_hold_line_breaks(client):
    entry = only_error(client.post("/v1/emails", email_body(custom_fields={"a\nb": 1}), format="json"))
    assert entry["loc"] == ["body", "custom_fields", "a\nb"]
    assert entry["type"] == "value_error.str.control_character"


def test_a_form_body_goes_through_the_same_boundary(api, account):
    response = api(account).post(
        "/add-contact", "email=jon%40example.net&full_name=J%00n", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 422
    assert response.json()["success"] is False and "full_name" in response.json()["error"]
    assert not Contact.objects.exists()


# --- the 422 builder never raises ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["²", "٣", "007", "\ud800", "", 5, None, 3.5, ("a", 1)])
def test_the_422_builder_takes_any_key(client, key):
    entries = flatten_errors({key: ["bad"]}, ["body"])
    assert entries[0]["loc"][0] == "body"
    json.dumps(entries, ensure_ascii=False).encode("utf-8")
    assert error_entry(["body", key], "x\ud800", "invalid")["msg"] == "x\\ud800"


@pytest.mark.parametrize("key", ["²", "123", "١٢"])
def test_an_unknown_field_with_a_numeric_looking_name_is_422_as_sent(client, key):
    for path, body in (("/v1/emails", email_body(**{key: 1})), ("/v1/tokens", {"name": "x", key: 1})):
        entry = only_error(client.post(path, body, format="json"))
        assert entry["loc"] == ["body", key]
        assert entry["type"] == "value_error.extra"


# --- numbers and date-times ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"])
def test_numbers_json_cannot_carry_are_refused(client, number):
    body = (
        '{"from": "hello@example.com", "to": "a@example.net", "subject": "s", "text_body": "t", '
        f'"custom_fields": {{"n": {number}}}}}'
    )
    entry = only_error(post_raw(client, "/v1/emails", body))
    assert entry["loc"] == ["body"] and entry["type"] == "value_error.number.not_finite"


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("2030-01-01T00:00:00+25:00", "value_error.datetime.offset"),
        ("2030-01-01T00:00:00-24:00", "value_error.datetime.offset"),
        ("2030-01-01T00:00:00+01:60", "value_error.datetime.offset"),
        ("2030-02-30T00:00:00+00:00", "value_error.datetime"),
        ("0001-01-01T00:00:00+01:00", "value_error.datetime.range"),
        ("9999-12-31T23:00:00-05:00", "value_error.datetime.range"),
    ],
)
def test_schedule_send_at_out_of_range_is_422(client, value, kind):
    entry = only_error(client.post("/v1/emails", email_body(schedule_send_at=value), format="json"))
    assert entry["loc"] == ["body", "schedule_send_at"]
    assert entry["type"] == kind
    assert not Email.objects.exists()


def test_an_offset_postgres_cannot_store_is_accepted_and_kept_in_utc(client):
    response = client.post("/v1/emails", email_body(schedule_send_at="2030-01-01T00:00:00-22:48"), format="json")
    assert response.status_code == 200, response.content
    assert Email.objects.get().send_at.isoformat() == "2030-01-01T22:48:00+00:00"


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "2030-01-01T00:00:00+25:00", "2030-13-01T00:00:00Z"])
def test_event_occurred_at_out_of_range_is_422(client, value):
    entry = only_error(
        client.post("/v1/events", {"email": "a@example.net", "name": "x", "occurred_at": value}, format="json")
    )
    assert entry["loc"] == ["body", "occurred_at"]


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2030-01-01T00:00+25:00"])
@pytest.mark.parametrize(
    "path", ["/v1/emails?created_after=", "/v1/contacts?last_seen_after=", "/v1/suppressions?created_after="]
)
def test_date_time_filters_out_of_range_are_422_at_the_parameter(client, path, value):
    from urllib.parse import quote

    entry = only_error(client.get(path + quote(value)))
    assert entry["loc"] == ["query", path.split("?")[1].rstrip("=")]


def test_a_date_time_filter_with_any_valid_offset_works(client):
    response = client.get("/v1/contacts?last_seen_after=0102-12-15T14%3A23%3A00-22%3A48")
    assert response.status_code == 200


@pytest.mark.parametrize("value", ["inf", "nan", "1e400", "-Infinity"])
def test_filters_matching_json_numbers_ignore_non_finite_readings(client, value):
    assert client.get(f"/v1/emails?custom_fields__order={value}").status_code == 200
    assert client.get(f"/v1/contacts?attribute=plan:{value}").status_code == 200


# --- nesting and size, before parsing -----------------------------------------------------------------------------


def test_100000_nested_brackets_on_emails_are_refused_before_the_decoder_runs(client):
    started = time.monotonic()
    with mock.patch("config.api.boundary.json") as decoder:
        response = post_raw(client, "/v1/emails", DEEP)
    assert time.monotonic() - started < 1.0
    decoder.loads.assert_not_called()
    entry = only_error(response)
    assert entry["loc"] == ["body"] and entry["type"] == "value_error.json.too_deep"


def test_deep_nesting_inside_a_field_is_refused_and_moderate_nesting_is_fine(client):
    def nested(levels):
        value: Any = "leaf"
        for _ in range(levels):
            value = {"k": value}
        return value

    deep = client.post("/v1/contacts", {"email": "a@example.net", "attributes": nested(40)}, format="json")
    assert only_error(deep)["type"] == "value_error.json.too_deep"
    fine = client.post("/v1/contacts", {"email": "a@example.net", "attributes": nested(25)}, format="json")
    assert fine.status_code == 201


@pytest.mark.parametrize("text", ["[" * 10_000 + "{" * 10_000, '\\"[' * 5_000, '"\\' + "{" * 5_000])
def test_brackets_inside_strings_do_not_count_as_nesting(client, text):
    response = client.post("/v1/emails", email_body(text_body=text), format="json")
    assert response.status_code == 200, response.content
    assert Email.objects.get().text_body == text


@override_settings(SESAME_API_MAX_JSON_ITEMS=1000)
def test_too_many_values_answer_413(client):
    response = client.post("/v1/emails", email_body(tags=["t"] * 2000), format="json")
    assert response.status_code == 413
    assert "1,000 JSON values" in response.json()["detail"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024 * 1024)
def test_a_body_over_the_size_limit_answers_413_without_being_parsed(client):
    response = client.post("/v1/emails", email_body(text_body="x" * (1024 * 1024)), format="json")
    assert response.status_code == 413
    assert "larger than 1 MB" in response.json()["detail"]


def test_a_charset_other_than_utf8_is_422_on_the_content_type(client):
    response = post_raw(client, "/v1/tokens", '{"name": "x"}', content_type="application/json; charset=latin-1")
    entry = only_error(response)
    assert entry["loc"] == ["header", "content-type"]


def test_bytes_that_are_not_utf8_are_malformed_json(client):
    entry = only_error(post_raw(client, "/v1/tokens", b'{"name": "\xff"}'))
    assert entry["loc"] == ["body"] and entry["type"] == "value_error.jsondecode"


# --- the SNS webhook ----------------------------------------------------------------------------------------------


@pytest.fixture
def sns_connection(account) -> AwsConnection:
    connection = connection_for(account, identifier="sns")
    AwsConnection.objects.filter(pk=connection.pk).update(sns_topic_arn="arn:aws:sns:us-east-1:123456789012:t")
    return connection


def test_deep_nesting_on_the_sns_webhook_is_400_fast_before_any_signature_check(sns_connection):
    started = time.monotonic()
    with mock.patch("events.sns.verify") as verify, mock.patch("events.sns.fetch_certificate_pem") as fetch:
        response = Client().post(
            f"/webhooks/sns/{sns_connection.pk}",
            DEEP,
            content_type="text/plain",
            HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        )
    assert time.monotonic() - started < 1.0
    assert response.status_code == 400
    assert "more than 8 levels" in response.json()["detail"]
    verify.assert_not_called()
    fetch.assert_not_called()
    assert not SnsNotification.objects.exists()


def test_an_sns_body_with_too_many_values_is_413(sns_connection):
    response = Client().post(
        f"/webhooks/sns/{sns_connection.pk}",
        "[" + "0," * 20_000 + "0]",
        content_type="text/plain",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
    )
    assert response.status_code == 413
    assert not SnsNotification.objects.exists()


# --- contract: cursors, limits, lists, 404s, OPTIONS ---------------------------------------------------------------


def _cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%00",
        _cursor("p=notadate"),
        _cursor("p=0001-01-01T00:00:00+01:00"),
        _cursor("o=-5"),
        _cursor("p=2026-01-01T00:00:00%00"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/emails", "/v1/tokens", "/v1/aws-connections", "/v1/contacts", "/v1/webhooks"])
def test_a_bad_cursor_is_422_naming_the_cursor(client, path, cursor):
    entry = only_error(client.get(f"{path}?cursor={cursor}"))
    assert entry["loc"] == ["query", "cursor"]
    assert "cursor" in entry["msg"]


def test_a_bad_cursor_on_a_timeline_is_422(client, account):
    contact = Contact.objects.create(account=account, email="a@example.net")
    entry = only_error(client.get(f"/v1/contacts/{contact.pk}/timeline?cursor=nope"))
    assert entry["loc"] == ["query", "cursor"]


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "501", "1.5", "٣"])
def test_a_bad_limit_is_422_naming_the_limit(client, limit):
    entry = only_error(client.get(f"/v1/emails?limit={limit}"))
    assert entry["loc"] == ["query", "limit"]


@pytest.mark.parametrize("path", ["/v1/tokens", "/v1/aws-connections"])
def test_tokens_and_connections_are_cursor_paginated_like_every_list(client, account, path):
    if path == "/v1/tokens":
        for n in range(2):
            client.post("/v1/tokens", {"name": f"t{n}"}, format="json")
    else:
        connection_for(account, identifier="second", is_default=False)
    first = client.get(f"{path}?limit=1").json()
    assert set(first) == {"next", "previous", "results"} and len(first["results"]) == 1
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 1 and second["results"][0]["id"] != first["results"][0]["id"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/contacts/abc",
        "/v1/segments/x1",
        "/v1/contacts/abc/timeline",
        "/v1/nope",
        "/nope",
        "/v1/emails/not-a-uuid",
        "/v1/tokens/abc",
    ],
)
def test_every_404_is_json(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_a_refused_method_on_a_plain_view_is_json_too(client):
    response = client.post("/healthz")
    assert response.status_code in (403, 405)
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/v1/contacts", "GET, POST, OPTIONS"),
        ("/v1/emails", "GET, POST, HEAD, OPTIONS"),
        ("/v1/tokens/1", "GET, DELETE, HEAD, OPTIONS"),
        ("/v1/aws-connections/00000000-0000-0000-0000-000000000000", "GET, PATCH, DELETE, OPTIONS"),
        ("/v1/events", "POST, OPTIONS"),
        ("/add-contact", "POST, OPTIONS"),
        ("/emails", "POST, OPTIONS"),
    ],
)
def test_options_answers_the_same_way_on_every_api_view(path, methods, api, account):
    for caller in (api(), api(account)):  # no token needed: it reveals the methods and nothing else
        response = caller.options(path)
        assert response.status_code == 200
        assert response["Allow"] == methods
        assert response.json() == {"methods": methods.split(", ")}


# --- the schema says all of it ------------------------------------------------------------------------------------


@pytest.fixture
def schema(api) -> dict[str, Any]:
    return api().get("/v1/schema?format=json").json()


def test_loc_items_are_strings_or_integers_in_the_schema(schema):
    item = schema["components"]["schemas"]["ValidationErrorItem"]["properties"]["loc"]["items"]
    assert item == {"anyOf": [{"type": "string"}, {"type": "integer"}]}


def test_every_operation_documents_the_errors_it_can_answer(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            where = {p["in"] for p in operation.get("parameters", [])}
            label = f"{method.upper()} {path}"
            assert {"403", "429"} <= codes, label
            if "path" in where:
                assert "404" in codes, label
            if "query" in where or "requestBody" in operation:
                assert "422" in codes, label
            if "requestBody" in operation:
                assert "413" in codes, label


def test_token_and_connection_lists_are_documented_as_pages(schema):
    for path in ("/v1/tokens", "/v1/aws-connections"):
        ok = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        ref = ok["schema"]["$ref"].rsplit("/", 1)[1]
        assert set(schema["components"]["schemas"][ref]["properties"]) == {"next", "previous", "results"}
        [example] = ok["examples"].values()
        assert isinstance(example["value"]["results"][0], dict) and "id" in example["value"]["results"][0]
