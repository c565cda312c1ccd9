"""Receiving mail for a domain: the SES receipt rule set and rule, created or repaired idempotently.

SES has one active receipt rule set per AWS account and region: an active one (the customer's own) is used as it
is, otherwise Sesame creates `sesame-inbound` and activates it. The rule sends the domain's mail to the
connection's SNS topic, the one the events webhook already verifies: with an SNS action (UTF-8), which carries
mail up to 150 KB (SES bounces larger mail), or, when a bucket is given, with an S3 action that stores mail of any
size (up to SES's 40 MB) and notifies the topic, and Sesame reads the message back from S3 through the connection.
"""

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.models import AwsConnection
from emails.inbox import aws
from emails.inbox.models import InboundDomain

RULE_SET = "sesame-inbound"


@dataclass
class InboundReport:
    inbound: InboundDomain
    steps: list[tuple[str, str, str]] = field(default_factory=list)  # (name, ok|created|repaired|failed, detail)

    @property
    def ok(self) -> bool:
        return all(status != "failed" for _, status, _ in self.steps)

    def lines(self) -> list[str]:
        return [f"[{status}] {name}: {detail}" for name, status, detail in self.steps]


def rule_name(connection: AwsConnection, domain: str) -> str:
    return f"sesame-{str(connection.pk)[:8]}-{domain}"[:64].rstrip(".-_")


def desired_rule(inbound: InboundDomain, topic_arn: str) -> dict[str, Any]:
    if inbound.bucket:
        action: dict[str, Any] = {
            "S3Action": {
                "BucketName": inbound.bucket,
                "ObjectKeyPrefix": f"sesame-inbound/{inbound.connection_id}/",
                "TopicArn": topic_arn,
            }
        }
    else:
        action = {"SNSAction": {"TopicArn": topic_arn, "Encoding": "UTF-8"}}
    return {
        "Name": inbound.rule_name,
        "Enabled": True,
        "TlsPolicy": "Optional",
        "Recipients": [inbound.domain],
        "Actions": [action],
        "ScanEnabled": True,  # SES's spam and virus verdicts
    }


def inbound_domain_provision(
    *, connection: AwsConnection, domain: str, bucket: str = "", acknowledgement_text: str | None = None
) -> InboundReport:
    """Record the inbound domain and create or repair its receipt rule; the report ends with the MX record."""
    domain = domain.strip().lower().rstrip(".")
    inbound, _ = InboundDomain.objects.get_or_create(
        connection=connection, domain=domain, defaults={"account_id": connection.account_id}
    )
    inbound.bucket = bucket
    inbound.rule_name = rule_name(connection, domain)
    if acknowledgement_text is not None:
        inbound.acknowledgement_text = acknowledgement_text
    report = InboundReport(inbound)
    if settings.SESAME_AWS_MODE == "simulator":
        report.steps.append(("Simulator", "ok", "nothing to create in AWS; the local simulator receives no mail"))
    else:
        _in_aws(report, connection)
    name, kind, value = inbound.mx_record
    report.steps.append(("MX record", "ok", f"publish {name}  {kind}  {value}"))
    inbound.last_report = [list(step) for step in report.steps]
    if report.ok:
        inbound.provisioned_at = timezone.now()
    inbound.save()
    return report


def _in_aws(report: InboundReport, connection: AwsConnection) -> None:
    inbound = report.inbound
    topic = connection.sns_topic_arn
    if not topic:
        report.steps.append(
            ("SNS topic", "failed", "the connection has no SNS topic yet: run `manage.py provision_connection` first")
        )
        return
    try:
        active = aws.active_rule_set(connection)
        if active:
            inbound.rule_set_name = active
            report.steps.append(("Receipt rule set", "ok", f"using the active rule set {active}"))
        else:
            inbound.rule_set_name = RULE_SET
            created = not aws.rule_set_exists(connection, RULE_SET)
            if created:
                aws.rule_set_create(connection, RULE_SET)
            aws.rule_set_activate(connection, RULE_SET)
            report.steps.append(
                ("Receipt rule set", "created" if created else "repaired", f"{RULE_SET} is the active rule set")
            )
        desired = desired_rule(inbound, topic)
        current = aws.rule(connection, inbound.rule_set_name, inbound.rule_name)
        via = f"S3 bucket {inbound.bucket}, then the topic" if inbound.bucket else "the topic (SNS action, UTF-8)"
        if current is None:
            aws.rule_create(connection, inbound.rule_set_name, desired)
            report.steps.append(
                ("Receipt rule", "created", f"{inbound.rule_name}: mail to {inbound.domain} goes to {via}")
            )
        elif any(current.get(key) != value for key, value in desired.items()):
            aws.rule_update(connection, inbound.rule_set_name, desired)
            report.steps.append(
                ("Receipt rule", "repaired", f"{inbound.rule_name}: mail to {inbound.domain} goes to {via}")
            )
        else:
            report.steps.append(("Receipt rule", "ok", f"{inbound.rule_name}: mail to {inbound.domain} goes to {via}"))
    except aws.AwsError as exc:
        report.steps.append(("Receipt rule", "failed", str(exc)))
