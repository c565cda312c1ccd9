"""SNS mobile push, seen from Sesame: platform applications, platform endpoints and publishing to an endpoint.

Every SNS mobile-push call goes through this module. Two transports share the interface: `SnsPushTransport` (boto3,
the customer's AWS account) and the local `SimulatorPushTransport` (push/simulator.py). Every failure is a
`TransportError`; its reason starts with SNS's error code (`EndpointDisabled: ...`), which the push channel reads
to tell a dead token from a broken app.
"""

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from accounts import aws
from accounts.models import AwsConnection
from config.delivery.errors import FailureKind, TransportError

# SNS error codes the push channel acts on (a TransportError's reason starts with one of them).
ENDPOINT_DISABLED = "EndpointDisabled"
ENDPOINT_NOT_FOUND = "NotFound"
APP_DISABLED = "PlatformApplicationDisabled"

_THROTTLED = {"Throttling", "ThrottlingException", "Throttled", "KMSThrottling", "TooManyRequestsException"}
_PERMANENT = {
    ENDPOINT_DISABLED,
    ENDPOINT_NOT_FOUND,
    APP_DISABLED,
    "InvalidParameter",
    "InvalidParameterValue",
    "AuthorizationError",
    "InvalidSecurity",
    "KMSDisabled",
    "KMSNotFound",
    "KMSAccessDenied",
}
# SNS names the endpoint a duplicate token already has: "Endpoint arn:aws:sns:... already exists with the same Token".
_EXISTING_ENDPOINT = re.compile(r"Endpoint (arn:aws[a-z-]*:sns:\S+) already exists")


@dataclass(frozen=True)
class OutgoingPush:
    endpoint_arn: str
    message: str  # the MessageStructure=json document: {"default": ..., "<PLATFORM>": "<payload JSON>"}
    attributes: dict[str, str]  # AWS.SNS.MOBILE.* message attributes


@dataclass(frozen=True)
class EndpointState:
    token: str
    enabled: bool


class Transport(Protocol):
    def app_create(self, connection: AwsConnection, *, name: str, platform: str, attributes: dict[str, str]) -> str:
        """CreatePlatformApplication; returns its ARN."""
        ...

    def app_attributes(self, connection: AwsConnection, arn: str) -> dict[str, str]:
        """GetPlatformApplicationAttributes (credentials are never returned by SNS)."""
        ...

    def app_attributes_set(self, connection: AwsConnection, arn: str, attributes: dict[str, str]) -> None: ...

    def endpoint_create(self, connection: AwsConnection, *, app_arn: str, token: str, user_data: str) -> str:
        """CreatePlatformEndpoint; returns the endpoint ARN (SNS answers the existing one for a known token)."""
        ...

    def endpoint_get(self, connection: AwsConnection, arn: str) -> EndpointState | None:
        """GetEndpointAttributes; None when the endpoint was deleted."""
        ...

    def endpoint_set(
        self, connection: AwsConnection, arn: str, *, token: str | None = None, enabled: bool | None = None
    ) -> None: ...

    def endpoint_delete(self, connection: AwsConnection, arn: str) -> None: ...

    def publish(self, connection: AwsConnection, push: OutgoingPush) -> str:
        """Publish to one endpoint; returns SNS's message id."""
        ...


def error_code(reason: str) -> str:
    """The SNS error code a TransportError's reason starts with ('' when it has none)."""
    code, sep, _ = reason.partition(":")
    return code if sep and " " not in code else ""


def existing_endpoint(error: TransportError) -> str | None:
    """The endpoint ARN SNS names when CreatePlatformEndpoint meets a known token with other attributes."""
    found = _EXISTING_ENDPOINT.search(error.reason)
    return found.group(1) if found else None


def classify(error: ClientError) -> TransportError:
    code = str(error.response.get("Error", {}).get("Code", ""))
    message = str(error.response.get("Error", {}).get("Message", "") or error)
    if code in _THROTTLED:
        return TransportError(FailureKind.THROTTLED, f"{code}: {message}")
    if code in _PERMANENT:
        return TransportError(FailureKind.PERMANENT, f"{code}: {message}")
    return TransportError(FailureKind.TRANSIENT, f"{code or 'Error'}: {message}")


def _call(method: Any, **params: Any) -> Any:
    try:
        return method(**params)
    except ClientError as exc:
        raise classify(exc) from exc
    except BotoCoreError as exc:
        raise TransportError(FailureKind.TRANSIENT, f"{type(exc).__name__}: {exc}") from exc


class SnsPushTransport:
    def app_create(self, connection: AwsConnection, *, name: str, platform: str, attributes: dict[str, str]) -> str:
        sns = aws.client(connection, "sns")
        response = _call(sns.create_platform_application, Name=name, Platform=platform, Attributes=attributes)
        return str(response["PlatformApplicationArn"])

    def app_attributes(self, connection: AwsConnection, arn: str) -> dict[str, str]:
        sns = aws.client(connection, "sns")
        response = _call(sns.get_platform_application_attributes, PlatformApplicationArn=arn)
        return dict(response.get("Attributes", {}))

    def app_attributes_set(self, connection: AwsConnection, arn: str, attributes: dict[str, str]) -> None:
        sns = aws.client(connection, "sns")
        _call(sns.set_platform_application_attributes, PlatformApplicationArn=arn, Attributes=attributes)

    def endpoint_create(self, connection: AwsConnection, *, app_arn: str, token: str, user_data: str) -> str:
        sns = aws.client(connection, "sns")
        response = _call(
            sns.create_platform_endpoint, PlatformApplicationArn=app_arn, Token=token, CustomUserData=user_data
        )
        return str(response["EndpointArn"])

    def endpoint_get(self, connection: AwsConnection, arn: str) -> EndpointState | None:
        sns = aws.client(connection, "sns")
        try:
            attributes = _call(sns.get_endpoint_attributes, EndpointArn=arn)["Attributes"]
        except TransportError as error:
            if error_code(error.reason) == ENDPOINT_NOT_FOUND:
                return None
            raise
        return EndpointState(token=str(attributes.get("Token", "")), enabled=_is_true(attributes.get("Enabled")))

    def endpoint_set(
        self, connection: AwsConnection, arn: str, *, token: str | None = None, enabled: bool | None = None
    ) -> None:
        attributes: dict[str, str] = {}
        if token is not None:
            attributes["Token"] = token
        if enabled is not None:
            attributes["Enabled"] = "true" if enabled else "false"
        sns = aws.client(connection, "sns")
        _call(sns.set_endpoint_attributes, EndpointArn=arn, Attributes=attributes)

    def endpoint_delete(self, connection: AwsConnection, arn: str) -> None:
        sns = aws.client(connection, "sns")
        _call(sns.delete_endpoint, EndpointArn=arn)

    def publish(self, connection: AwsConnection, push: OutgoingPush) -> str:
        sns = aws.client(connection, "sns")
        response = _call(
            sns.publish,
            TargetArn=push.endpoint_arn,
            Message=push.message,
            MessageStructure="json",
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value} for name, value in push.attributes.items()
            },
        )
        return str(response["MessageId"])


def _is_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


@cache
def _transport_for(mode: str) -> Transport:
    if mode == "aws":
        return SnsPushTransport()
    from push.simulator import SimulatorPushTransport

    return SimulatorPushTransport()


def transport() -> Transport:
    return _transport_for(settings.SESAME_AWS_MODE)
