"""The AWS calls the events app makes (SES configuration sets, SNS topics and subscriptions, CloudWatch).

The one module between the events app and boto3: clients come from accounts.aws, and every botocore failure
comes out as `AwsError` with AWS's own code and message. Only SES v1 actions are used for configuration
sets (moto 5.2 has them; it lacks the v2 event-destination calls). Where moto lacks a v1 action too
(`update_configuration_set_event_destination`, tracking options), tests replace that one function here.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from accounts.aws import AwsError
from accounts.aws import call as _call
from accounts.models import AwsConnection

__all__ = ["AwsError"]


# --- SES (v1) ---------------------------------------------------------------------------------------------


def configuration_set_exists(connection: AwsConnection, name: str) -> bool:
    try:
        _call(connection, "ses", "describe_configuration_set", ConfigurationSetName=name)
    except AwsError as exc:
        if "DoesNotExist" in exc.code:
            return False
        raise
    return True


def configuration_set_create(connection: AwsConnection, name: str) -> None:
    _call(connection, "ses", "create_configuration_set", ConfigurationSet={"Name": name})


def reputation_metrics_enable(connection: AwsConnection, name: str) -> None:
    _call(
        connection,
        "ses",
        "update_configuration_set_reputation_metrics_enabled",
        ConfigurationSetName=name,
        Enabled=True,
    )


def event_destinations(connection: AwsConnection, name: str) -> list[dict[str, Any]]:
    response = _call(
        connection,
        "ses",
        "describe_configuration_set",
        ConfigurationSetName=name,
        ConfigurationSetAttributeNames=["eventDestinations"],
    )
    return [d for d in response.get("EventDestinations") or [] if d]


def event_destination_create(connection: AwsConnection, name: str, destination: dict[str, Any]) -> None:
    _call(
        connection,
        "ses",
        "create_configuration_set_event_destination",
        ConfigurationSetName=name,
        EventDestination=destination,
    )


def event_destination_update(connection: AwsConnection, name: str, destination: dict[str, Any]) -> None:
    _call(
        connection,
        "ses",
        "update_configuration_set_event_destination",
        ConfigurationSetName=name,
        EventDestination=destination,
    )


def tracking_domain_put(connection: AwsConnection, name: str, domain: str) -> None:
    """Use `domain` for open and click tracking links (create, or update when it exists)."""
    options = {"CustomRedirectDomain": domain}
    try:
        _call(
            connection,
            "ses",
            "create_configuration_set_tracking_options",
            ConfigurationSetName=name,
            TrackingOptions=options,
        )
    except AwsError as exc:
        if "AlreadyExists" not in exc.code:
            raise
        _call(
            connection,
            "ses",
            "update_configuration_set_tracking_options",
            ConfigurationSetName=name,
            TrackingOptions=options,
        )


# --- SNS --------------------------------------------------------------------------------------------------


def topic_create(connection: AwsConnection, name: str) -> str:
    """Create the topic, or find it: CreateTopic is idempotent for the same name and attributes."""
    return str(_call(connection, "sns", "create_topic", Name=name)["TopicArn"])


def topic_exists(connection: AwsConnection, arn: str) -> bool:
    try:
        _call(connection, "sns", "get_topic_attributes", TopicArn=arn)
    except AwsError as exc:
        if exc.code in {"NotFound", "NotFoundException"}:
            return False
        raise
    return True


@dataclass(frozen=True)
class Subscription:
    arn: str
    protocol: str
    endpoint: str

    @property
    def pending(self) -> bool:
        return self.arn == "PendingConfirmation"


def subscriptions(connection: AwsConnection, topic_arn: str) -> list[Subscription]:
    found: list[Subscription] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"TopicArn": topic_arn, **({"NextToken": token} if token else {})}
        response = _call(connection, "sns", "list_subscriptions_by_topic", **params)
        found.extend(
            Subscription(s.get("SubscriptionArn", ""), s.get("Protocol", ""), s.get("Endpoint", ""))
            for s in response.get("Subscriptions", [])
        )
        token = response.get("NextToken")
        if not token:
            return found


def subscribe(connection: AwsConnection, topic_arn: str, protocol: str, endpoint: str) -> str:
    response = _call(
        connection,
        "sns",
        "subscribe",
        TopicArn=topic_arn,
        Protocol=protocol,
        Endpoint=endpoint,
        ReturnSubscriptionArn=True,
    )
    return str(response.get("SubscriptionArn", ""))


def subscription_confirm(connection: AwsConnection, topic_arn: str, token: str) -> str:
    # AuthenticateOnUnsubscribe: only the topic owner may remove the subscription, not anyone with the link.
    response = _call(
        connection, "sns", "confirm_subscription", TopicArn=topic_arn, Token=token, AuthenticateOnUnsubscribe="true"
    )
    return str(response.get("SubscriptionArn", ""))


# --- CloudWatch -------------------------------------------------------------------------------------------


def alarms(connection: AwsConnection, names: list[str]) -> dict[str, dict[str, Any]]:
    response = _call(connection, "cloudwatch", "describe_alarms", AlarmNames=names)
    return {a["AlarmName"]: a for a in response.get("MetricAlarms", [])}


def alarm_put(connection: AwsConnection, alarm: dict[str, Any]) -> None:
    _call(connection, "cloudwatch", "put_metric_alarm", **alarm)


def reputation_metric(connection: AwsConnection, metric: str, *, now: datetime) -> float | None:
    """The latest value of an AWS/SES reputation metric over the last 6 hours, or None when there is none."""
    response = _call(
        connection,
        "cloudwatch",
        "get_metric_statistics",
        Namespace="AWS/SES",
        MetricName=metric,
        StartTime=now - timedelta(hours=6),
        EndTime=now + timedelta(minutes=5),  # the newest period is still open
        Period=300,
        Statistics=["Maximum"],
    )
    points = sorted(response.get("Datapoints", []), key=lambda p: p["Timestamp"])
    return float(points[-1]["Maximum"]) if points else None
