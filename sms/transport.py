"""SNS for SMS, seen from Sesame: publish a text, opt-outs, the SMS sandbox, and the delivery-status logs SNS writes
to CloudWatch Logs.

Two transports share this interface: `SnsSmsTransport` (boto3 through accounts.aws, the customer's AWS account) and
the local `SimulatorSmsTransport` (sms/simulator.py). Every failure is a `TransportError` whose `kind` tells the
delivery engine what to do. The SMS sandbox actions go through `_sandbox_call`, the one place tests fake (moto has
no GetSMSSandboxAccountStatus, CreateSMSSandboxPhoneNumber or VerifySMSSandboxPhoneNumber).
"""

import json
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from accounts import aws
from accounts.models import AwsConnection
from config.delivery.errors import FailureKind, TransportError

SUCCESS_LOG = "DirectPublishToPhoneNumber"
FAILURE_LOG = "DirectPublishToPhoneNumber/Failure"


@dataclass(frozen=True)
class OutgoingSms:
    sms_id: str
    phone_number: str
    text: str  # what the phone receives
    shown_text: str  # what Sesame may show (a passcode masked)
    attributes: dict[str, str]  # SNS message attribute name -> value, e.g. AWS.SNS.SMS.SMSType


@dataclass(frozen=True)
class LogEvent:
    event_id: str
    timestamp_ms: int
    message: dict[str, Any]  # the delivery-status record SNS wrote


@dataclass(frozen=True)
class LogPage:
    events: list[LogEvent]
    next_token: str | None


class SmsTransport(Protocol):
    def publish(self, connection: AwsConnection, message: OutgoingSms) -> str:
        """Hand the text to SNS; returns SNS's message id."""
        ...

    def opted_out(self, connection: AwsConnection, phone_number: str) -> bool: ...

    def opted_out_numbers(self, connection: AwsConnection) -> list[str]: ...

    def in_sandbox(self, connection: AwsConnection) -> bool: ...

    def sandbox_number_add(self, connection: AwsConnection, phone_number: str) -> None:
        """SNS texts a verification code to the number."""
        ...

    def sandbox_number_verify(self, connection: AwsConnection, phone_number: str, code: str) -> None: ...

    def aws_account_id(self, connection: AwsConnection) -> str: ...

    def delivery_status_provision(self, connection: AwsConnection, role_arn: str) -> None:
        """Have SNS log every SMS outcome (100% of successes) to CloudWatch Logs through `role_arn`."""
        ...

    def delivery_log_page(
        self, connection: AwsConnection, group: str, *, start_ms: int, next_token: str | None
    ) -> LogPage:
        """One page of the delivery-status log group `group` (see `log_group`), from `start_ms` or `next_token`."""
        ...


_THROTTLED = {"Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException"}
_PERMANENT = {
    "InvalidParameter",
    "InvalidParameterValue",
    "ParameterValueInvalid",
    "AuthorizationError",
    "OptedOut",
    "OptedOutException",
    "ValidationException",
    "VerificationException",
    "UserError",
}


def classify(error: ClientError) -> TransportError:
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "") or str(error)
    if code in _THROTTLED:
        return TransportError(FailureKind.THROTTLED, message)
    if code in _PERMANENT:
        return TransportError(FailureKind.PERMANENT, f"{code}: {message}")
    return TransportError(FailureKind.TRANSIENT, f"{code or 'Error'}: {message}")


def _call(client: Any, operation: str, **params: Any) -> Any:
    try:
        return getattr(client, operation)(**params)
    except ClientError as exc:
        raise classify(exc) from exc
    except BotoCoreError as exc:
        raise TransportError(FailureKind.TRANSIENT, f"{type(exc).__name__}: {exc}") from exc


def _sandbox_call(client: Any, operation: str, **params: Any) -> Any:
    """The SMS sandbox actions, the only calls of this module moto cannot answer (tests replace this function)."""
    return _call(client, operation, **params)


def log_group(connection: AwsConnection, aws_account_id: str, group: str) -> str:
    return f"sns/{connection.region}/{aws_account_id}/{group}"


class SnsSmsTransport:
    def publish(self, connection: AwsConnection, message: OutgoingSms) -> str:
        attributes = {
            name: {"DataType": "Number" if name == "AWS.SNS.SMS.MaxPrice" else "String", "StringValue": value}
            for name, value in message.attributes.items()
        }
        sns = aws.client(connection, "sns")
        response = _call(
            sns, "publish", PhoneNumber=message.phone_number, Message=message.text, MessageAttributes=attributes
        )
        return str(response["MessageId"])

    def opted_out(self, connection: AwsConnection, phone_number: str) -> bool:
        answer = _call(aws.client(connection, "sns"), "check_if_phone_number_is_opted_out", phoneNumber=phone_number)
        return bool(answer["isOptedOut"])

    def opted_out_numbers(self, connection: AwsConnection) -> list[str]:
        sns = aws.client(connection, "sns")
        numbers: list[str] = []
        token: str | None = None
        while True:
            page = _call(sns, "list_phone_numbers_opted_out", **({"nextToken": token} if token else {}))
            numbers.extend(page.get("phoneNumbers", []))
            token = page.get("nextToken")
            if not token:
                return numbers

    def in_sandbox(self, connection: AwsConnection) -> bool:
        answer = _sandbox_call(aws.client(connection, "sns"), "get_sms_sandbox_account_status")
        return bool(answer["IsInSandbox"])

    def sandbox_number_add(self, connection: AwsConnection, phone_number: str) -> None:
        _sandbox_call(aws.client(connection, "sns"), "create_sms_sandbox_phone_number", PhoneNumber=phone_number)

    def sandbox_number_verify(self, connection: AwsConnection, phone_number: str, code: str) -> None:
        _sandbox_call(
            aws.client(connection, "sns"),
            "verify_sms_sandbox_phone_number",
            PhoneNumber=phone_number,
            OneTimePassword=code,
        )

    def aws_account_id(self, connection: AwsConnection) -> str:
        if connection.uses_role:
            return connection.role_arn.split(":")[4]
        return str(_call(aws.client(connection, "sts"), "get_caller_identity")["Account"])

    def delivery_status_provision(self, connection: AwsConnection, role_arn: str) -> None:
        # Account-wide SMS preferences, set once here; every message carries its own type, sender and price.
        _call(
            aws.client(connection, "sns"),
            "set_sms_attributes",
            attributes={"DeliveryStatusIAMRole": role_arn, "DeliveryStatusSuccessSamplingRate": "100"},
        )

    def delivery_log_page(
        self, connection: AwsConnection, group: str, *, start_ms: int, next_token: str | None
    ) -> LogPage:
        params: dict[str, Any] = {"logGroupName": group, "startTime": start_ms, "limit": 1000}
        if next_token:
            params["nextToken"] = next_token
        try:
            page = aws.client(connection, "logs").filter_log_events(**params)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return LogPage([], None)  # SNS creates the group with its first SMS of that outcome
            raise classify(exc) from exc
        except BotoCoreError as exc:
            raise TransportError(FailureKind.TRANSIENT, f"{type(exc).__name__}: {exc}") from exc
        events = []
        for item in page.get("events", []):
            try:
                record = json.loads(item["message"])
            except (ValueError, TypeError):
                record = {"unparsed": str(item.get("message", ""))[:2000]}
            events.append(LogEvent(str(item["eventId"]), int(item["timestamp"]), record))
        return LogPage(events, page.get("nextToken"))


@cache
def _transport_for(mode: str) -> SmsTransport:
    if mode == "aws":
        return SnsSmsTransport()
    from sms.simulator import SimulatorSmsTransport

    return SimulatorSmsTransport()


def transport() -> SmsTransport:
    return _transport_for(settings.SESAME_AWS_MODE)
