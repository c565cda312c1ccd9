import base64
from typing import Any, cast
from urllib.parse import parse_qs

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import exceptions, pagination
from rest_framework.request import Request

from config.api.datetimes import InvalidDateTime, parse_iso_datetime
from config.api.errors import RequestValidationError
from config.api.query import query_params_check


def _is_our_cursor(encoded: str) -> bool:
    """DRF decodes leniently (letters outside base64 are dropped, so "%00" reads as the first page); a cursor we
    wrote is strict base64 of a query string holding only DRF's keys."""
    try:
        text = base64.b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:  # binascii.Error, UnicodeError and parse errors are all ValueErrors
        return False
    return bool(fields) and set(fields) <= {"o", "r", "p"}


class CursorPagination(pagination.CursorPagination):
    """Every list's paging: an opaque `cursor` and `?limit=` from 1 to 500. A cursor that is not one of ours, or
    any other limit, answers 422 naming the parameter (not 404, not a silently different page), and so does a
    parameter the list does not know (config/api/query.py)."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500
    invalid_cursor_message = "Invalid cursor: pass back the `next` or `previous` link of a list unchanged."
    _position_field: "models.Field[Any, Any] | None" = None

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        query_params_check(request, view)
        self._position_field = self._ordering_field(queryset)
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise RequestValidationError(
                {self.page_size_query_param: [f"Give limit as a whole number from 1 to {self.max_page_size}."]},
                location="query",
            )
        return int(raw)

    def decode_cursor(self, request: Request) -> pagination.Cursor | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is not None and not _is_our_cursor(encoded):
            raise self._bad_cursor()
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound as exc:
            raise self._bad_cursor() from exc
        if cursor is None or cursor.position is None:
            return cursor
        position = self._checked_position(str(cursor.position))
        if position is None:
            raise self._bad_cursor()
        return pagination.Cursor(offset=cursor.offset, reverse=cursor.reverse, position=cast(Any, position))

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = "https://sesame.example.com/v1/emails?cursor=cD0yMDI2LTExLTIy"
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri", "example": link},
                "previous": {"type": "string", "nullable": True, "format": "uri", "example": None},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The `next` or `previous` link's cursor, unchanged.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page, 1 to {self.max_page_size} (default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]

    def _bad_cursor(self) -> RequestValidationError:
        return RequestValidationError({self.cursor_query_param: [self.invalid_cursor_message]}, location="query")

    def _ordering_field(self, queryset: Any) -> "models.Field[Any, Any] | None":
        ordering = self.ordering if isinstance(self.ordering, str) else self.ordering[0]
        try:
            field = queryset.model._meta.get_field(ordering.lstrip("-"))
        except (AttributeError, FieldDoesNotExist):
            return None
        return field if isinstance(field, models.Field) else None

    def _checked_position(self, position: str) -> str | None:
        """The position is the ordering field's value, decoded from the caller's text: check it (and put a
        date-time in UTC) before the database sees it. None when it is not a value of that field."""
        field = self._position_field
        if "\x00" in position:
            return None
        try:
            if isinstance(field, models.DateTimeField):
                return parse_iso_datetime(position).isoformat()
            if field is not None:
                field.to_python(position)
        except (InvalidDateTime, DjangoValidationError, ValueError, TypeError, OverflowError):
            return None
        return position


class CreatedCursorPagination(CursorPagination):
    """Newest first, stable under inserts."""

    ordering = ("-created_at", "-pk")
