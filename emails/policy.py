"""Accept-time recipient policy: the account's suppression list, the shipped disposable-domain list, the
account's own blocked domains, and, when the account chose so (contacts' PreferenceSettings), its unsubscribed
contacts. Loaded once per request (or batch) in one query."""

from collections.abc import Iterable
from functools import cache
from pathlib import Path

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


class RecipientPolicy:
    def __init__(self, *, account: Account, addresses: Iterable[Address]) -> None:
        keys = sorted({address.key for address in addresses})
        # One round trip for both lists, in plain SQL: this runs on every accepted email, and compiling the
        # equivalent ORM union costs more than the query.
        marks = ", ".join(["%s"] * len(keys)) or "NULL"
        sql = (
            f"SELECT 's', address, reason FROM {Suppression._meta.db_table} "  # noqa: S608 (table names, no input)
            f"WHERE account_id = %s AND address IN ({marks}) "
            f"UNION ALL SELECT 'b', domain, '' FROM {BlockedDomain._meta.db_table} WHERE account_id = %s "
            # Unsubscribed contacts, only for accounts whose unsubscribes stop transactional mail too.
            f"UNION ALL SELECT 'u', email, '' FROM {Contact._meta.db_table} "
            f"WHERE account_id = %s AND status = 'unsubscribed' AND email IN ({marks}) AND EXISTS ("
            f"SELECT 1 FROM {PreferenceSettings._meta.db_table} WHERE account_id = %s "
            "AND unsubscribe_stops_transactional)"
        )
        self._suppressed: dict[str, str] = {}
        self._blocked: set[str] = set()
        self._unsubscribed: set[str] = set()
        account_id = Suppression._meta.get_field("account").get_db_prep_value(account.pk, connection)
        with connection.cursor() as cursor:
            cursor.execute(sql, [account_id, *keys, account_id, account_id, *keys, account_id])
            for kind, value, reason in cursor.fetchall():
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
