"""Request parsers that enforce the input boundary (config/api/boundary.py) for every API view.

The JSON parser is the default for the whole API (settings: DEFAULT_PARSER_CLASSES); the form parsers serve
Send With SES's add-contact call, which also takes forms.
"""

import codecs
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import QueryDict
from rest_framework import exceptions, parsers, renderers

from config.api import boundary
from config.api.errors import PayloadTooLarge, UnprocessableEntity, error_entry


def _max_body_bytes() -> int:
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0) or 40 * 1024 * 1024


def _declared_length(parser_context: Mapping[str, Any] | None) -> int:
    request = (parser_context or {}).get("request")
    raw = str(getattr(request, "META", {}).get("CONTENT_LENGTH") or "0")
    return int(raw) if raw.isdigit() else 0


def _read_bounded(stream: Any, parser_context: Mapping[str, Any] | None) -> bytes:
    """The body, refused with 413 past DATA_UPLOAD_MAX_MEMORY_SIZE without reading more than that."""
    limit = _max_body_bytes()
    too_large = PayloadTooLarge(
        f"The body is larger than {limit // (1024 * 1024)} MB; send big batches in several requests."
    )
    if _declared_length(parser_context) > limit:
        raise too_large
    raw: bytes = stream.read(limit + 1)
    if len(raw) > limit:
        raise too_large
    return raw


def _refuse_text(data: Any, loc: list[str | int]) -> None:
    problems = boundary.text_problems(data, loc)
    if problems:
        raise UnprocessableEntity(problems)


class JsonParser(parsers.BaseParser):
    """JSON bodies: bounded in size, depth and count before decoding, clean text after."""

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            is_utf8 = codecs.lookup(encoding).name == "utf-8"
        except LookupError:
            is_utf8 = False
        if not is_utf8:
            raise UnprocessableEntity(
                [
                    error_entry(
                        ["header", "content-type"],
                        f"charset {encoding!r} is not supported; JSON bodies are UTF-8.",
                        "value_error.content_type",
                    )
                ]
            )
        raw = _read_bounded(stream, parser_context)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError(f"the body is not UTF-8 (invalid byte at position {exc.start})") from exc
        try:
            data = boundary.decode(
                text, max_depth=settings.SESAME_API_MAX_JSON_DEPTH, max_items=settings.SESAME_API_MAX_JSON_ITEMS
            )
        except boundary.ShapeError as exc:
            if exc.too_large:
                raise PayloadTooLarge(exc.message) from exc
            raise UnprocessableEntity([error_entry(["body"], exc.message, exc.code)]) from exc
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, or an integer of more than 4,300 digits
            raise exceptions.ParseError(str(exc)) from exc
        _refuse_text(data, ["body"])
        return data


def _form_text(data: QueryDict) -> None:
    _refuse_text({key: data.getlist(key) if len(data.getlist(key)) > 1 else data.get(key) for key in data}, ["body"])


class FormParser(parsers.BaseParser):
    """URL-encoded forms, bounded like JSON and with the same text rules."""

    media_type = "application/x-www-form-urlencoded"

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> QueryDict:
        encoding = str((parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET)
        try:
            "".encode(encoding)  # a text codec, not bz2_codec & co (which would inflate the body after the check)
        except (LookupError, UnicodeError) as exc:
            raise exceptions.ParseError(f"unsupported charset {encoding!r}") from exc
        data = QueryDict(_read_bounded(stream, parser_context), encoding=encoding)
        _form_text(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> parsers.DataAndFiles:
        result = super().parse(stream, media_type, parser_context)
        _form_text(result.data)
        return result
