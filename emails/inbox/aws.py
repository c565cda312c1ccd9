"""The AWS calls of the team inbox: SES receipt rule sets and rules (v1; moto 5.2 has all of them), and reading
a received message back from S3. The one module between the inbox and boto3; failures come out as `AwsError`."""

from typing import Any

from accounts.aws import AwsError, call
from accounts.models import AwsConnection

__all__ = ["AwsError"]


def active_rule_set(connection: AwsConnection) -> str | None:
    """The name of the region's active receipt rule set (SES allows one per account and region), or None."""
    metadata = call(connection, "ses", "describe_active_receipt_rule_set").get("Metadata") or {}
    return metadata.get("Name") or None


def rule_set_exists(connection: AwsConnection, name: str) -> bool:
    try:
        call(connection, "ses", "describe_receipt_rule_set", RuleSetName=name)
    except AwsError as exc:
        if "DoesNotExist" in exc.code:
            return False
        raise
    return True


def rule_set_create(connection: AwsConnection, name: str) -> None:
    call(connection, "ses", "create_receipt_rule_set", RuleSetName=name)


def rule_set_activate(connection: AwsConnection, name: str) -> None:
    call(connection, "ses", "set_active_receipt_rule_set", RuleSetName=name)


def rule(connection: AwsConnection, rule_set: str, name: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = (
            call(connection, "ses", "describe_receipt_rule", RuleSetName=rule_set, RuleName=name).get("Rule") or {}
        )
    except AwsError as exc:
        if "DoesNotExist" in exc.code:
            return None
        raise
    return found


def rule_create(connection: AwsConnection, rule_set: str, desired: dict[str, Any]) -> None:
    call(connection, "ses", "create_receipt_rule", RuleSetName=rule_set, Rule=desired)


def rule_update(connection: AwsConnection, rule_set: str, desired: dict[str, Any]) -> None:
    call(connection, "ses", "update_receipt_rule", RuleSetName=rule_set, Rule=desired)


def s3_object_size(connection: AwsConnection, bucket: str, key: str) -> int:
    return int(call(connection, "s3", "head_object", Bucket=bucket, Key=key)["ContentLength"])


def s3_object_read(connection: AwsConnection, bucket: str, key: str) -> bytes:
    body = call(connection, "s3", "get_object", Bucket=bucket, Key=key)["Body"]
    try:
        return bytes(body.read())
    finally:
        body.close()
