"""Inserting outbox rows without compiling SQL each time: the accept hot path of every channel.

`Model.save(force_insert=True)` compiles the same INSERT for every message (quoting every column name, building
the placeholders) and that is about a sixth of an accept's CPU. Here the statement is built once per model and
database vendor, and only the values are prepared per row, by the same `pre_save` and `get_db_prep_save` the ORM
uses, so defaults, `auto_now_add` and JSON adaptation come out exactly as with `save()`.

No model signal is sent: outbox rows have no receivers, and a model that gains one must use `save()`.
"""

from collections.abc import Sequence
from functools import cache
from typing import Any

from django.db import connections, router
from django.db.models import Model


@cache
def _statement(model: type[Model], alias: str, rows: int = 1, suffix: str = "") -> tuple[str, tuple[Any, ...]]:
    quote = connections[alias].ops.quote_name
    fields = tuple(model._meta.concrete_fields)
    columns = ", ".join(quote(field.column) for field in fields)
    values = ", ".join([f"({', '.join(['%s'] * len(fields))})"] * rows)
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {values}{suffix}", fields  # noqa: S608


def outbox_insert(row: Model) -> None:
    """INSERT `row` (its primary key set by its default, as outbox keys are UUIDs) in the current transaction."""
    alias = router.db_for_write(type(row))
    connection = connections[alias]
    sql, fields = _statement(type(row), alias)
    with connection.cursor() as cursor:
        cursor.execute(sql, _values(row, fields, connection))
    row._state.adding = False
    row._state.db = alias


def outbox_insert_new(rows: Sequence[Model]) -> set[Any]:
    """INSERT these rows, skipping any that would break a unique constraint (a `client_*_id` used before);
    returns the primary keys of those inserted, with no second query to find out which went in. Used inside a
    transaction.

    On PostgreSQL it is one single-row statement run for every row in one pipeline (psycopg's executemany): a
    multi-row VALUES list of a whole batch is too long for psycopg to remember its parsing, which then costs more
    than the insert."""
    if not rows:
        return set()
    model = type(rows[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    suffix = f" ON CONFLICT DO NOTHING RETURNING {connection.ops.quote_name(model._meta.pk.column)}"
    returned: list[Any] = []
    with connection.cursor() as cursor, connection.wrap_database_errors:
        if connection.vendor == "postgresql":
            sql, fields = _statement(model, alias, 1, suffix)
            cursor.cursor.executemany(sql, [_values(row, fields, connection) for row in rows], returning=True)
            while True:
                returned.extend(value for (value,) in cursor.cursor.fetchall())
                if not cursor.cursor.nextset():
                    break
        else:
            per_statement = max(1, (connection.features.max_query_params or 999) // len(model._meta.concrete_fields))
            for start in range(0, len(rows), per_statement):
                chunk = rows[start : start + per_statement]
                sql, fields = _statement(model, alias, len(chunk), suffix)
                cursor.execute(sql, [value for row in chunk for value in _values(row, fields, connection)])
                returned.extend(value for (value,) in cursor.fetchall())
    inserted = {model._meta.pk.to_python(value) for value in returned}
    for row in rows:
        if row.pk in inserted:
            row._state.adding = False
            row._state.db = alias
    return inserted


def _values(row: Model, fields: tuple[Any, ...], connection: Any) -> list[Any]:
    return [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]


def outbox_store_new(
    rows: Sequence[Model], *, account_id: Any, client_id_field: str
) -> tuple[list[Any], dict[Any, Any]]:
    """A batch's valid messages, stored: returns those inserted, and for each `client_id_field` value that was
    already taken in the account, the id of the message that holds it (the request answers it as a duplicate)."""
    if not rows:
        return [], {}
    stored = outbox_insert_new(rows)
    lost = {getattr(row, client_id_field) for row in rows if row.pk not in stored}
    holders: dict[Any, Any] = {}
    if lost:
        found = type(rows[0])._default_manager.filter(account_id=account_id, **{f"{client_id_field}__in": lost})
        holders = dict(found.values_list(client_id_field, "pk"))
    return [row for row in rows if row.pk in stored], holders
