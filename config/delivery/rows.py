"""Inserting outbox rows without compiling SQL each time: the accept hot path of every channel.

`Model.save(force_insert=True)` compiles the same INSERT for every message (quoting every column name, building
the placeholders) and that is about a sixth of an accept's CPU. Here the statement is built once per model and
database vendor, and only the values are prepared per row, by the same `pre_save` and `get_db_prep_save` the ORM
uses, so defaults, `auto_now_add` and JSON adaptation come out exactly as with `save()`.

No model signal is sent: outbox rows have no receivers, and a model that gains one must use `save()`.
"""

import json
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from django.db import connections, models, router, transaction
from django.db.models import Model
from django.db.models.base import ModelState

M = TypeVar("M", bound=Model)


@cache
def _statement(model: type[Model], alias: str, rows: int = 1, suffix: str = "") -> tuple[str, tuple[Any, ...]]:
    quote = connections[alias].ops.quote_name
    fields = tuple(model._meta.concrete_fields)
    columns = ", ".join(quote(field.column) for field in fields)
    values = ", ".join([f"({', '.join(['%s'] * len(fields))})"] * rows)
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {values}{suffix}", fields  # noqa: S608


@cache
def _blank(model: type[Model]) -> tuple[dict[str, Any], tuple[tuple[str, Callable[[], Any]], ...], frozenset[str]]:
    static: dict[str, Any] = {}
    dynamic: list[tuple[str, Callable[[], Any]]] = []
    for field in model._meta.concrete_fields:
        if field.has_default() and callable(field.default):
            dynamic.append((field.attname, field.default))
        else:
            static[field.attname] = field.get_default()
    relations = frozenset(f.name for f in model._meta.concrete_fields if f.is_relation)
    return static, tuple(dynamic), relations


def outbox_row(model: type[M], **values: Any) -> M:
    """`model(**values)` for a new outbox row, without Model.__init__'s walk over every field and its signals (a
    fifth of a batch's CPU): defaults as the fields declare them, then `values`. A related object passed by field
    name (`connection=...`) sets its id and its cache, as the constructor would."""
    static, dynamic, relations = _blank(model)
    row = model.__new__(model)
    state = row.__dict__
    state.update(static)
    for attname, default in dynamic:
        state[attname] = default()
    row._state = ModelState()
    for name, value in values.items():
        if name in relations:
            state[f"{name}_id"] = None if value is None else value.pk
            if value is not None:
                row._state.fields_cache[name] = value
        else:
            state[name] = value
    return row


def rows_as_models(model: type[M], columns: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> list[M]:
    """Whole rows of `model`'s table (`columns` names each value's column, in any order) as model instances, each
    value converted as the ORM converts it (JSON parsed, for one), without `Model.__init__` and its signals: what
    `raw()` spent building instances was most of the claim's CPU."""
    alias = router.db_for_read(model)
    connection = connections[alias]
    plan = _row_plan(model, columns, alias)
    found: list[M] = []
    for values in rows:
        row = model.__new__(model)
        state = row.__dict__
        for (attname, converters, col), value in zip(plan, values, strict=True):
            for convert in converters:
                value = convert(value, col, connection)
            state[attname] = value
        row._state = ModelState()
        row._state.adding = False
        row._state.db = alias
        found.append(row)
    return found


@cache
def _row_plan(model: type[Model], columns: tuple[str, ...], alias: str) -> tuple[tuple[str, tuple[Any, ...], Any], ...]:
    connection = connections[alias]
    by_column: dict[str, Any] = {field.column: field for field in model._meta.concrete_fields}
    plan = []
    for column in columns:
        field = by_column[column]
        col = field.cached_col
        converters = (*connection.ops.get_db_converters(col), *field.get_db_converters(connection))
        plan.append((field.attname, converters, col))
    return tuple(plan)


def outbox_insert(row: Model) -> None:
    """INSERT `row` (its primary key set by its default, as outbox keys are UUIDs) in the current transaction."""
    alias = router.db_for_write(type(row))
    connection = connections[alias]
    sql, fields = _statement(type(row), alias)
    with connection.cursor() as cursor:
        cursor.execute(sql, _values(row, fields, connection))
    outbox_inserted(row)


def outbox_insert_select(row: Model) -> tuple[str, dict[str, Any]]:
    """The INSERT of `row` as `INSERT INTO … SELECT <its values>`, with named placeholders (`%(c0)s`, …) and their
    values, for a caller that folds it into a larger statement (server-side bound, config/prepared.py) and appends
    its own `WHERE`. Values are passed as COPY takes them (`_plain_converters`): PostgreSQL types each placeholder
    from its column, JSON text included. Once that statement inserted it, `outbox_inserted(row)`."""
    alias = router.db_for_write(type(row))
    sql, names = _select_statement(type(row), alias)
    state = row.__dict__
    values = (convert(row) if convert else state[attname] for attname, convert in _plain_converters(type(row), alias))
    return sql, dict(zip(names, values, strict=True))


def outbox_inserted(row: Model) -> None:
    row._state.adding = False
    row._state.db = router.db_for_write(type(row))


@cache
def _select_statement(model: type[Model], alias: str) -> tuple[str, tuple[str, ...]]:
    quote = connections[alias].ops.quote_name
    fields = model._meta.concrete_fields
    columns = ", ".join(quote(field.column) for field in fields)
    names = tuple(f"c{i}" for i in range(len(fields)))
    values = ", ".join(f"%({name})s" for name in names)
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) SELECT {values}", names


def outbox_insert_new(rows: Sequence[Model]) -> set[Any]:
    """INSERT these rows, skipping any that would break a unique constraint (a `client_*_id` used before);
    returns the primary keys of those inserted, with no second query to find out which went in. Used inside a
    transaction.

    On PostgreSQL the rows are COPYed into a temporary staging table and moved with one INSERT … SELECT: COPY
    formats values in psycopg's C code and PostgreSQL parses one statement, where single-row INSERTs (even
    pipelined) cost a Python query dump and a statement execution per row."""
    if not rows:
        return set()
    model = type(rows[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    suffix = f" ON CONFLICT DO NOTHING RETURNING {connection.ops.quote_name(model._meta.pk.column)}"
    returned: list[Any] = []
    with connection.cursor() as cursor, connection.wrap_database_errors:
        if connection.vendor == "postgresql":
            with transaction.atomic(using=alias):  # the stage empties at commit: COPY and INSERT in one transaction
                returned = _copy_insert(cursor.cursor, model, rows, connection, suffix)
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


def _copy_insert(cursor: Any, model: type[Model], rows: Sequence[Model], connection: Any, suffix: str) -> list[Any]:
    quote = connection.ops.quote_name
    fields = tuple(model._meta.concrete_fields)
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(field.column) for field in fields)
    # Named after its columns, so a session that outlives a migration never COPYs into an old shape.
    stage = quote(f"stage_{model._meta.db_table}_{zlib.crc32(columns.encode()):08x}")
    # Created when missing in this transaction's session (a transaction-pooling proxy may hand us another one) and
    # emptied at every commit. LIKE copies columns and NOT NULLs but no unique index: the real table decides
    # conflicts.
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DELETE ROWS")
    converters = _plain_converters(model, connection.alias)
    with cursor.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
        for row in rows:
            state = row.__dict__
            copy.write_row([convert(row) if convert else state[attname] for attname, convert in converters])
    cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}{suffix}")  # noqa: S608
    returned = [value for (value,) in cursor.fetchall()]
    cursor.execute(f"DELETE FROM {stage}")  # noqa: S608 (a second batch in the same transaction starts empty)
    return returned


# Fields whose `get_db_prep_save` hands PostgreSQL's driver the attribute as it is (for values of the field's own
# type, which is what accept stores): COPY and the prepared insert take those straight from the row. Exact classes
# only: a subclass may convert, and goes through the ORM's own preparation like every other field.
_AS_IS = frozenset(
    {
        models.CharField,
        models.TextField,
        models.EmailField,
        models.SlugField,
        models.URLField,
        models.BooleanField,
        models.IntegerField,
        models.SmallIntegerField,
        models.BigIntegerField,
        models.PositiveIntegerField,
        models.PositiveSmallIntegerField,
        models.PositiveBigIntegerField,
        models.BigAutoField,
        models.AutoField,
        models.UUIDField,
        models.ForeignKey,
        models.OneToOneField,
        models.DateField,
    }
)


@cache
def _plain_converters(model: type[Model], alias: str) -> tuple[tuple[str, Callable[[Model], Any] | None], ...]:
    """Per column of a COPY or a server-side bound insert: (attname, None) to send the attribute as it is, or a
    function of the row giving what `get_db_prep_save(pre_save(row))` gives, JSON as text (0.2 of a 500-email
    batch's CPU went to running that for all 38 columns of every row)."""
    connection = connections[alias]
    converters: list[tuple[str, Callable[[Model], Any] | None]] = []
    for field in model._meta.concrete_fields:
        if isinstance(field, models.JSONField) and type(field) is models.JSONField:
            converters.append((field.attname, _json_text(field)))
        elif _is_auto(field):
            converters.append((field.attname, _prepared(field, connection)))
        elif type(field) in _AS_IS:
            converters.append((field.attname, None))
        elif type(field) is models.DateTimeField:
            converters.append((field.attname, _aware_datetime(field, connection)))
        else:
            converters.append((field.attname, _prepared(field, connection)))
    return tuple(converters)


def _json_text(field: models.JSONField) -> Callable[[Model], Any]:
    """The column's JSON as text, as psycopg's Jsonb adapter would write it (COPY's text format parses it, and a
    server-side bound parameter of unknown type takes its column's type)."""
    attname, encoder = field.attname, field.encoder

    def convert(row: Model) -> Any:
        value = row.__dict__[attname]
        if value is None:
            return None
        if value == []:  # most outbox JSON columns are empty: skip the encoder
            return "[]"
        if value == {}:
            return "{}"
        return json.dumps(value, cls=encoder)

    return convert


def _is_auto(field: Any) -> bool:
    return bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))


def _aware_datetime(field: models.DateTimeField, connection: Any) -> Callable[[Model], Any]:
    """An aware datetime (or NULL) as it is; a naive one through the ORM, which warns and makes it aware."""
    attname, prepared = field.attname, _prepared(field, connection)

    def convert(row: Model) -> Any:
        value = row.__dict__[attname]
        if value is None or (isinstance(value, datetime) and value.tzinfo is not None):
            return value
        return prepared(row)

    return convert


def _prepared(field: Any, connection: Any) -> Callable[[Model], Any]:
    return lambda row: field.get_db_prep_save(field.pre_save(row, True), connection)


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
