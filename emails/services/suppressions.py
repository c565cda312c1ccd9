from django.db import IntegrityError, transaction

from accounts.models import Account
from emails.models import BlockedDomain, Email, Suppression


def suppression_add(
    *, account: Account, address: str, reason: Suppression.Reason | str, source_email: Email | None = None
) -> Suppression:
    """Suppress an address for this account; idempotent (the first reason is kept)."""
    normalized = address.strip().lower()
    existing = Suppression.objects.filter(account=account, address=normalized).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Suppression.objects.create(
                account=account, address=normalized, reason=reason, source_email=source_email
            )
    except IntegrityError:  # a concurrent insert won the race; that row is the answer
        return Suppression.objects.get(account=account, address=normalized)


def suppression_remove(*, suppression: Suppression) -> None:
    suppression.delete()


def blocked_domain_add(*, account: Account, domain: str) -> BlockedDomain:
    blocked, _ = BlockedDomain.objects.get_or_create(account=account, domain=domain.strip().lower().rstrip("."))
    return blocked
