from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.session import Session
from moto import mock_aws

from accounts import aws
from config.delivery.errors import FailureKind, TransportError
from sms import transport as sms_transport


class FakeSandbox:
    """The SNS SMS sandbox actions moto lacks, faked at sms/transport.py's one sandbox function. SNS 'texts' each
    added number the code 424242."""

    CODE = "424242"

    def __init__(self) -> None:
        self.in_sandbox = True
        self.pending: set[str] = set()
        self.verified: set[str] = set()
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, client: Any, operation: str, **params: Any) -> Any:
        self.calls.append((operation, params))
        if operation == "get_sms_sandbox_account_status":
            return {"IsInSandbox": self.in_sandbox}
        if operation == "create_sms_sandbox_phone_number":
            self.pending.add(params["PhoneNumber"])
            return {}
        if operation == "verify_sms_sandbox_phone_number":
            if params["PhoneNumber"] not in self.pending or params["OneTimePassword"] != self.CODE:
                raise TransportError(FailureKind.PERMANENT, "VerificationException: Invalid one-time password")
            self.verified.add(params["PhoneNumber"])
            return {}
        raise AssertionError(f"unexpected sandbox call {operation}")


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> FakeSandbox:
    fake = FakeSandbox()
    monkeypatch.setattr(sms_transport, "_sandbox_call", fake)
    return fake


@pytest.fixture
def sns(settings: Any, sandbox: FakeSandbox) -> Iterator[Any]:
    """aws mode against moto (SNS, CloudWatch Logs, STS); the sandbox answers 'not in the sandbox' by default."""
    settings.SESAME_AWS_MODE = "aws"
    sandbox.in_sandbox = False
    aws.forget_all()
    with mock_aws():
        yield boto3.client("sns", region_name="us-east-1")
    aws.forget_all()


@pytest.fixture
def publish_calls(sns: Any) -> Iterator[list[dict[str, Any]]]:
    """The parameters of every SNS Publish call, as boto3 sent them to (moto's) SNS."""
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **kwargs: Any) -> None:
        calls.append(dict(params))

    original = Session.create_client

    def create_client(self: Session, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register("provide-client-params.sns.Publish", record)
        return client

    Session.create_client = create_client  # type: ignore[method-assign]
    aws.forget_all()
    yield calls
    Session.create_client = original  # type: ignore[method-assign]
