from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from accounts import aws
from accounts.models import AwsConnection
from tests.accounts.factories import connection_for


@pytest.fixture
def sns(settings: Any) -> Iterator[Any]:
    """SESAME_AWS_MODE=aws against moto's SNS."""
    settings.SESAME_AWS_MODE = "aws"
    aws.forget_all()
    with mock_aws():
        yield boto3.client("sns", region_name="us-east-1")
    aws.forget_all()


@pytest.fixture
def moto_sns(sns: Any) -> Any:
    """moto's SNS backend, to read what was published and to flip endpoint attributes as SNS would."""
    return sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]


@pytest.fixture
def publishes(sns: Any) -> Iterator[list[dict[str, Any]]]:
    """The parameters of every SNS Publish call, as boto3 sent them."""
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **kwargs: Any) -> None:
        calls.append(dict(params))

    from botocore.session import Session

    original = Session.create_client

    def create_client(self: Session, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register("provide-client-params.sns.Publish", record)
        return client

    Session.create_client = create_client  # type: ignore[method-assign]
    aws.forget_all()
    yield calls
    Session.create_client = original  # type: ignore[method-assign]


@pytest.fixture
def connection(account: Any) -> AwsConnection:
    return connection_for(account)
