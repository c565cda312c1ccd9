"""The rules a sign-up form's settings follow, in one place for the API and the admin: each problem is a
{loc, msg, type} entry that says what to fix."""

import re
from typing import Any
from urllib.parse import urlsplit

from accounts.models import Account
from config.api.errors import ErrorEntry, error_entry
from emails.addresses import AddressError, parse_address
from emails.services.accept import AcceptContext

COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
FIELD_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Keys the visitor's body uses for itself; a custom field may not take them.
RESERVED_KEYS = frozenset({"email", "name", "full_name", "consent", "website", "pow_ts", "pow_nonce", "fields"})
COLOURS = ("background", "text", "accent", "accent_text")
TEXTS = {
    "title": ("Join our newsletter", 120),
    "description": ("", 500),
    "email_label": ("Email address", 80),
    "name_label": ("Name", 80),
    "button": ("Subscribe", 40),
    "success": ("Almost done: check your inbox and click the link to confirm.", 300),
    "close_label": ("Close", 40),
    "confirm_subject": ("Please confirm your subscription", 150),
}
DEFAULT_COLOURS = {"background": "#ffffff", "text": "#1f2328", "accent": "#1f6feb", "accent_text": "#ffffff"}
MAX_CUSTOM_FIELDS = 10
MAX_ORIGINS = 50
MAX_TAGS = 20
MAX_POW_BITS = 24


def appearance_with_defaults(appearance: dict[str, Any]) -> dict[str, str]:
    """Every colour and text the script and the confirmation email use: the form's own, else the default."""
    merged = {**DEFAULT_COLOURS, **{key: default for key, (default, _) in TEXTS.items()}}
    merged.update({key: str(value) for key, value in appearance.items() if key in merged and value not in (None, "")})
    return merged


def normalise_origin(value: str) -> str | None:
    """`https://www.acme.test` (scheme, host and port only) or `https://*.acme.test`; None when it is not one."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username or parts.password:
        return None
    host = parts.hostname.lower()
    wildcard = host.startswith("*.")
    labels = host[2:] if wildcard else host
    if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*", labels):
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def origin_allowed(origin: str, allowed: list[str]) -> bool:
    """Whether a browser's Origin header names one of the form's sites (`*.acme.test` covers its subdomains)."""
    candidate = normalise_origin(origin) if origin else None
    if candidate is None or "*" in candidate:
        return False
    scheme, _, rest = candidate.partition("://")
    for entry in allowed:
        if entry == candidate:
            return True
        if "://*." in entry:
            entry_scheme, _, pattern = entry.partition("://*.")
            host, _, port = rest.partition(":")
            pattern_host, _, pattern_port = pattern.partition(":")
            if entry_scheme == scheme and port == pattern_port and host.endswith("." + pattern_host):
                return True
    return False


def _origins(values: Any) -> list[ErrorEntry]:
    if not isinstance(values, list) or not values:
        return [
            error_entry(
                ["body", "allowed_origins"],
                'list the sites that embed the form, e.g. ["https://www.acme.test"]',
                "value_error.missing",
            )
        ]
    if len(values) > MAX_ORIGINS:
        return [
            error_entry(["body", "allowed_origins"], f"at most {MAX_ORIGINS} origins", "value_error.list.max_items")
        ]
    return [
        error_entry(
            ["body", "allowed_origins", index],
            f"{value!r} is not an origin: give scheme and host only, e.g. https://www.acme.test or https://*.acme.test",
            "value_error.origin",
        )
        for index, value in enumerate(values)
        if not isinstance(value, str) or normalise_origin(value) is None
    ]


def _custom_fields(values: Any) -> list[ErrorEntry]:
    if not isinstance(values, list):
        return [error_entry(["body", "custom_fields"], "a list of {key, label, required}", "type_error.list")]
    problems = []
    if len(values) > MAX_CUSTOM_FIELDS:
        problems.append(
            error_entry(
                ["body", "custom_fields"], f"at most {MAX_CUSTOM_FIELDS} custom fields", "value_error.list.max_items"
            )
        )
    seen: set[str] = set()
    for index, field in enumerate(values):
        loc = ["body", "custom_fields", index]
        if not isinstance(field, dict) or set(field) - {"key", "label", "required"}:
            problems.append(error_entry(loc, "each custom field is {key, label, required}", "value_error.invalid"))
            continue
        key, label = field.get("key"), field.get("label")
        if not isinstance(key, str) or not FIELD_KEY.fullmatch(key) or key in RESERVED_KEYS:
            problems.append(
                error_entry(
                    [*loc, "key"],
                    "a key is lower-case letters, digits and _ (up to 40), and not "
                    f"one of {', '.join(sorted(RESERVED_KEYS))}",
                    "value_error.key",
                )
            )
        elif key in seen:
            problems.append(error_entry([*loc, "key"], f"{key!r} is used twice", "value_error.duplicate"))
        else:
            seen.add(key)
        if not isinstance(label, str) or not label.strip() or len(label) > 80:
            problems.append(error_entry([*loc, "label"], "a label of 1 to 80 characters", "value_error.label"))
        if not isinstance(field.get("required", False), bool):
            problems.append(error_entry([*loc, "required"], "true or false", "type_error.bool"))
    return problems


def _appearance(values: Any) -> list[ErrorEntry]:
    if not isinstance(values, dict):
        return [error_entry(["body", "appearance"], "an object of colours and texts", "type_error.dict")]
    problems = []
    for key, value in values.items():
        loc = ["body", "appearance", key]
        if key in COLOURS:
            if not isinstance(value, str) or not COLOUR.fullmatch(value):
                problems.append(error_entry(loc, "a colour as #rrggbb, e.g. #1f6feb", "value_error.colour"))
        elif key in TEXTS:
            if not isinstance(value, str) or len(value) > TEXTS[key][1]:
                problems.append(error_entry(loc, f"text of at most {TEXTS[key][1]} characters", "value_error.text"))
        else:
            known = ", ".join([*COLOURS, *TEXTS])
            problems.append(error_entry(loc, f"unknown setting; known: {known}", "value_error.extra"))
    return problems


def _tags(values: Any) -> list[ErrorEntry]:
    if not isinstance(values, list) or len(values) > MAX_TAGS:
        return [error_entry(["body", "tags"], f"a list of at most {MAX_TAGS} tag names", "type_error.list")]
    return [
        error_entry(["body", "tags", index], "a tag name of 1 to 100 characters", "value_error.tag")
        for index, value in enumerate(values)
        if not isinstance(value, str) or not value.strip() or len(value) > 100
    ]


def sender_problems(*, account: Account, sender: str, config_identifier: str) -> list[ErrorEntry]:
    """The confirmation email goes out from `sender`: it must be a verified identity of the connection."""
    try:
        address = parse_address(sender)
    except AddressError as exc:
        return [error_entry(["body", "sender"], str(exc), "value_error.email")]
    ctx = AcceptContext(account)
    connection, problem = ctx.connection(config_identifier or None, ["body"])
    if problem is not None:
        return [problem]
    assert connection is not None
    if not ctx.sender_verified(connection, address):
        return [
            error_entry(
                ["body", "sender"],
                f"{address.email} is not a verified identity of the AWS connection {connection.identifier!r}, so the "
                "confirmation email could not be sent; verify the address or its domain first (POST /v1/identities "
                "or manage.py add_identity)",
                "value_error.unverified_sender",
            )
        ]
    return []


def form_problems(*, account: Account, values: dict[str, Any]) -> list[ErrorEntry]:
    """Every problem of a form's settings (`values` holds the whole form, after a change is applied)."""
    problems = [
        *_origins(values.get("allowed_origins")),
        *_custom_fields(values.get("custom_fields", [])),
        *_appearance(values.get("appearance", {})),
        *_tags(values.get("tags", [])),
        *sender_problems(
            account=account,
            sender=str(values.get("sender") or ""),
            config_identifier=values.get("config_identifier", ""),
        ),
    ]
    topic = values.get("topic")
    if topic is not None and topic.account_id != account.pk:
        problems.append(error_entry(["body", "topic"], "that topic belongs to another account", "value_error.unknown"))
    if values.get("require_name") and not values.get("ask_name"):
        problems.append(
            error_entry(
                ["body", "require_name"], "a required name must be asked: set ask_name too", "value_error.invalid"
            )
        )
    bits = values.get("proof_of_work_bits", 0)
    if not isinstance(bits, int) or not 0 <= bits <= MAX_POW_BITS:
        problems.append(
            error_entry(["body", "proof_of_work_bits"], f"0 (off) to {MAX_POW_BITS}", "value_error.number.not_le")
        )
    scroll = values.get("scroll_percent", 50)
    if not isinstance(scroll, int) or not 1 <= scroll <= 100:
        problems.append(error_entry(["body", "scroll_percent"], "1 to 100", "value_error.number.not_le"))
    return problems
