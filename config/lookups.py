"""Portable database lookups the apps share (registered in config/apps.py)."""

import json
from typing import Any

from django.db.models import Lookup


class JsonArrayHasElement(Lookup):
    """`tags__has_element="receipt"`: a JSON array holding this string.

    Django's `contains` on a JSONField does not exist on SQLite (the embedded default), so filters that must work on
    both use this: JSON containment on PostgreSQL (it can use a GIN index), `json_each` on SQLite."""

    lookup_name = "has_element"
    prepare_rhs = False

    def get_db_prep_lookup(self, value: Any, connection: Any) -> tuple[str, list[Any]]:
        return "%s", [value]

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs} @> %s::jsonb", [*lhs_params, json.dumps([self.rhs])]
        # lhs is the compiled column reference; the value is a parameter.
        sql = f"EXISTS (SELECT 1 FROM json_each({lhs}) AS element WHERE element.type = 'text' AND element.value = %s)"  # noqa: S608
        return sql, [*lhs_params, self.rhs]
