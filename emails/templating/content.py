"""What each channel's template holds, and the checks a version's content passes before it is stored."""

from collections.abc import Mapping
from typing import Any

from config.api.errors import ErrorEntry, Loc, error_entry
from emails.templating.engine import MAX_SOURCE_CHARS, TemplateRenderError, render_text, template_check
from emails.templating.models import Template

# The template fields of each channel; `html` is the only one rendered with HTML escaping.
CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {
    Template.Channel.EMAIL: ("subject", "html", "text"),
    Template.Channel.SMS: ("body",),
    Template.Channel.PUSH: ("title", "body", "data"),
}
ALL_FIELDS = ("subject", "html", "text", "body", "title", "data")
MAX_DATA_KEYS = 50


def _text_problem(value: Any, name: str, loc: Loc) -> ErrorEntry | None:
    if not isinstance(value, str):
        return error_entry([*loc, name], f"must be a string, got {type(value).__name__}", "type_error.str")
    if len(value) > MAX_SOURCE_CHARS:
        return error_entry([*loc, name], f"at most {MAX_SOURCE_CHARS // 1024} KB", "max_length")
    if name == "subject" and ("\n" in value or "\r" in value):
        return error_entry([*loc, name], "must not contain line breaks", "invalid")
    problem = template_check(value, html=name == "html")
    if problem is not None:
        return error_entry([*loc, name], f"template syntax: {problem}", "value_error.template")
    try:
        # A trial render with no variables: a loop, output or step bound that does not depend on the data is
        # refused now rather than at every send.
        render_text(value, {}, field=name, html=name == "html")
    except TemplateRenderError as error:
        return error_entry([*loc, name], f"template limit: {error.problem}", "value_error.template_limit")
    return None


def _data_problems(value: Any, loc: Loc) -> list[ErrorEntry]:
    if not isinstance(value, dict):
        return [error_entry([*loc, "data"], "must be an object of keys to strings, numbers or booleans", "type_error")]
    if len(value) > MAX_DATA_KEYS:
        return [error_entry([*loc, "data"], f"at most {MAX_DATA_KEYS} keys (got {len(value)})", "max_items")]
    errors = []
    for key, item in value.items():
        if isinstance(item, str):
            problem = _text_problem(item, key, [*loc, "data"])
            if problem:
                errors.append(problem)
        elif not isinstance(item, int | float | bool):
            errors.append(error_entry([*loc, "data", key], "values are strings, numbers or booleans", "type_error"))
    return errors


def content_check(
    *, channel: str, content: Mapping[str, Any], loc: Loc, base: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], list[ErrorEntry]]:
    """Check the given template fields of a channel (merged over `base`, the current version's, on an update).
    Returns the whole content of the new version, or every problem with its field and line."""
    fields = CHANNEL_FIELDS[channel]
    errors = [
        error_entry([*loc, name], f"a {channel} template has no {name}; its fields are {', '.join(fields)}", "extra")
        for name in ALL_FIELDS
        if name in content and name not in fields and content[name] not in (None, "", {})
    ]
    merged: dict[str, Any] = {name: (base or {}).get(name, {} if name == "data" else "") for name in fields}
    for name in fields:
        if name in content and content[name] is not None:
            merged[name] = content[name]
    for name in fields:
        if name == "data":
            errors.extend(_data_problems(merged[name], loc))
        elif name in content:
            problem = _text_problem(merged[name], name, loc)
            if problem:
                errors.append(problem)
    if channel == Template.Channel.EMAIL:
        if not str(merged["subject"]).strip():
            errors.append(error_entry([*loc, "subject"], "field required", "required"))
        if not str(merged["html"]).strip() and not str(merged["text"]).strip():
            errors.append(
                error_entry([*loc, "html"], "html or text is required (or upload html_file)", "value_error.missing")
            )
    elif not str(merged["body"]).strip():
        errors.append(error_entry([*loc, "body"], "field required", "required"))
    return merged, errors
