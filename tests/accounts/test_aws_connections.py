import threading

import pytest
from django.db import IntegrityError, close_old_connections, connection

from accounts.models import AwsConnection
from tests.accounts.factories import connection_for

ROLE = "arn:aws:iam::123456789012:role/Sesame"


@pytest.mark.django_db
def test_making_a_connection_default_moves_the_flag(account, client_for):
    first = connection_for(account, identifier="first")
    second = client_for.post(
        "/v1/aws-connections",
        {"identifier": "second", "region": "us-west-2", "role_arn": ROLE, "is_default": True},
        format="json",
    )
    assert second.status_code == 201
    assert second.json()["is_default"] is True
    first.refresh_from_db()
    assert first.is_default is False
    assert AwsConnection.objects.filter(account=account, is_default=True).count() == 1


@pytest.mark.django_db
def test_duplicate_identifier_is_a_422(account, client_for):
    connection_for(account, identifier="main")
    response = client_for.post(
        "/v1/aws-connections", {"identifier": "main", "region": "us-east-1", "role_arn": ROLE}, format="json"
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "identifier"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "loc", "fragment"),
    [
        ({"identifier": "x", "region": "us-east-1"}, ["body", "role_arn"], "role_arn"),
        (
            {"identifier": "x", "region": "us-east-1", "role_arn": ROLE, "access_key_id": "AKIA"},
            ["body", "role_arn"],
            "not both",
        ),
        (
            {"identifier": "x", "region": "us-east-1", "access_key_id": "AKIA"},
            ["body", "secret_access_key"],
            "secret_access_key",
        ),
        ({"identifier": "x", "region": "mars", "role_arn": ROLE}, ["body", "region"], "region"),
        ({"identifier": "x", "region": "us-east-1", "role_arn": "arn:nope"}, ["body", "role_arn"], "IAM role ARN"),
        ({"identifier": "bad name!", "region": "us-east-1", "role_arn": ROLE}, ["body", "identifier"], "letters"),
    ],
)
def test_invalid_connection_bodies_are_422(client_for, body, loc, fragment):
    response = client_for.post("/v1/aws-connections", body, format="json")
    assert response.status_code == 422
    entry = response.json()["detail"][0]
    assert entry["loc"] == loc
    assert fragment in entry["msg"]


@pytest.mark.django_db(transaction=True)
def test_one_default_per_account_holds_under_racing_inserts(account):
    """Two connections inserted as default at the same moment: the database lets exactly one in."""
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def insert(identifier: str) -> None:
        try:
            barrier.wait()
            AwsConnection.objects.create(
                account=account, identifier=identifier, region="us-east-1", role_arn=ROLE, is_default=True
            )
            outcomes.append("created")
        except IntegrityError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=insert, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    close_old_connections()
    assert sorted(outcomes) == ["created", "refused"]
    assert AwsConnection.objects.filter(account=account, is_default=True).count() == 1
