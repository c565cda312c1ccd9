"""Create or repair, idempotently, the AWS plumbing that brings a connection's SES events to Sesame.

Each step checks what exists first and reports ok / created / repaired / warning / failed, so running it again
is how an operator repairs a connection. The topic ARN is saved before the subscription is made: SNS posts
the SubscriptionConfirmation at once, and the webhook only accepts the connection's own topic.
"""

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.models import AwsConnection
from events import aws
from events.models import ConnectionProvisioning

# SES v1 event type names: everything, so open and click tracking are on for the configuration set.
ALL_EVENT_TYPES = [
    "send",
    "reject",
    "bounce",
    "complaint",
    "delivery",
    "open",
    "click",
    "renderingFailure",
    "deliveryDelay",
    "subscription",
]
ALARMS = (("bounce-rate", "Reputation.BounceRate", 0.05), ("complaint-rate", "Reputation.ComplaintRate", 0.001))


@dataclass(frozen=True)
class Step:
    name: str
    status: str  # ok, created, repaired, warning, failed
    detail: str
    permission: str = ""  # the IAM action AWS refused, when it did


_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "AuthorizationError", "UnauthorizedOperation"}
_ACTION_IN_MESSAGE = re.compile(r"perform:? ([a-z0-9-]+:[A-Za-z0-9]+)")


def denied_permission(error: aws.AwsError) -> str:
    """The IAM action an access-denied error names (`ses:CreateConfigurationSet`), or "" for other errors."""
    if error.code not in _DENIED_CODES:
        return ""
    found = _ACTION_IN_MESSAGE.search(str(error))
    return found.group(1) if found else error.code


@dataclass
class ProvisionReport:
    connection: AwsConnection
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.status != "failed" for step in self.steps)

    def lines(self) -> list[str]:
        return [f"[{step.status}] {step.name}: {step.detail}" for step in self.steps]


def webhook_url(connection: AwsConnection) -> str:
    return f"{settings.SESAME_PUBLIC_URL}/webhooks/sns/{connection.pk}"


def _short(connection: AwsConnection) -> str:
    return str(connection.pk)[:8]


def _run(report: ProvisionReport, name: str, action: Callable[[], tuple[str, str]]) -> bool:
    permission = ""
    try:
        status, detail = action()
    except aws.AwsError as exc:
        status, detail, permission = "failed", str(exc), denied_permission(exc)
    report.steps.append(Step(name, status, detail, permission))
    return status != "failed"


def connection_provision(*, connection: AwsConnection) -> ProvisionReport:
    report = ProvisionReport(connection)
    config_set = connection.configuration_set
    if settings.SESAME_AWS_MODE == "simulator":
        # The simulator calls no AWS: it plays SES's events straight into ingestion, so there is nothing to build.
        report.steps.append(
            Step("Simulator", "ok", "the local simulator delivers SES events directly; nothing to create in AWS")
        )
        _record(connection, configuration_set_name=config_set, provisioned_at=timezone.now())
        _keep(report)
        return report
    config_ok = _run(report, "Configuration set", lambda: _configuration_set(connection, config_set))
    if config_ok:
        _run(report, "Reputation metrics", lambda: _reputation_metrics(connection, config_set))
    topic: dict[str, str] = {}
    topic_ok = _run(report, "SNS topic", lambda: _topic(connection, topic))
    if config_ok and topic_ok:
        _run(report, "Event destination", lambda: _event_destination(connection, config_set, topic["arn"]))
        _run(report, "Open and click tracking", lambda: _tracking(connection, config_set))
    if topic_ok:
        _run(report, "Webhook subscription", lambda: _subscription(connection, topic["arn"]))
        for suffix, metric, threshold in ALARMS:
            _run(report, f"Alarm {metric}", partial(_alarm, connection, topic["arn"], suffix, metric, threshold))
    skipped = [name for name, ok in (("configuration set", config_ok), ("topic", topic_ok)) if not ok]
    if skipped:
        report.steps.append(Step("Later steps", "failed", f"Skipped: the {' and '.join(skipped)} step failed."))
    changes: dict[str, Any] = {"configuration_set_name": config_set}
    if report.ok:
        changes["provisioned_at"] = timezone.now()
    _record(connection, **changes)
    _keep(report)
    return report


def _keep(report: ProvisionReport) -> None:
    """The health page shows the last run: which steps failed and which IAM permissions AWS refused."""
    ConnectionProvisioning.objects.update_or_create(
        connection=report.connection,
        defaults={
            "account_id": report.connection.account_id,
            "steps": [asdict(step) for step in report.steps],
            "ran_at": timezone.now(),
        },
    )


def _record(connection: AwsConnection, **changes: Any) -> None:
    AwsConnection.objects.filter(pk=connection.pk).update(**changes)
    for name, value in changes.items():
        setattr(connection, name, value)


def _configuration_set(connection: AwsConnection, name: str) -> tuple[str, str]:
    if aws.configuration_set_exists(connection, name):
        return "ok", f"{name} exists."
    aws.configuration_set_create(connection, name)
    return "created", f"Created {name}."


def _reputation_metrics(connection: AwsConnection, name: str) -> tuple[str, str]:
    aws.reputation_metrics_enable(connection, name)
    return "ok", "Reputation metrics are on for the configuration set."


def _topic(connection: AwsConnection, out: dict[str, str]) -> tuple[str, str]:
    saved = connection.sns_topic_arn
    if saved and aws.topic_exists(connection, saved):
        out["arn"] = saved
        return "ok", f"{saved} exists."
    arn = aws.topic_create(connection, f"sesame-events-{connection.pk}")
    AwsConnection.objects.filter(pk=connection.pk).update(sns_topic_arn=arn)
    connection.sns_topic_arn = arn
    out["arn"] = arn
    return ("repaired", f"Re-created {arn} (the saved topic was gone).") if saved else ("created", f"Created {arn}.")


def _event_destination(connection: AwsConnection, config_set: str, topic_arn: str) -> tuple[str, str]:
    name = f"sesame-sns-{_short(connection)}"
    desired = {
        "Name": name,
        "Enabled": True,
        "MatchingEventTypes": ALL_EVENT_TYPES,
        "SNSDestination": {"TopicARN": topic_arn},
    }
    current = next((d for d in aws.event_destinations(connection, config_set) if d.get("Name") == name), None)
    if current is None:
        aws.event_destination_create(connection, config_set, desired)
        return "created", f"All event types of {config_set} go to the topic."
    same_topic = (current.get("SNSDestination") or {}).get("TopicARN") == topic_arn
    all_types = set(ALL_EVENT_TYPES) <= set(current.get("MatchingEventTypes") or [])
    if same_topic and all_types and current.get("Enabled") in (True, "true"):
        return "ok", f"{name} sends all event types to the topic."
    aws.event_destination_update(connection, config_set, desired)
    return "repaired", f"{name} now sends all event types to the topic, enabled."


def _tracking(connection: AwsConnection, config_set: str) -> tuple[str, str]:
    domain = settings.SESAME_TRACKING_REDIRECT_DOMAIN
    if not domain:
        return "ok", "On (open and click events are published); links use SES's own tracking domain."
    aws.tracking_domain_put(connection, config_set, domain)
    return "ok", f"On; links use {domain}."


def _subscription(connection: AwsConnection, topic_arn: str) -> tuple[str, str]:
    url = webhook_url(connection)
    protocol = "https" if url.startswith("https://") else "http"
    existing = aws.subscriptions(connection, topic_arn)
    mine = next((s for s in existing if s.endpoint == url and s.protocol == protocol), None)
    stale = [s.endpoint for s in existing if s.endpoint != url and f"/webhooks/sns/{connection.pk}" in s.endpoint]
    note = f" Other Sesame URLs still subscribed (remove them in SNS): {', '.join(stale)}." if stale else ""
    warning = (
        "" if protocol == "https" else " SESAME_PUBLIC_URL is not https: AWS delivers only to reachable endpoints."
    )
    if mine is None:
        aws.subscribe(connection, topic_arn, protocol, url)
        return (
            "created",
            f"Subscribed {url}; SNS now posts a SubscriptionConfirmation, which Sesame confirms.{note}{warning}",
        )
    if mine.pending:
        return "warning", f"{url} is waiting for confirmation (Sesame confirms it when SNS posts it).{note}{warning}"
    return ("warning" if warning or stale else "ok"), f"{url} is subscribed.{note}{warning}"


def _alarm(connection: AwsConnection, topic_arn: str, suffix: str, metric: str, threshold: float) -> tuple[str, str]:
    name = f"sesame-{_short(connection)}-{suffix}"
    desired: dict[str, Any] = {
        "AlarmName": name,
        "AlarmDescription": f"Sesame reputation protection: {metric} at SES's review level ({threshold:.1%}).",
        "Namespace": "AWS/SES",
        "MetricName": metric,
        "Statistic": "Maximum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": threshold,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": [topic_arn],
        "OKActions": [topic_arn],
        "ActionsEnabled": True,
    }
    current = aws.alarms(connection, [name]).get(name)
    if current is not None and all(current.get(key) == value for key, value in desired.items()):
        return "ok", f"{name} notifies the topic at ≥ {threshold:.1%}."
    aws.alarm_put(connection, desired)
    verb = "created" if current is None else "repaired"
    return verb, f"{name} notifies the topic at ≥ {threshold:.1%}."
