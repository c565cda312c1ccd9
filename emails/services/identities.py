from django.db import transaction
from django.utils import timezone

from accounts.models import AwsConnection
from emails.models import Identity
from emails.transport import SendQuota, TransportError, transport

# SES's verification states, collapsed to what Sesame shows.
_STATUS_FROM_SES = {
    "Success": Identity.Status.VERIFIED,
    "Failed": Identity.Status.FAILED,
    "Pending": Identity.Status.PENDING,
    "TemporaryFailure": Identity.Status.PENDING,
    "NotStarted": Identity.Status.PENDING,
}


@transaction.atomic
def identity_add(*, connection: AwsConnection, name: str) -> Identity:
    """Create (or re-request) the SES identity and record it with its DKIM tokens."""
    normalized = name.strip().lower()
    is_domain = "@" not in normalized
    tokens = transport().identity_create(connection, normalized, is_domain=is_domain)
    identity, _ = Identity.objects.update_or_create(
        connection=connection,
        name=normalized,
        defaults={
            "account": connection.account,
            "kind": Identity.Kind.DOMAIN if is_domain else Identity.Kind.ADDRESS,
            "dkim_tokens": tokens,
        },
    )
    identity_refresh(connection=connection, identities=[identity])
    identity.refresh_from_db()
    return identity


def identity_refresh(*, connection: AwsConnection, identities: list[Identity] | None = None) -> int:
    """Update cached verification states from SES; sends read the cache, never SES."""
    rows = identities if identities is not None else list(connection.identities.all())
    if not rows:
        return 0
    statuses = transport().identity_statuses(connection, [row.name for row in rows])
    now = timezone.now()
    for row in rows:
        row.status = _STATUS_FROM_SES.get(statuses.get(row.name, "NotStarted"), Identity.Status.PENDING)
        row.checked_at = now
    Identity.objects.bulk_update(rows, ["status", "checked_at"])
    return len(rows)


def connection_refresh_send_quota(*, connection: AwsConnection) -> SendQuota | None:
    """Read SES's max send rate and 24-hour quota; lift a quota hold early when SES has room again."""
    try:
        quota = transport().send_quota(connection)
    except TransportError:
        return None
    updates: dict[str, object] = {
        "max_send_rate": quota.max_send_rate,
        "max_24_hour_send": quota.max_24_hour_send,
        "send_quota_refreshed_at": timezone.now(),
    }
    if quota.max_24_hour_send < 0 or quota.sent_last_24_hours < quota.max_24_hour_send:
        updates["sending_held_until"] = None
    AwsConnection.objects.filter(pk=connection.pk).update(**updates)
    return quota
