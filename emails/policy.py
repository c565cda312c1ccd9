"""Accept-time recipient policy: the account's suppression list, the shipped disposable-domain list, and the
account's own blocked domains. Loaded once per request (or batch) with one query each."""

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from django.db.models import Value

from accounts.models import Account
from emails.addresses import Address
from emails.models import BlockedDomain, Suppression

BLOCKED_DOMAIN = "blocked_domain"


@cache
def disposable_domains() -> frozenset[str]:
    path = Path(__file__).parent / "data" / "disposable_domains.txt"
    lines = (line.strip().lower() for line in path.read_text().splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def _domain_and_parents(domain: str) -> Iterable[str]:
    labels = domain.split(".")
    return (".".join(labels[i:]) for i in range(len(labels) - 1))


class RecipientPolicy:
    def __init__(self, *, account: Account, addresses: Iterable[Address]) -> None:
        keys = {address.key for address in addresses}
        # One round trip for both lists: this runs on every accepted email.
        suppressed = (
            Suppression.objects.filter(account=account, address__in=keys)
            .order_by()  # SQLite refuses ORDER BY inside a UNION's parts
            .annotate(kind=Value("s"))
            .values_list("kind", "address", "reason")
        )
        blocked = (
            BlockedDomain.objects.filter(account=account)
            .order_by()
            .annotate(kind=Value("b"), reason=Value(""))
            .values_list("kind", "domain", "reason")
        )
        self._suppressed: dict[str, str] = {}
        self._blocked: set[str] = set()
        for kind, value, reason in suppressed.union(blocked, all=True):
            if kind == "s":
                self._suppressed[value] = reason
            else:
                self._blocked.add(value)

    def drop_reason(self, address: Address) -> str | None:
        """Why this recipient must not receive mail, or None."""
        reason = self._suppressed.get(address.key)
        if reason is not None:
            return str(reason)
        for domain in _domain_and_parents(address.domain):
            if domain in self._blocked or domain in disposable_domains():
                return BLOCKED_DOMAIN
        return None
