# SQL here is assembled from constants, table names and column positions only; every value is a parameter.
# ruff: noqa: S608
"""PostgreSQL import, second half: apply the staged file to contacts with a few set-based statements in one
transaction: drop in-file duplicates, match existing contacts (email, else mobile), update them, insert the rest,
and move each tag's count by exactly what changed. Everything that grows with the file stays in PostgreSQL.
"""

from collections.abc import Callable
from typing import IO, Any

from django.db import IntegrityError, connection, transaction

from contacts.csv_import.rows import RowError
from contacts.csv_import.staging import (
    ERRORS,
    STAGE,
    drop_temp_tables,
    load_raw,
    stream_errors,
    validate_and_stage,
)
from contacts.models import Contact

_DUPLICATES = """
WITH firsts AS (
    SELECT {key}, min(row_no) AS first_row FROM {stage} WHERE {key} IS NOT NULL GROUP BY {key} HAVING count(*) > 1
), gone AS (
    DELETE FROM {stage} s USING firsts f WHERE s.{key} = f.{key} AND s.row_no > f.first_row
    RETURNING s.row_no, s.{key} AS value, f.first_row
)
INSERT INTO {errors} SELECT row_no, '{key}', value, 'Duplicate in this file: the same {key} as row ' || first_row || '.'
FROM gone
"""
_MATCH_EMAIL = f"""
UPDATE {STAGE} s SET contact_id = c.id FROM contacts_contact c
WHERE c.account_id = %(account)s AND c.email = s.email AND s.email IS NOT NULL
"""
_MATCH_MOBILE = f"""
UPDATE {STAGE} s SET contact_id = c.id FROM contacts_contact c
WHERE s.contact_id IS NULL AND s.mobile IS NOT NULL AND c.account_id = %(account)s AND c.mobile = s.mobile
  AND (s.email IS NULL OR c.email IS NULL)
"""
_MOBILE_TAKEN = f"""
WITH taken AS (
    DELETE FROM {STAGE} s USING contacts_contact c
    WHERE s.mobile IS NOT NULL AND c.account_id = %(account)s AND c.mobile = s.mobile
      AND c.id IS DISTINCT FROM s.contact_id
    RETURNING s.row_no, s.mobile, c.id
)
INSERT INTO {ERRORS}
SELECT row_no, 'mobile', mobile, 'This mobile already belongs to another contact (id ' || id || ').' FROM taken
"""
# Tags gained by contacts that already exist: measured before the update, so counts move by exactly that.
_EXISTING_TAG_GAINS = f"""
SELECT t.tag_id, count(*) FROM {STAGE} s JOIN contacts_contact c ON c.id = s.contact_id,
     unnest(s.tag_ids) AS t(tag_id)
WHERE s.tag_ids IS NOT NULL AND t.tag_id <> ALL (c.tag_ids)
GROUP BY t.tag_id
"""
_MERGED_TAGS = "(SELECT coalesce(array_agg(DISTINCT x ORDER BY x), '{}') FROM unnest(c.tag_ids || s.tag_ids) AS x)"
_UPDATE_TAGS_ONLY = f"""
UPDATE contacts_contact c SET tag_ids = {_MERGED_TAGS}, updated_at = clock_timestamp()
FROM {STAGE} s WHERE c.id = s.contact_id AND s.tag_ids IS NOT NULL AND NOT c.tag_ids @> s.tag_ids
"""
_NEW_VALUES = {
    "email": "coalesce(c.email, s.email)",
    "mobile": "coalesce(s.mobile, c.mobile)",
    "status": "coalesce(s.status, c.status)",
    "full_name": "coalesce(s.full_name, c.full_name)",
    "dob": "coalesce(s.dob, c.dob)",
    "gender": "coalesce(s.gender, c.gender)",
    "city": "coalesce(s.city, c.city)",
    "country": "coalesce(s.country, c.country)",
    "attributes": "c.attributes || coalesce(s.attributes, '{}')",
}
_UPDATE_ALL = f"""
UPDATE contacts_contact c SET
    {", ".join(f"{column} = {value}" for column, value in _NEW_VALUES.items())},
    tag_ids = CASE WHEN s.tag_ids IS NULL OR c.tag_ids @> s.tag_ids THEN c.tag_ids ELSE {_MERGED_TAGS} END,
    updated_at = clock_timestamp()
FROM {STAGE} s
WHERE c.id = s.contact_id AND (
    (s.tag_ids IS NOT NULL AND NOT c.tag_ids @> s.tag_ids)
    OR ({", ".join(f"c.{column}" for column in _NEW_VALUES)}) IS DISTINCT FROM ({", ".join(_NEW_VALUES.values())})
)
"""
# Grouped by the whole set (few distinct sets), then spread over tags in Python: cheaper than unnest.
_NEW_TAG_SETS = f"SELECT tag_ids, count(*) FROM {STAGE} WHERE contact_id IS NULL AND tag_ids IS NOT NULL GROUP BY 1"
# clock_timestamp(), not now(): a million rows sharing one created_at would make deep cursor pages slow.
_INSERT_NEW = f"""
INSERT INTO contacts_contact (account_id, email, mobile, status, full_name, dob, gender, city, country,
                              attributes, tag_ids, created_at, updated_at)
SELECT %(account)s, email, mobile, coalesce(status, %(status)s), coalesce(full_name, ''), dob,
       coalesce(gender, ''), coalesce(city, ''), coalesce(country, ''), coalesce(attributes, '{{}}'),
       coalesce(tag_ids, '{{}}'), clock_timestamp(), clock_timestamp()
FROM {STAGE} WHERE contact_id IS NULL ORDER BY row_no
"""
_APPLY_COUNTS = """
UPDATE contacts_tag t SET contact_count = t.contact_count + d.delta
FROM unnest(%s::integer[], %s::integer[]) AS d(id, delta) WHERE t.id = d.id
"""


def import_postgres(
    *,
    account_id: Any,
    text: IO[str],
    encoding: str,
    extra_tags: list[str],
    default_region: str | None,
    update_existing: bool,
    on_progress: Callable[[int], None],
    on_applying: Callable[[], None],
    on_error: Callable[[RowError], None],
) -> tuple[int, int, int, int]:
    """Returns (rows read, created, updated, unchanged)."""
    try:
        header, rows, extra_literal = load_raw(
            text, encoding=encoding, account_id=account_id, extra_tags=extra_tags, on_progress=on_progress
        )
        on_applying()
        for attempt in (1, 2):
            try:
                with transaction.atomic():
                    validate_and_stage(header, default_region=default_region, extra_literal=extra_literal)
                    created, updated, unchanged = _apply(account_id=account_id, update_existing=update_existing)
                    stream_errors(on_error)
                break
            except IntegrityError:
                # A contact in this file was created meanwhile by another writer: match again, once.
                if attempt == 2:
                    raise
    finally:
        drop_temp_tables()
    return rows, created, updated, unchanged


def _apply(*, account_id: Any, update_existing: bool) -> tuple[int, int, int]:
    with connection.cursor() as cursor:
        # Server-side memory for this transaction's hashes and sorts; the default 4 MB spills to disk.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(f"ANALYZE {STAGE}")
        for key in ("email", "mobile"):
            cursor.execute(_DUPLICATES.format(key=key, stage=STAGE, errors=ERRORS))
        cursor.execute(_MATCH_EMAIL, {"account": account_id})
        cursor.execute(_MATCH_MOBILE, {"account": account_id})
        cursor.execute(_MOBILE_TAKEN, {"account": account_id})
        cursor.execute(f"SELECT count(*) FROM {STAGE} WHERE contact_id IS NOT NULL")
        existing = cursor.fetchone()[0]
        deltas: dict[int, int] = {}
        updated = 0
        if existing:
            cursor.execute(_EXISTING_TAG_GAINS)
            deltas = dict(cursor.fetchall())
            cursor.execute(_UPDATE_ALL if update_existing else _UPDATE_TAGS_ONLY)
            updated = cursor.rowcount
        cursor.execute(_NEW_TAG_SETS)
        for tag_ids, count in cursor.fetchall():
            for tag_id in tag_ids:
                deltas[tag_id] = deltas.get(tag_id, 0) + count
        cursor.execute(_INSERT_NEW, {"account": account_id, "status": Contact.Status.SUBSCRIBED.value})
        created = cursor.rowcount
        if deltas:
            ids = sorted(deltas)
            cursor.execute(_APPLY_COUNTS, [ids, [deltas[i] for i in ids]])
    return created, updated, existing - updated
