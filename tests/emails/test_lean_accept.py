"""POST /v1/emails answers the same through its lean path (emails/api/lean.py) as through the DRF view.

Each case is sent twice: as clients send it (the lean path), and with an Accept header only DRF negotiates (the
DRF view). Status, body and the headers a client reads must be equal."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken
from emails.api.emails import EmailViewSet
from emails.models import Email
from tests.accounts.factories import token_for
from tests.emails.factories import email_body, sending_connection

pytestmark = pytest.mark.django_db

DRF_ONLY_ACCEPT = "application/json, text/plain;q=0.5"  # valid JSON negotiation, outside the lean path's set
HEADERS = ("Content-Type", "Allow", "Retry-After", "x-ratelimit-limit")


@pytest.fixture
def drf_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The requests the DRF view served (the lean path never reaches it)."""
    calls: list[str] = []
    original = EmailViewSet.initial

    def initial(self: EmailViewSet, request: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(request.method)
        original(self, request, *args, **kwargs)

    monkeypatch.setattr(EmailViewSet, "initial", initial)
    yield calls


def _post(token: str, body: bytes, *, content_type: str = "application/json", accept: str | None = None) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    if accept:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT=accept)
    return client.generic("POST", "/v1/emails", body.decode("latin-1"), content_type=content_type)


def _seen(response: Any) -> tuple[int, Any, dict[str, str]]:
    body = response.json()
    for key in ("id", "pendable_id", "pendable_received_on", "send_at"):
        if isinstance(body, dict) and key in body and response.status_code == 200:
            body[key] = "<varies>"
    return response.status_code, body, {h: response[h] for h in HEADERS if h in response}


def _both(token: str, body: bytes, drf_calls: list[str], **kwargs: Any) -> tuple[Any, Any]:
    lean = _post(token, body, **kwargs)
    assert drf_calls == [], "the lean path handed the request to DRF"
    full = _post(token, body, accept=DRF_ONLY_ACCEPT, **kwargs)
    assert drf_calls == ["POST"], "the DRF view did not serve the negotiated request"
    drf_calls.clear()
    return _seen(lean), _seen(full)


def _json(**overrides: Any) -> bytes:
    return json.dumps(email_body(**overrides)).encode()


def test_an_accepted_email_answers_the_same(account, drf_calls):
    sending_connection(account)
    lean, full = _both(token_for(account), _json(), drf_calls)
    assert lean == full
    assert lean[0] == 200 and lean[1]["status"] == "queued"
    assert lean[2]["Allow"] == "GET, POST, HEAD, OPTIONS"
    assert Email.objects.filter(account=account).count() == 2


@pytest.mark.parametrize(
    ("case", "body", "content_type", "status"),
    [
        ("missing fields", b"{}", "application/json", 422),
        ("malformed JSON", b'{"to": ', "application/json", 422),
        ("not an object", b"[1, 2]", "application/json", 422),
        ("latin-1 charset", b"{}", "application/json; charset=latin-1", 422),
        ("unverified sender", _json(**{"from": "ceo@elsewhere.org"}), "application/json", 422),
    ],
)
def test_refusals_answer_the_same(account, drf_calls, case, body, content_type, status):
    sending_connection(account)
    lean, full = _both(token_for(account), body, drf_calls, content_type=content_type)
    assert lean == full, case
    assert lean[0] == status and lean[1]["detail"], case
    assert not Email.objects.exists()


def test_a_repeated_client_email_id_answers_the_same(account, drf_calls):
    sending_connection(account)
    token = token_for(account)
    first = _post(token, _json(client_email_id="order-7")).json()
    lean, full = _both(token, _json(client_email_id="order-7"), drf_calls)
    assert lean == full
    assert lean[0] == 409 and lean[1]["pendable_id"] == first["id"]


def test_token_problems_answer_the_same(account, drf_calls):
    sending_connection(account)
    revoked = token_for(account)
    ApiToken.objects.filter(account=account).update(revoked_at="2026-01-01T00:00:00Z")
    lean, full = _both(revoked, _json(), drf_calls)
    assert lean == full and lean[:2] == (403, {"detail": "Invalid or revoked API token."})

    contacts_only = token_for(account, scopes=("contacts",), name="form")
    lean, full = _both(contacts_only, _json(), drf_calls)
    assert lean == full and lean[0] == 403 and "do not include 'full'" in lean[1]["detail"]
    assert not Email.objects.exists()


def test_a_form_body_or_an_empty_body_goes_to_the_drf_view(account, drf_calls):
    sending_connection(account)
    token = token_for(account)
    form = _post(token, b"to=a%40b.com", content_type="application/x-www-form-urlencoded")
    empty = _post(token, b"")
    assert drf_calls == ["POST", "POST"]
    assert form.status_code == 422 and "Content-Type" in form.json()["detail"][0]["msg"]
    assert empty.status_code == 422
