"""AWS set-up help for one connection: what is configured, what is missing, and the DNS records to publish.

Every check reports its own outcome; none stops the others (an AWS error or a DNS lookup that fails is reported in
its line). DNS is resolved with dnspython through the system's resolver configuration (/etc/resolv.conf).
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import dns.exception
import dns.resolver
from django.conf import settings

from accounts.models import AwsConnection
from emails.models import Identity
from emails.transport import TransportError, transport
from events import aws
from events.models import ConnectionProvisioning
from events.services.provisioning import webhook_url

# SES's sandbox allows 200 recipients a day at 1 per second; production raises both.
SANDBOX_DAILY_QUOTA = 200.0
DNS_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, warning, failed, info
    detail: str


@dataclass(frozen=True)
class DnsRecord:
    name: str
    type: str
    value: str
    purpose: str
    published: bool | None  # None: the lookup itself failed
    detail: str


@dataclass
class IdentityHealth:
    name: str
    kind: str
    status: str
    records: list[DnsRecord] = field(default_factory=list)


@dataclass
class ConnectionHealth:
    connection_id: str
    identifier: str
    region: str
    aws_mode: str
    checks: list[Check] = field(default_factory=list)
    identities: list[IdentityHealth] = field(default_factory=list)
    provisioning: list[dict[str, Any]] = field(default_factory=list)
    provisioned_at: str | None = None
    permissions_failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def dns_lookup(name: str, record_type: str) -> list[str]:
    """The record's values as text (TXT strings joined, CNAME targets without the final dot). Raises
    dns.resolver.NXDOMAIN / NoAnswer when there is none, dns.exception.DNSException when it cannot tell."""
    answer = dns.resolver.resolve(name, record_type, lifetime=DNS_TIMEOUT_SECONDS)
    if record_type == "TXT":
        return [b"".join(item.strings).decode(errors="replace") for item in answer]
    return [item.to_text().rstrip(".").lower() for item in answer]


def connection_health(*, connection: AwsConnection) -> ConnectionHealth:
    report = ConnectionHealth(
        connection_id=str(connection.pk),
        identifier=connection.identifier,
        region=connection.region,
        aws_mode=settings.SESAME_AWS_MODE,
    )
    report.checks.append(_ses_mode(connection))
    report.checks.append(_sms_sandbox(connection))
    simulated = settings.SESAME_AWS_MODE == "simulator"
    report.checks.append(_configuration_set(connection, simulated))
    report.checks.append(_subscription(connection, simulated))
    identities = list(Identity.objects.filter(connection=connection).order_by("name"))
    report.identities = _identities(identities)
    last = ConnectionProvisioning.objects.filter(connection=connection).first()
    if last is not None:
        report.provisioning = list(last.steps)
        report.provisioned_at = last.ran_at.isoformat()
        report.permissions_failed = sorted({step["permission"] for step in last.steps if step.get("permission")})
    return report


def _ses_mode(connection: AwsConnection) -> Check:
    try:
        quota = transport().send_quota(connection)
    except TransportError as exc:
        return Check("SES account", "failed", f"GetSendQuota failed: {exc}")
    numbers = f"{quota.max_24_hour_send:,.0f} recipients per 24 h at {quota.max_send_rate:g}/s"
    if quota.max_24_hour_send <= SANDBOX_DAILY_QUOTA:
        return Check(
            "SES account",
            "warning",
            f"Sandbox ({numbers}): only verified recipients receive mail. Request production access in the SES "
            f"console for {connection.region}.",
        )
    return Check("SES account", "ok", f"Production ({numbers}).")


def _sms_sandbox(connection: AwsConnection) -> Check:
    # The SMS channel keeps what it learns of a connection in its own row; events reads it by relation only.
    state = getattr(connection, "sms_state", None)
    if state is None or getattr(state, "sandbox_checked_at", None) is None:
        return Check("SMS sandbox", "info", "Not checked yet (the SMS channel checks every 10 minutes once it sends).")
    if state.in_sandbox:
        return Check(
            "SMS sandbox", "warning", "In the SNS SMS sandbox: only verified destination numbers receive texts."
        )
    return Check("SMS sandbox", "ok", "Out of the SNS SMS sandbox.")


def _configuration_set(connection: AwsConnection, simulated: bool) -> Check:
    name = connection.configuration_set
    if simulated:
        return Check("Configuration set", "ok", f"{name} (simulator: events are played back directly).")
    try:
        if not aws.configuration_set_exists(connection, name):
            return Check("Configuration set", "failed", f"{name} does not exist: run provision_connection.")
        destinations = aws.event_destinations(connection, name)
    except aws.AwsError as exc:
        return Check("Configuration set", "failed", str(exc))
    to_topic = [d for d in destinations if (d.get("SNSDestination") or {}).get("TopicARN") == connection.sns_topic_arn]
    if not to_topic:
        return Check("Configuration set", "warning", f"{name} exists but publishes no events to Sesame's topic.")
    return Check("Configuration set", "ok", f"{name} publishes its events to {connection.sns_topic_arn}.")


def _subscription(connection: AwsConnection, simulated: bool) -> Check:
    if simulated:
        return Check("SNS subscription", "ok", "Simulator: no SNS topic is needed.")
    if not connection.sns_topic_arn:
        return Check("SNS subscription", "failed", "No SNS topic yet: run provision_connection.")
    url = webhook_url(connection)
    try:
        found = [s for s in aws.subscriptions(connection, connection.sns_topic_arn) if s.endpoint == url]
    except aws.AwsError as exc:
        return Check("SNS subscription", "failed", str(exc))
    if not found:
        return Check("SNS subscription", "failed", f"{url} is not subscribed to the topic: run provision_connection.")
    if found[0].pending:
        return Check("SNS subscription", "warning", f"{url} is waiting for confirmation.")
    return Check("SNS subscription", "ok", f"{url} is subscribed and confirmed.")


def _identities(identities: list[Identity]) -> list[IdentityHealth]:
    wanted: list[tuple[int, str, str, str, str]] = []  # (identity index, name, type, value, purpose)
    for index, identity in enumerate(identities):
        if identity.kind != Identity.Kind.DOMAIN:
            continue
        for name, record_type, value in identity.dkim_records:
            wanted.append((index, name, record_type, value, "DKIM"))
        wanted.append((index, identity.name, "TXT", "v=spf1 include:amazonses.com ~all", "SPF"))
        wanted.append((index, f"_dmarc.{identity.name}", "TXT", "v=DMARC1; p=none;", "DMARC"))
    results = [IdentityHealth(identity.name, identity.kind, identity.status) for identity in identities]
    if not wanted:
        return results
    with ThreadPoolExecutor(max_workers=min(8, len(wanted))) as pool:
        checked = list(pool.map(lambda item: _check(*item[1:]), wanted))
    for (index, *_), record in zip(wanted, checked, strict=True):
        results[index].records.append(record)
    return results


def _check(name: str, record_type: str, value: str, purpose: str) -> DnsRecord:
    try:
        found = dns_lookup(name, record_type)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return DnsRecord(name, record_type, value, purpose, False, "Not published.")
    except dns.exception.DNSException as exc:
        return DnsRecord(name, record_type, value, purpose, None, f"Could not resolve: {type(exc).__name__}.")
    if purpose == "DKIM":
        published = value.lower() in found
    elif purpose == "SPF":
        spf = [text for text in found if text.lower().startswith("v=spf1")]
        published = any("include:amazonses.com" in text.lower() for text in spf)
        if spf and not published:
            return DnsRecord(name, record_type, value, purpose, False, f"SPF lacks include:amazonses.com: {spf[0]}")
    else:
        published = any(text.lower().startswith("v=dmarc1") for text in found)
    return DnsRecord(name, record_type, value, purpose, published, "Published." if published else "Not published.")
