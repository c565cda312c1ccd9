"""Accept-time recipient policy: the account's suppression list, the shipped disposable-domain list, the
account's own blocked domains, and, when the account chose so (contacts' PreferenceSettings), its unsubscribed
contacts.

The account's settings (its blocked domains, whether unsubscribes stop transactional mail) are read once and kept
with the API's cached tenant context (accounts/tenant_cache.py), which any change to them invalidates in every
process. The per-recipient lists (suppressions, unsubscribed contacts) are read per request (or batch) in one
query."""

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.db import connection

from accounts.models import Account
from accounts.tenant_cache import tenant_memo
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


@dataclass(frozen=True)
class AccountPolicy:
    blocked_domains: frozenset[str]
    unsubscribe_stops_transactional: bool


def account_policy(account: Account) -> AccountPolicy:
    """The account's own policy settings, from the tenant cache when the request has one (one query otherwise)."""
    return tenant_memo(account, "emails.policy", lambda: _account_policy_load(account))


def _account_param(account: Account) -> Any:
    return Suppression._meta.get_field("account").get_db_prep_value(account.pk, connection)


def _account_policy_load(account: Account) -> AccountPolicy:
    account_id = _account_param(account)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT domain FROM {BlockedDomain._meta.db_table} WHERE account_id = %s "  # noqa: S608 (table names)
            f"UNION ALL SELECT NULL FROM {PreferenceSettings._meta.db_table} "
            "WHERE account_id = %s AND unsubscribe_stops_transactional",
            [account_id, account_id],
        )
        rows = [domain for (domain,) in cursor.fetchall()]
    return AccountPolicy(frozenset(d for d in rows if d is not None), None in rows)


def policy_query(*, account: Account, addresses: Iterable[Address]) -> tuple[str, dict[str, Any]]:
    """The per-recipient part of the policy in one SELECT, in plain SQL (this runs on every accepted email), with
    named placeholders (`%(pa)s`, `%(k0)s`, …) so a caller can fold it into a larger statement: a row (kind,
    value, reason) for each of these recipients the account suppressed ('s') and, for accounts whose unsubscribes
    stop transactional mail too, each unsubscribed contact among them ('u'). Every row it returns drops a
    recipient."""
    keys = sorted({address.key for address in addresses})
    marks = ", ".join(f"%(k{i})s" for i in range(len(keys))) or "NULL"
    sql = (
        f"SELECT 's' AS kind, address AS value, reason FROM {Suppression._meta.db_table} "  # noqa: S608 (table names)
        f"WHERE account_id = %(pa)s AND address IN ({marks})"
    )
    if account_policy(account).unsubscribe_stops_transactional:
        sql += (
            f" UNION ALL SELECT 'u', email, '' FROM {Contact._meta.db_table} "  # noqa: S608 (table names)
            f"WHERE account_id = %(pa)s AND status = 'unsubscribed' AND email IN ({marks})"
        )
    params = {"pa": _account_param(account)}
    params.update((f"k{i}", key) for i, key in enumerate(keys))
    return sql, params


class RecipientPolicy:
    def __init__(
        self, *, account: Account, addresses: Iterable[Address], rows: Iterable[tuple[str, str, str]] | None = None
    ) -> None:
        """The policy for these recipients, with `policy_query`'s rows: read now, or as a caller that ran the
        query inside a larger statement passes them (none: only the account's settings and the shipped list)."""
        self._blocked = account_policy(account).blocked_domains
        if rows is None:
            sql, params = policy_query(account=account, addresses=addresses)
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
        self._suppressed: dict[str, str] = {}
        self._unsubscribed: set[str] = set()
        for kind, value, reason in rows:
            if kind == "s":
                self._suppressed[value] = reason
            else:
                self._unsubscribed.add(value)

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
