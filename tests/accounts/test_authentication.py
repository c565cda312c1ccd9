import pytest
from django.utils import timezone

from accounts import services
from accounts.models import Account, ApiToken

pytestmark = pytest.mark.django_db


def test_missing_token_answers_403_with_detail(api):
    response = api().get("/v1/account")
    assert response.status_code == 403
    assert response.json() == {"detail": "Missing API token; send `Authorization: Bearer <token>`."}


def test_unknown_token_answers_403(api, account):
    response = api(token="ses_thisTokenDoesNotExist0000000000000000000000").get("/v1/account")
    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid or revoked API token."}


def test_malformed_authorization_header_answers_403(api, account):
    client = api()
    client.credentials(HTTP_AUTHORIZATION="Token abc")
    response = client.get("/v1/account")
    assert response.status_code == 403
    assert "Bearer" in response.json()["detail"]


def test_revoked_token_answers_403(api, account):
    token, plaintext = services.api_token_create(account=account, name="old")
    services.api_token_revoke(token=token)
    response = api(token=plaintext).get("/v1/account")
    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid or revoked API token."}


def test_suspended_account_token_answers_403(api, account):
    client = api(account)
    services.account_set_status(account=account, status=Account.Status.SUSPENDED)
    response = client.get("/v1/account")
    assert response.status_code == 403
    assert "suspended" in response.json()["detail"]


def test_valid_token_sees_its_account(api, account):
    response = api(account).get("/v1/account")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(account.pk)
    assert body["plan"] == "enterprise"
    assert body["api_requests_per_minute"] == 60_000


def test_contacts_scope_token_cannot_use_full_scope_endpoints(api, account):
    response = api(account, scopes=("contacts",)).get("/v1/account")
    assert response.status_code == 403
    assert "'full'" in response.json()["detail"]


def test_use_is_recorded_on_the_token(api, account):
    token, plaintext = services.api_token_create(account=account, name="t")
    before = timezone.now()
    api(token=plaintext).get("/v1/account")
    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_at >= before


def test_token_api_creates_lists_and_revokes(client_for, api):
    created = client_for.post("/v1/tokens", {"name": "deploys", "scopes": ["contacts"]}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["token"].startswith("ses_") and body["prefix"] == body["token"][:12]
    listed = client_for.get("/v1/tokens").json()["results"]
    assert "token" not in listed[0]
    assert {t["name"] for t in listed} >= {"deploys"}
    assert client_for.delete(f"/v1/tokens/{body['id']}").status_code == 204
    assert api(token=body["token"]).get("/v1/account").status_code == 403
    assert ApiToken.objects.get(pk=body["id"]).revoked_at is not None
