"""The input boundary: what every JSON body must satisfy before any view, serializer or validator reads it.

Three checks, in the order that keeps a hostile body cheap to refuse:

1. shape, before parsing: nesting depth and the number of values, counted on the raw text with strings
   skipped, so `[[[[...` never reaches the recursive JSON decoder and a million tiny values are never built;
2. numbers, while parsing: NaN, Infinity and numbers too large for a float are refused (PostgreSQL's jsonb
   and every client's JSON parser would choke on them later);
3. text, after parsing: every string and every object key, at any depth, is valid Unicode (no lone
   surrogates) without NUL or non-printing control characters. Values may hold tab, line feed and carriage
   return (bodies, multi-line notes); keys may not. Fields where a line break is wrong (a subject, a header)
   say so in their own validation.

Each problem names where it is, in the API's {loc, msg, type} shape. The SNS webhook uses the shape check too.
"""

import json
import math
import re
from itertools import accumulate
from typing import Any

from config.api.errors import ErrorEntry, Loc, error_entry

# A JSON string token, escapes included (unrolled so that it runs in linear time).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# Brackets counted one by one in Python at most this many times per body (tens of milliseconds).
_DEPTH_SCAN_LIMIT = 1_000_000

# C0 controls except tab, line feed and carriage return; DEL; C1 controls; lone surrogates.
_BAD_IN_VALUE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Keys name things: no control character at all.
_BAD_IN_KEY = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# At most this many text problems are listed; the body has to be fixed at its source anyway.
MAX_TEXT_PROBLEMS = 50


class ShapeError(ValueError):
    """The body is well-formed enough to measure but too deep, too big or holds a number JSON cannot carry.
    `code` is the 422 type; `too_large` tells a transport that 413 is the better answer."""

    def __init__(self, message: str, code: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.too_large = too_large


def check_shape(text: str, *, max_depth: int, max_items: int) -> None:
    """Refuse nesting deeper than `max_depth` and more than `max_items` values, without parsing.

    Strings are cut out first (their brackets and commas are text), then brackets and commas are counted.
    Malformed input may be measured imprecisely; it is refused either here or by the decoder.
    """
    if _raw_counts_fit(text, max_depth=max_depth, max_items=max_items):
        return
    skeleton = _STRING.sub("", text)
    openers = skeleton.count("[") + skeleton.count("{")
    closers = skeleton.count("]") + skeleton.count("}")
    # Depth first, so a pile of brackets is called what it is; the scan is skipped only when it would be long,
    # and then the count refuses the body anyway.
    depth_checked = openers + closers <= _DEPTH_SCAN_LIMIT
    if depth_checked:
        _check_depth(skeleton, openers, max_depth)
    if openers + skeleton.count(",") + 1 > max_items or closers > max_items:
        raise ShapeError(
            f"The body holds more than {max_items:,} JSON values; split it into smaller requests.",
            "value_error.json.too_many_values",
            too_large=True,
        )
    if not depth_checked:
        _check_depth(skeleton, openers, max_depth)


def _raw_counts_fit(text: str, *, max_depth: int, max_items: int) -> bool:
    """Counted with strings left in, brackets and commas can only be over-counted: when even those counts fit,
    the body fits (the common case, e.g. one email), and cutting strings out is not needed."""
    openers = text.count("[") + text.count("{")
    return (
        openers <= max_depth
        and openers + text.count(",") + 1 <= max_items
        and text.count("]") + text.count("}") <= max_items
    )


def _check_depth(skeleton: str, openers: int, max_depth: int) -> None:
    if openers <= max_depth:
        return
    brackets = _NOT_BRACKET.sub("", skeleton)
    if max(accumulate(_DEPTH_STEP[char] for char in brackets)) > max_depth:
        raise ShapeError(
            f"The body nests arrays and objects more than {max_depth} levels deep.",
            "value_error.json.too_deep",
        )


def _refuse_constant(name: str) -> Any:
    raise ShapeError(f"{name} is not a JSON number; send a finite number or null.", "value_error.number.not_finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ShapeError(
            f"The number {text[:40]} is out of range; JSON numbers here must fit a double.",
            "value_error.number.not_finite",
        )
    return value


def decode(text: str, *, max_depth: int, max_items: int) -> Any:
    """Shape-check, then parse. Raises ShapeError, or json.JSONDecodeError for malformed JSON."""
    check_shape(text, max_depth=max_depth, max_items=max_items)
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)


def text_problems(data: Any, loc: Loc) -> list[ErrorEntry]:
    """Every string and key in `data` (recursively) that is not clean text, as 422 entries at their path."""
    problems: list[ErrorEntry] = []

    def walk(value: Any, path: Loc) -> None:
        if len(problems) >= MAX_TEXT_PROBLEMS:
            return
        if isinstance(value, str):
            found = _BAD_IN_VALUE.search(value)
            if found:
                problems.append(_problem(path, value, found.start(), "text"))
        elif isinstance(value, dict):
            for key, item in value.items():
                found = _BAD_IN_KEY.search(key)
                if found:
                    problems.append(_problem([*path, key], key, found.start(), "key"))
                else:
                    walk(item, [*path, key])
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, [*path, index])

    walk(data, list(loc))
    return problems


def _problem(loc: Loc, text: str, position: int, what: str) -> ErrorEntry:
    char = text[position]
    point = f"U+{ord(char):04X}"
    if 0xD800 <= ord(char) <= 0xDFFF:
        msg = f"The {what} holds a lone surrogate ({point}) at position {position}: that is not Unicode text."
        code = "value_error.str.surrogate"
    elif char == "\x00":
        msg = f"The {what} holds a NUL character ({point}) at position {position}; remove it."
        code = "value_error.str.nul"
    else:
        if what == "text":
            allowed = "tab, line feed and carriage return are the only ones allowed in text"
        else:
            allowed = "keys may not hold any"
        msg = f"The {what} holds the control character {point} at position {position}; {allowed}."
        code = "value_error.str.control_character"
    return error_entry(loc, msg, code)
