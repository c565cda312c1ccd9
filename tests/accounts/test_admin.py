import re

import pytest

from accounts.models import ApiToken, AwsConnection
from accounts.tokens import hash_token
from tests.accounts.factories import connection_for

pytestmark = pytest.mark.django_db

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    "url",
    [
        "/admin/accounts/account/",
        "/admin/accounts/apitoken/",
        "/admin/accounts/awsconnection/",
        "/admin/billing/plan/",
        "/admin/django_celery_beat/periodictask/",
    ],
)
def test_operator_pages_load(admin_client, account, url):
    connection_for(account)
    response = admin_client.get(url)
    assert response.status_code == 200


def test_account_page_shows_members_tokens_and_connections_inline(admin_client, account):
    connection_for(account, identifier="primary")
    ApiToken.objects.create(account=account, name="ci", prefix="ses_abcdefgh", token_hash="0" * 64, scopes=["full"])
    response = admin_client.get(f"/admin/accounts/account/{account.pk}/change/")
    content = response.content.decode()
    assert response.status_code == 200
    assert "primary" in content and "ses_abcdefgh" in content and "Memberships" in content


def test_creating_a_token_shows_the_secret_exactly_once(admin_client, account):
    response = admin_client.post(
        "/admin/accounts/apitoken/add/", {"account": account.pk, "name": "from admin", "scopes": ["full"]}
    )
    assert response.status_code == 200
    [plaintext] = re.findall(r'value="(ses_[A-Za-z0-9_-]+)"', response.content.decode())
    token = ApiToken.objects.get(name="from admin")
    assert token.token_hash == hash_token(plaintext)
    later = admin_client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    listing = admin_client.get("/admin/accounts/apitoken/").content.decode()
    assert plaintext not in later and plaintext not in listing
    assert token.prefix in listing


def test_aws_secret_is_never_displayed_and_blank_keeps_it(admin_client, account):
    connection = connection_for(account, role_arn="", access_key_id="AKIAIOSFODNN7EXAMPLE", secret_access_key=SECRET)
    page = admin_client.get(f"/admin/accounts/awsconnection/{connection.pk}/change/").content.decode()
    assert SECRET not in page
    assert SECRET not in admin_client.get("/admin/accounts/awsconnection/").content.decode()
    response = admin_client.post(
        f"/admin/accounts/awsconnection/{connection.pk}/change/",
        {
            "account": account.pk,
            "identifier": "renamed",
            "region": "us-east-1",
            "role_arn": "",
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "secret_access_key": "",
            "is_active": "on",
            "is_default": "on",
        },
    )
    assert response.status_code == 302
    connection.refresh_from_db()
    assert (connection.identifier, connection.secret_access_key, connection.is_default) == ("renamed", SECRET, True)


def test_admin_make_default_moves_the_flag(admin_client, account):
    first = connection_for(account, identifier="first")
    second = connection_for(account, identifier="second", is_default=False)
    response = admin_client.post(
        "/admin/accounts/awsconnection/",
        {"action": "make_default", "_selected_action": [second.pk]},
        follow=True,
    )
    assert "is now the default" in response.content.decode()
    assert AwsConnection.objects.get(is_default=True, account=account) == second
    first.refresh_from_db()
    assert not first.is_default


def test_suspend_action_blocks_the_accounts_tokens(admin_client, account, api):
    client = api(account)
    admin_client.post("/admin/accounts/account/", {"action": "suspend", "_selected_action": [account.pk]})
    assert client.get("/v1/account").status_code == 403
