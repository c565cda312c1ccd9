"""A broadcast's audience: the segment's (or the ad hoc filters') contacts, each with the reason it is excluded,
if any. Materialising writes the whole audience into the ledger in one `INSERT … SELECT` (no row passes through
Python, so memory stays flat whatever the size); a preview runs the same query as a count and a sample."""

from typing import Any

from django.db import connection as db
from django.db.models import QuerySet

from contacts.models import Contact
from contacts.selectors import contact_exclusion_cases, contacts_matching
from events.broadcasts.channels import broadcast_channel
from events.broadcasts.models import Broadcast, BroadcastRecipient


def audience_contacts(broadcast: Broadcast) -> QuerySet[Contact]:
    """The contacts the broadcast's segment or filters select right now; raises ValidationError when the stored
    filters no longer validate (a tag was renamed, say)."""
    filters = broadcast.segment.filters if broadcast.segment_id and broadcast.segment else broadcast.filters
    return contacts_matching(account=broadcast.account, filters=filters)


def _reason_sql(broadcast: Broadcast, alias: str) -> tuple[str, list[Any]]:
    """A CASE giving why a contact row is excluded, or NULL when it is to be sent to."""
    channel = broadcast_channel(broadcast.channel)
    cases: list[tuple[str, str, list[Any]]] = [(f"{alias}.{channel.address_column} IS NULL", "'no_address'", [])]
    cases += contact_exclusion_cases(alias=alias, topic_id=broadcast.topic_id)
    suppressed, params = channel.suppressed_sql(alias=alias, account_id=_db_id(broadcast.account_id))
    cases.append((suppressed, "'suppressed'", params))
    sql = "CASE " + " ".join(f"WHEN {condition} THEN {result}" for condition, result, _ in cases) + " END"
    return sql, [param for _, _, case_params in cases for param in case_params]


def _db_id(account_id: Any) -> Any:
    return Contact._meta.get_field("account").get_db_prep_value(account_id, db)


def _audience_sql(broadcast: Broadcast) -> tuple[str, list[Any]]:
    """SELECT contact id, exclusion reason (NULL: reachable) of every contact in the audience."""
    columns = audience_contacts(broadcast).order_by().values("id", "email", "mobile", "status")
    inner, inner_params = columns.query.sql_with_params()
    reason, reason_params = _reason_sql(broadcast, "a")
    return f"SELECT a.id, {reason} AS reason FROM ({inner}) AS a", [*reason_params, *inner_params]  # noqa: S608


def audience_preview(*, broadcast: Broadcast, sample_size: int = 10) -> dict[str, Any]:
    """What sending now would do: how many contacts get the message, how many are left out and why, and a sample
    of those who get it. Raises ValidationError when the audience's filters no longer validate."""
    sql, params = _audience_sql(broadcast)
    with db.cursor() as cursor:
        cursor.execute(f"SELECT reason, count(*) FROM ({sql}) AS r GROUP BY reason", params)  # noqa: S608
        counts = {reason: count for reason, count in cursor.fetchall()}
        cursor.execute(
            f"SELECT id FROM ({sql}) AS r WHERE reason IS NULL ORDER BY id LIMIT %s",  # noqa: S608
            [*params, sample_size],
        )
        sample_ids = [row[0] for row in cursor.fetchall()]
    sample = list(Contact.objects.filter(pk__in=sample_ids).order_by("pk"))
    return {
        "count": counts.pop(None, 0),
        "excluded": dict(sorted(counts.items())),
        "sample": sample,
    }


def audience_materialise(*, broadcast: Broadcast) -> int:
    """Write the audience into the ledger (pending, or excluded with its reason) in one statement; rows already
    there are left alone, so a second run adds nothing. Returns the rows added."""
    sql, params = _audience_sql(broadcast)
    ledger = BroadcastRecipient._meta.db_table
    statement = f"""
        INSERT INTO {ledger} (broadcast_id, account_id, contact_id, status, reason, email_id)
        SELECT %s, %s, r.id, CASE WHEN r.reason IS NULL THEN 'pending' ELSE 'excluded' END, COALESCE(r.reason, ''), NULL
        FROM ({sql}) AS r
        ON CONFLICT (broadcast_id, contact_id) DO NOTHING
    """  # noqa: S608 (table names and generated SQL; every value is a parameter)
    broadcast_id = BroadcastRecipient._meta.get_field("broadcast").get_db_prep_value(broadcast.pk, db)
    with db.cursor() as cursor:
        cursor.execute(statement, [broadcast_id, _db_id(broadcast.account_id), *params])
        return cursor.rowcount
