import pytest
from django.db import connection

from accounts import services
from accounts.tokens import hash_token
from tests.accounts.factories import connection_for

pytestmark = pytest.mark.django_db

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _raw_rows(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608  (fixed table names)
        return cursor.fetchall()


def test_api_token_plaintext_is_not_stored(account):
    token, plaintext = services.api_token_create(account=account, name="t")
    rows = _raw_rows("accounts_apitoken")
    flattened = " ".join(str(value) for row in rows for value in row)
    assert plaintext not in flattened
    assert hash_token(plaintext) in flattened
    assert token.prefix in flattened and len(token.prefix) == 12


def test_aws_secret_is_encrypted_in_the_database(account):
    connection_obj = connection_for(
        account, role_arn="", access_key_id="AKIAIOSFODNN7EXAMPLE", secret_access_key=SECRET
    )
    rows = _raw_rows("accounts_awsconnection")
    flattened = " ".join(str(value) for row in rows for value in row)
    assert SECRET not in flattened
    assert "AKIAIOSFODNN7EXAMPLE" in flattened  # the key id is not secret; only the secret is hidden
    connection_obj.refresh_from_db()
    assert connection_obj.secret_access_key == SECRET


def test_api_never_returns_the_aws_secret(client_for):
    response = client_for.post(
        "/v1/aws-connections",
        {
            "identifier": "keys",
            "region": "eu-west-1",
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "secret_access_key": SECRET,
        },
        format="json",
    )
    assert response.status_code == 201
    assert SECRET not in response.content.decode()
    assert response.json()["credentials"] == "access_key"
    assert SECRET not in client_for.get("/v1/aws-connections").content.decode()
