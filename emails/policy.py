"""Accept-time recipient policy: the account's suppression list, the shipped disposable-domain list, the
account's own blocked domains, and, when the account chose so (contacts' PreferenceSettings), its unsubscribed
contacts. Loaded once per request (or batch) in one query."""

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from django.db import connection

from accounts.models import Account
from contacts.models import Contact, PreferenceSettings
from emails.addresses import Address
from emails.models import BlockedDomain, Suppression

BLOCKED_DOMAIN = "blocked_domain"
UNSUBSCRIBED = "unsubscribed"


@cache
def disposable_domains() -> frozenset[str]:
    path = Path(__file__).parent / "data" / "disposable_domains.txt"
    lines = (line.strip().lower() for line in path.read_text().splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def _domain_and_parents(domain: str) -> Iterable[str]:
    labels = domain.split(".")
    return (".".join(labels[i:]) for i in range(len(labels) - 1))


def policy_query(*, account: Account, addresses: Iterable[Address]) -> tuple[str, dict[str, Any]]:
    """The policy's one SELECT, in plain SQL (this runs on every accepted email, and compiling the equivalent ORM
    union costs more than the query), with named placeholders (`%(pa)s`, `%(k0)s`, `%(d0)s`, …) so a caller can
    fold it into a larger statement: a row (kind, value, reason) for each of these recipients the account
    suppressed ('s'), each blocked domain they are at ('b') and, for accounts whose unsubscribes stop transactional
    mail too, each unsubscribed contact among them ('u'). Every row it returns drops a recipient."""
    addresses = list(addresses)
    keys = sorted({address.key for address in addresses})
    domains = sorted({domain for address in addresses for domain in _domain_and_parents(address.domain)})
    key_marks = ", ".join(f"%(k{i})s" for i in range(len(keys))) or "NULL"
    domain_marks = ", ".join(f"%(d{i})s" for i in range(len(domains))) or "NULL"
    sql = (
        f"SELECT 's' AS kind, address AS value, reason FROM {Suppression._meta.db_table} "  # noqa: S608 (table names)
        f"WHERE account_id = %(pa)s AND address IN ({key_marks}) "
        f"UNION ALL SELECT 'b', domain, '' FROM {BlockedDomain._meta.db_table} "
        f"WHERE account_id = %(pa)s AND domain IN ({domain_marks}) "
        f"UNION ALL SELECT 'u', email, '' FROM {Contact._meta.db_table} "
        f"WHERE account_id = %(pa)s AND status = 'unsubscribed' AND email IN ({key_marks}) AND EXISTS ("
        f"SELECT 1 FROM {PreferenceSettings._meta.db_table} WHERE account_id = %(pa)s "
        "AND unsubscribe_stops_transactional)"
    )
    params = {"pa": Suppression._meta.get_field("account").get_db_prep_value(account.pk, connection)}
    params.update((f"k{i}", key) for i, key in enumerate(keys))
    params.update((f"d{i}", domain) for i, domain in enumerate(domains))
    return sql, params


class RecipientPolicy:
    def __init__(
        self, *, account: Account, addresses: Iterable[Address], rows: Iterable[tuple[str, str, str]] | None = None
    ) -> None:
        """The policy for these recipients, from `policy_query`'s rows: read now, or as a caller that ran the
        query inside a larger statement passes them."""
        if rows is None:
            sql, params = policy_query(account=account, addresses=addresses)
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
        self._suppressed: dict[str, str] = {}
        self._blocked: set[str] = set()
        self._unsubscribed: set[str] = set()
        for kind, value, reason in rows:
            if kind == "s":
                self._suppressed[value] = reason
            elif kind == "u":
                self._unsubscribed.add(value)
            else:
                self._blocked.add(value)

    def drop_reason(self, address: Address) -> str | None:
        """Why this recipient must not receive mail, or None."""
        reason = self._suppressed.get(address.key)
        if reason is not None:
            return str(reason)
        if address.key in self._unsubscribed:
            return UNSUBSCRIBED
        for domain in _domain_and_parents(address.domain):
            if domain in self._blocked or domain in disposable_domains():
                return BLOCKED_DOMAIN
        return None
