"""One statement run as a server-side prepared statement on the default PostgreSQL connection.

Django's psycopg cursors bind parameters on the client: every execution sends the statement with its values
written in as literals, and PostgreSQL parses and plans it afresh. For the accept path's one statement (policy,
quota and insert together) planning cost as much as executing. psycopg prepares a statement on its connection
when asked (`prepare=True`) and from then on sends only the values; PostgreSQL reuses the plan. Prepared
statements live with the connection (CONN_MAX_AGE keeps it), so a new connection prepares once again.

Named placeholders (`%(name)s`) let a value used twice be sent once, and keep the statement under psycopg's 50
parameters, above which it re-parses the query text on every call. Lists go as arrays (`unnest(%s::uuid[])`), so
a statement's text does not change with the number of rows.

Behind PgBouncer in transaction mode, prepared statements need PgBouncer 1.21 or later (max_prepared_statements).
"""

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from django.db import connection


def fetch_prepared(sql: str, params: Mapping[str, Any] | Sequence[Any]) -> list[tuple[Any, ...]]:
    """Execute `sql` prepared, in the current transaction (or autocommit), and return its rows. Database errors
    come out as Django's (IntegrityError and the rest), as from a Django cursor."""
    return fetch_prepared_with_columns(sql, params)[1]


def fetch_prepared_with_columns(
    sql: str, params: Mapping[str, Any] | Sequence[Any]
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """`fetch_prepared`, with the names of the returned columns."""
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        columns = tuple(column.name for column in cursor.description or ())
        return columns, cursor.fetchall()
