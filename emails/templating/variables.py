"""Template variables: the declared list (name, type, default, required), the call's values checked against it,
and what a contact supplies."""

import re
from collections.abc import Mapping
from typing import Any

from config.api.errors import ErrorEntry, Loc, error_entry
from contacts.models import Contact

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_DECLARED = 100
MAX_CALL_VARIABLES = 200

# The JSON type each declared type accepts (bool is not a number, though Python says so).
TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "boolean": (bool,),
    "list": (list,),
    "object": (dict,),
}
DECLARATION_FIELDS = ("name", "type", "default", "required", "description")


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "number" and isinstance(value, bool):
        return False
    return isinstance(value, TYPES[kind])


def declarations_check(value: Any, loc: Loc) -> tuple[list[dict[str, Any]], list[ErrorEntry]]:
    """Validate a declared variable list; returns it normalised ({name, type, default?, required, description})."""
    if value is None:
        return [], []
    if not isinstance(value, list):
        return [], [error_entry(loc, "must be a list of {name, type, default, required, description}", "not_a_list")]
    if len(value) > MAX_DECLARED:
        return [], [error_entry(loc, f"at most {MAX_DECLARED} variables (got {len(value)})", "max_items")]
    errors: list[ErrorEntry] = []
    declared: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        where = [*loc, index]
        if not isinstance(item, dict):
            errors.append(error_entry(where, "must be an object {name, type, default, required}", "type_error.dict"))
            continue
        for key in sorted(item.keys() - set(DECLARATION_FIELDS)):
            allowed = ", ".join(DECLARATION_FIELDS)
            errors.append(error_entry([*where, key], f"Unknown field {key!r}; allowed fields are: {allowed}.", "extra"))
        name, kind = item.get("name"), item.get("type", "string")
        if not isinstance(name, str) or not NAME.match(name):
            errors.append(
                error_entry([*where, "name"], "a name of letters, digits and _ (not first), at most 64", "invalid")
            )
            continue
        if name in seen:
            errors.append(error_entry([*where, "name"], f"{name!r} is declared twice", "duplicate"))
            continue
        seen.add(name)
        if kind not in TYPES:
            errors.append(error_entry([*where, "type"], f"one of {', '.join(TYPES)}", "type_error.enum"))
            continue
        entry: dict[str, Any] = {"name": name, "type": kind}
        if "default" in item and item["default"] is not None:
            if not _type_ok(kind, item["default"]):
                errors.append(error_entry([*where, "default"], f"must be a {kind}, like the variable", "type_error"))
                continue
            entry["default"] = item["default"]
        required = item.get("required", "default" not in entry)
        if not isinstance(required, bool):
            errors.append(error_entry([*where, "required"], "must be true or false", "type_error.bool"))
            continue
        description = item.get("description", "")
        if not isinstance(description, str) or len(description) > 500:
            errors.append(error_entry([*where, "description"], "a text of at most 500 characters", "invalid"))
            continue
        entry.update(required=required, description=description)
        declared.append(entry)
    return declared, errors


def call_variables_check(value: Any, declared: list[dict[str, Any]], loc: Loc) -> list[ErrorEntry]:
    """Problems of the `variables` object of a send or a preview: its shape, and declared types."""
    if value is None:
        return []
    if not isinstance(value, dict):
        return [error_entry(loc, "must be an object of variable names to values", "type_error.dict")]
    if len(value) > MAX_CALL_VARIABLES:
        return [error_entry(loc, f"at most {MAX_CALL_VARIABLES} variables (got {len(value)})", "max_items")]
    kinds = {item["name"]: item["type"] for item in declared}
    errors = []
    for name, item in value.items():
        if not NAME.match(name):
            errors.append(
                error_entry([*loc, name], "names are letters, digits and _ (not first), at most 64", "invalid")
            )
        elif name in kinds and item is not None and not _type_ok(kinds[name], item):
            errors.append(
                error_entry([*loc, name], f"must be a {kinds[name]} (declared so by the template)", "type_error")
            )
    return errors


def contact_variables(contact: Contact) -> dict[str, Any]:
    """What a contact supplies to a template: its attributes, then its own fields (which win on a clash), without
    empty ones so that a template's fallback applies. `first_name` and `last_name` come from `full_name` unless the
    attributes hold them."""
    values: dict[str, Any] = {k: v for k, v in (contact.attributes or {}).items() if v not in (None, "")}
    first, _, last = contact.full_name.strip().partition(" ")
    values.setdefault("first_name", first)
    values.setdefault("last_name", last.strip())
    fields = {
        "email": contact.email,
        "mobile": contact.mobile,
        "full_name": contact.full_name,
        "city": contact.city,
        "country": contact.country,
        "gender": contact.gender,
        "dob": contact.dob.isoformat() if contact.dob else None,
    }
    values.update({k: v for k, v in fields.items() if v})
    return {k: v for k, v in values.items() if v not in (None, "")}


def render_context(
    *,
    declared: list[dict[str, Any]],
    variables: Mapping[str, Any],
    contact: Contact | None,
    extra: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The render context, lowest first: declared defaults, the contact, the call's variables, then `extra`
    (values Sesame itself supplies, such as a broadcast's `unsubscribe_url`, which a call cannot override)."""
    context = {item["name"]: item["default"] for item in declared if "default" in item}
    if contact is not None:
        context.update(contact_variables(contact))
    context.update({k: v for k, v in variables.items() if v is not None})
    context.update(extra or {})
    return context


def missing_required(declared: list[dict[str, Any]], context: Mapping[str, Any]) -> list[str]:
    """Declared required variables nobody supplied."""
    return [item["name"] for item in declared if item["required"] and context.get(item["name"]) in (None, "")]
