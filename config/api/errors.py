"""One error shape for the whole API.

Validation problems answer 422 `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}` (FastAPI's shape,
which Pendable's clients already parse); every other error answers `{"detail": "..."}`.
"""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from config.api.messages import MISSING_TOKEN

logger = logging.getLogger("sesame.api")

Loc = list[str | int]
ErrorEntry = dict[str, Any]

# DRF's error codes, renamed to the type strings Pendable's clients know.
_TYPE_FOR_CODE = {
    "required": "value_error.missing",
    "null": "type_error.none.not_allowed",
    "blank": "value_error.blank",
    "max_length": "value_error.any_str.max_length",
    "min_length": "value_error.any_str.min_length",
    "max_value": "value_error.number.not_le",
    "min_value": "value_error.number.not_ge",
    "invalid_choice": "type_error.enum",
    "not_a_list": "type_error.list",
    "not_a_dict": "type_error.dict",
    "empty": "value_error.list.min_items",
    "max_items": "value_error.list.max_items",
    "unique": "value_error.duplicate",
    "extra": "value_error.extra",
}

_MSG_FOR_CODE = {"required": "field required"}


class RequestValidationError(exceptions.ValidationError):
    """A validation error that knows which part of the request it is about (`body`, `query`, `path`)."""

    def __init__(self, detail: Any, location: str = "body", code: str | None = None) -> None:
        super().__init__(detail, code)
        self.location = location


class UnprocessableEntity(exceptions.ValidationError):
    """Validation errors already in the {loc, msg, type} shape (from validators that build them directly)."""

    def __init__(self, entries: list["ErrorEntry"]) -> None:
        super().__init__([entry["msg"] for entry in entries])
        self.entries = entries


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the object."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def error_entry(loc: Sequence[Any], msg: Any, code: Any) -> ErrorEntry:
    """One {loc, msg, type}. Total: whatever the caller passes (a key that is not valid Unicode, a number, an
    object), the entry can be rendered as UTF-8 JSON."""
    code = _encodable(str(code or "invalid"))
    return {
        "loc": [_loc_key(part) for part in loc],
        "msg": _MSG_FOR_CODE.get(code) or _encodable(str(msg)),
        "type": _TYPE_FOR_CODE.get(code, code if "." in code else f"value_error.{code}"),
    }


def _encodable(text: str) -> str:
    """Lone surrogates cannot be written as UTF-8; they are shown as their escape (\\ud800) instead."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def flatten_errors(detail: Any, loc: Loc) -> list[ErrorEntry]:
    """Walk DRF's nested error structure into a flat list of {loc, msg, type}."""
    if isinstance(detail, Mapping):
        entries: list[ErrorEntry] = []
        for key, value in detail.items():
            child: Loc = loc if key in ("non_field_errors", "__all__") else [*loc, _loc_key(key)]
            entries.extend(flatten_errors(value, child))
        return entries
    if isinstance(detail, Sequence) and not isinstance(detail, str):
        entries = []
        for index, item in enumerate(detail):
            if isinstance(item, Mapping | list):
                # A list of per-item errors (many=True): empty dicts mean that item was fine.
                entries.extend(flatten_errors(item, [*loc, index]))
            else:
                entries.extend(flatten_errors(item, loc))
        return entries
    code = getattr(detail, "code", None) or "invalid"
    return [error_entry(loc, str(detail), code)]


def _loc_key(key: Any) -> str | int:
    """List positions stay integers; every other key (a field name, a caller's custom field) stays text, so
    "²" or "007" are reported as sent."""
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    return _encodable(key if isinstance(key, str) else str(key))


def validation_response(entries: list[ErrorEntry]) -> Response:
    return Response({"detail": entries}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    try:
        return _handle(exc, context)
    except Exception:  # the error path must never become a 500 of its own
        logger.exception("Could not build the error response for %s", type(exc).__name__)
        if isinstance(exc, exceptions.ValidationError):
            return validation_response([error_entry(["body"], "The request is invalid.", "invalid")])
        if isinstance(exc, exceptions.APIException):
            return Response({"detail": "The request failed."}, status=exc.status_code)
        return None  # DRF then treats it as the unhandled error it is


def _handle(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    if isinstance(exc, exceptions.ParseError):
        return validation_response(
            [
                error_entry(
                    ["body"],
                    f"Malformed JSON: {_strip_prefix(exc.detail)}. Send a valid JSON object.",
                    "value_error.jsondecode",
                )
            ]
        )
    if isinstance(exc, exceptions.UnsupportedMediaType):
        request = context.get("request")
        received = request.content_type if request is not None else ""
        view = context.get("view")
        accepted = ", ".join(p.media_type for p in view.get_parsers()) if view else "application/json"
        return validation_response(
            [
                error_entry(
                    ["header", "content-type"],
                    f"Content-Type {received or '(none)'!r} is not supported; send {accepted}.",
                    "value_error.content_type",
                )
            ]
        )
    if isinstance(exc, UnprocessableEntity):
        return validation_response(exc.entries)
    if isinstance(exc, exceptions.ValidationError):
        location = getattr(exc, "location", "body")
        return validation_response(flatten_errors(exc.detail, [location]))
    if isinstance(exc, ProtectedError | RestrictedError):
        # A delete that other rows still depend on: the caller's conflict, not a server error.
        return Response(
            {"detail": "Other records still refer to this object, so it cannot be deleted."},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, Http404 | exceptions.NotFound):
        return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, exceptions.Throttled):
        headers = {"Retry-After": str(int(getattr(exc, "wait", None) or 1))}
        return Response({"detail": "Too Many Attempts."}, status=429, headers=headers)
    if isinstance(exc, exceptions.NotAuthenticated):
        return Response({"detail": MISSING_TOKEN}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, exceptions.AuthenticationFailed | DjangoPermissionDenied):
        # Pendable answers 403 for every authentication problem; clients depend on that.
        return Response({"detail": _detail_text(exc)}, status=status.HTTP_403_FORBIDDEN)
    # Imported here: rest_framework.views reads the API settings, which name this package's parser.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, dict(context))
    if response is not None and isinstance(response.data, Mapping) and "detail" not in response.data:
        response.data = {"detail": response.data}
    return response


def _detail_text(exc: Exception) -> str:
    detail = getattr(exc, "detail", None)
    return str(detail) if detail else "You do not have permission to perform this action."


def _strip_prefix(detail: Any) -> str:
    return str(detail).removeprefix("JSON parse error - ")
