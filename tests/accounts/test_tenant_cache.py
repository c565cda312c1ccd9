"""Each web process caches a token's tenant context (accounts/tenant_cache.py); a change made anywhere must take
effect on the very next request in every process. Two real gunicorn processes serve the test database here."""

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from accounts.services import account_set_status, api_token_create
from billing.models import Plan
from contacts.subscriptions import Source, contact_unsubscribe, preference_settings_update
from emails.models import Identity
from tests.contacts.factories import contact_for
from tests.emails.factories import sending_connection


@pytest.fixture
def two_servers(start_web: Callable[..., str]) -> list[str]:
    return [start_web("-w", "1") for _ in range(2)]


def call(url: str, token: str, path: str, *, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


EMAIL = {"from": "hello@example.com", "to": "someone@example.net", "subject": "Hi", "text_body": "Hello"}


def warm(urls: list[str], token: str) -> None:
    """Both processes have the context cached: each has accepted an email with this token."""
    for url in urls:
        status, body = call(url, token, "/v1/emails", method="POST", body=EMAIL)
        assert status == 200, body


def test_a_revoked_token_is_refused_by_the_other_process_on_the_next_request(two_servers, account):
    sending_connection(account)
    token_row, token = api_token_create(account=account, name="cached")
    _, admin_token = api_token_create(account=account, name="admin")
    warm(two_servers, token)

    first, second = two_servers
    assert call(first, admin_token, f"/v1/tokens/{token_row.pk}", method="DELETE")[0] == 204
    status, body = call(second, token, "/v1/emails", method="POST", body=EMAIL)
    assert (status, body) == (403, {"detail": "Invalid or revoked API token."})
    assert call(first, token, "/v1/account")[0] == 403


def test_a_suspended_account_is_refused_in_every_process_and_reactivation_lets_it_back(two_servers, account):
    sending_connection(account)
    _, token = api_token_create(account=account, name="cached")
    warm(two_servers, token)

    account_set_status(account=account, status=account.Status.SUSPENDED)
    for url in two_servers:
        status, body = call(url, token, "/v1/emails", method="POST", body=EMAIL)
        assert (status, body["detail"]) == (403, "This account is suspended; contact your Sesame operator.")

    account_set_status(account=account, status=account.Status.ACTIVE)
    assert [call(url, token, "/v1/account")[0] for url in two_servers] == [200, 200]


def test_a_removed_identity_stops_accepting_from_it_on_the_next_request(two_servers, account):
    sending_connection(account)
    _, token = api_token_create(account=account, name="cached")
    warm(two_servers, token)

    Identity.objects.filter(account=account).delete()
    for url in two_servers:
        status, body = call(url, token, "/v1/emails", method="POST", body=EMAIL)
        assert status == 422
        assert body["detail"][0]["type"] == "value_error.unverified_sender"


def test_a_plan_change_takes_effect_on_the_next_request(two_servers, account):
    _, token = api_token_create(account=account, name="cached")
    for url in two_servers:
        assert call(url, token, "/v1/account")[0] == 200

    plan = Plan.objects.get(pk=account.plan_id)
    plan.api_requests_per_minute = 3  # as an operator edits it in the admin
    plan.save()
    # Two calls are already in this minute's window: one more is allowed, in whichever process, then 429s.
    statuses = [call(url, token, "/v1/account")[0] for url in two_servers for _ in range(2)]
    assert statuses == [200, 429, 429, 429]


def test_a_newly_blocked_domain_and_the_unsubscribe_setting_apply_in_the_other_process_on_the_next_request(
    two_servers, account
):
    sending_connection(account)
    _, token = api_token_create(account=account, name="cached")
    warm(two_servers, token)
    first, second = two_servers

    assert call(first, token, "/v1/blocked-domains", method="POST", body={"domain": "example.net"})[0] == 201
    status, body = call(second, token, "/v1/emails", method="POST", body=EMAIL)
    assert (status, body["status"]) == (200, "suppressed")
    detail = call(second, token, f"/v1/emails/{body['id']}")[1]
    assert detail["dropped_recipients"] == [{"address": "someone@example.net", "reason": "blocked_domain"}]

    contact_unsubscribe(contact=contact_for(account, email="ann@example.org"), topic=None, source=Source.API)
    to_ann = {**EMAIL, "to": "ann@example.org"}
    assert call(second, token, "/v1/emails", method="POST", body=to_ann)[1]["status"] == "queued"
    preference_settings_update(account_id=account.pk, unsubscribe_stops_transactional=True)  # as the admin saves it
    for url in two_servers:
        assert call(url, token, "/v1/emails", method="POST", body=to_ann)[1]["status"] == "suppressed"
