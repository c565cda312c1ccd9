"""An automation's steps and tests as data: checking what a client sent, and walking it.

Steps are a list; a condition holds a `yes` and a `no` list, and after either branch the run carries on with the
step after the condition. Every step gets an id (`s1`, `s2`, ... in reading order, kept when given) so runs, step
records and per-step counts can name it.
"""

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any

from config.api.errors import ErrorEntry, Loc, error_entry

STEP_TYPES = ("wait", "condition", "send", "add_tag", "remove_tag", "exit")
OPERATORS = ("eq", "neq", "contains", "gt", "gte", "lt", "lte", "exists", "not_exists")
CHANNELS = ("email", "sms", "push")
MAX_STEPS = 100
MAX_WAIT_SECONDS = 366 * 86400
_STEP_ID = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
# Contact fields a test may name besides `attributes.<key>`.
CONTACT_FIELDS = ("email", "mobile", "status", "full_name", "gender", "city", "country", "dob")


class StepFailed(Exception):
    """A step that can never succeed as configured (an unknown template, an unverified sender): the run fails at
    once with this reason instead of being retried."""


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value)) if isinstance(value, int | float | str) else None
    except InvalidOperation:
        return None


def test_passes(test: Mapping[str, Any], actual: Any, *, present: bool) -> bool:
    """One `{op, value}` test against a value (`present` says whether the key exists at all). Comparisons of
    numbers are numeric (so "3" equals 3), text compares case-insensitively."""
    op, expected = test["op"], test.get("value")
    if op == "exists":
        return present
    if op == "not_exists":
        return not present
    if not present:
        return op == "neq"
    if op in ("eq", "neq"):
        left, right = _number(actual), _number(expected)
        same = left == right if left is not None and right is not None else _text(actual) == _text(expected)
        return same if op == "eq" else not same
    if op == "contains":
        if isinstance(actual, list):
            return any(_text(item) == _text(expected) for item in actual)
        return _text(expected) in _text(actual)
    left, right = _number(actual), _number(expected)
    if left is None or right is None:
        left_text, right_text = _text(actual), _text(expected)
        return {
            "gt": left_text > right_text,
            "gte": left_text >= right_text,
            "lt": left_text < right_text,
            "lte": left_text <= right_text,
        }[op]
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]


def _text(value: Any) -> str:
    return str(value).casefold() if value is not None else ""


def properties_match(conditions: Sequence[Mapping[str, Any]], properties: Mapping[str, Any]) -> bool:
    """All of an event trigger's property tests (`{"property": "product", "op": "eq", "value": "red sneakers"}`)."""
    return all(
        test_passes(test, properties.get(test["property"]), present=test["property"] in properties)
        for test in conditions
    )


def check_tests(raw: Any, loc: Loc, *, key: str) -> tuple[list[dict[str, Any]], list[ErrorEntry]]:
    """A list of `{<key>, op, value}` tests; `key` is "property" (event triggers) or "field" (conditions)."""
    if raw in (None, ""):
        return [], []
    if not isinstance(raw, list):
        return [], [
            error_entry(
                loc, f'Give a list of tests, e.g. [{{"{key}": "product", "op": "eq", ...}}].', "type_error.list"
            )
        ]
    tests, errors = [], []
    for index, item in enumerate(raw):
        test, problems = _check_test(item, [*loc, index], key=key)
        errors += problems
        if test is not None:
            tests.append(test)
    return tests, errors


def _check_test(item: Any, loc: Loc, *, key: str) -> tuple[dict[str, Any] | None, list[ErrorEntry]]:
    if not isinstance(item, Mapping):
        return None, [error_entry(loc, f"Each test is an object with {key}, op and value.", "type_error.dict")]
    errors = [
        error_entry([*loc, extra], f"Unknown field {extra!r}; a test has {key}, op and value.", "value_error.extra")
        for extra in item
        if extra not in (key, "op", "value")
    ]
    name, op = item.get(key), item.get("op", "eq")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        errors.append(error_entry([*loc, key], f"Name the {key} to test (1-100 characters).", "value_error.missing"))
    elif key == "field" and name not in CONTACT_FIELDS and not name.startswith("attributes."):
        errors.append(
            error_entry(
                [*loc, key],
                f"{name!r} is not a contact field; use one of {', '.join(CONTACT_FIELDS)} or attributes.<key>.",
                "value_error.invalid",
            )
        )
    if op not in OPERATORS:
        errors.append(
            error_entry(
                [*loc, "op"], f"{op!r} is not an operator; use one of {', '.join(OPERATORS)}.", "type_error.enum"
            )
        )
    elif op not in ("exists", "not_exists") and ("value" not in item or isinstance(item["value"], dict | list)):
        errors.append(
            error_entry(
                [*loc, "value"], f"The {op} test needs a value (text, number or boolean).", "value_error.missing"
            )
        )
    if errors:
        return None, errors
    test = {key: str(name).strip(), "op": op}
    if "value" in item:
        test["value"] = item["value"]
    return test, []


@dataclass(frozen=True)
class Flow:
    """Steps by id, and where a run goes after each."""

    steps: dict[str, dict[str, Any]]
    after: dict[str, str]  # step id -> next step id ("" = the end)
    first: str

    def next_of(self, step_id: str, *, branch: str | None = None) -> str:
        step = self.steps[step_id]
        if branch is not None and step[branch]:
            return str(step[branch][0]["id"])
        return self.after[step_id]


def flow_of(steps: list[dict[str, Any]]) -> Flow:
    by_id: dict[str, dict[str, Any]] = {}
    after: dict[str, str] = {}

    def walk(items: list[dict[str, Any]], follow: str) -> None:
        for index, step in enumerate(items):
            following = str(items[index + 1]["id"]) if index + 1 < len(items) else follow
            by_id[step["id"]] = step
            after[step["id"]] = following
            if step["type"] == "condition":
                walk(step["yes"], following)
                walk(step["no"], following)

    walk(steps, "")
    return Flow(steps=by_id, after=after, first=str(steps[0]["id"]) if steps else "")


def iter_steps(steps: list[dict[str, Any]], depth: int = 0) -> Iterator[tuple[dict[str, Any], int]]:
    """Every step in reading order with its nesting depth (the admin's vertical flow)."""
    for step in steps:
        yield step, depth
        if step["type"] == "condition":
            yield from iter_steps(step["yes"], depth + 1)
            yield from iter_steps(step["no"], depth + 1)


class StepChecker:
    """Checks a list of steps and gives each an id; `errors` holds every problem with its location."""

    def __init__(self) -> None:
        self.errors: list[ErrorEntry] = []
        self.count = 0
        self.ids: set[str] = set()

    def check(self, raw: Any, loc: Loc) -> list[dict[str, Any]]:
        if not isinstance(raw, list):
            self.errors.append(error_entry(loc, "Give steps as a list.", "type_error.list"))
            return []
        steps = [step for index, item in enumerate(raw) if (step := self._step(item, [*loc, index])) is not None]
        return steps

    def number(self, steps: list[dict[str, Any]]) -> None:
        """Give every step without an id the next free `sN`."""
        counter = 0
        for step, _ in iter_steps(steps):
            if "id" not in step:
                counter += 1
                while f"s{counter}" in self.ids:
                    counter += 1
                step["id"] = f"s{counter}"
                self.ids.add(step["id"])

    def _fail(self, loc: Loc, msg: str, kind: str = "value_error.invalid") -> None:
        self.errors.append(error_entry(loc, msg, kind))

    def _step(self, item: Any, loc: Loc) -> dict[str, Any] | None:
        self.count += 1
        if self.count == MAX_STEPS + 1:
            self._fail(loc, f"An automation has at most {MAX_STEPS} steps.", "value_error.max_items")
        if not isinstance(item, Mapping):
            self._fail(loc, "Each step is an object with a type.", "type_error.dict")
            return None
        kind = item.get("type")
        if kind not in STEP_TYPES:
            self._fail(
                [*loc, "type"], f"{kind!r} is not a step type; use one of {', '.join(STEP_TYPES)}.", "type_error.enum"
            )
            return None
        step: dict[str, Any] = {"type": kind}
        allowed = {"type", "id", *_FIELDS[kind]}
        for extra in item:
            if extra not in allowed:
                self._fail(
                    [*loc, extra],
                    f"Unknown field {extra!r} for a {kind} step; it takes {', '.join(sorted(allowed))}.",
                    "value_error.extra",
                )
        step_id = item.get("id")
        if step_id is not None:
            if not isinstance(step_id, str) or not _STEP_ID.match(step_id):
                self._fail([*loc, "id"], "A step id is 1-20 letters, digits, - or _.")
            elif step_id in self.ids:
                self._fail([*loc, "id"], f"The step id {step_id!r} is used twice.", "value_error.duplicate")
            else:
                self.ids.add(step_id)
                step["id"] = step_id
        getattr(self, f"_{kind}")(item, loc, step)
        return step

    def _wait(self, item: Mapping[str, Any], loc: Loc, step: dict[str, Any]) -> None:
        seconds, until = item.get("seconds"), item.get("until")
        if (seconds is None) == (until is None):
            self._fail(
                loc, 'A wait takes "seconds" (a duration) or "until" (a time of day, "09:00").', "value_error.missing"
            )
        elif seconds is not None:
            if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= MAX_WAIT_SECONDS:
                self._fail([*loc, "seconds"], f"Give whole seconds from 1 to {MAX_WAIT_SECONDS:,} (366 days).")
            else:
                step["seconds"] = seconds
        elif not isinstance(until, str) or not _TIME_OF_DAY.match(until):
            self._fail([*loc, "until"], 'Give a time of day as HH:MM, 24-hour, e.g. "09:00".')
        else:
            step["until"] = until

    def _condition(self, item: Mapping[str, Any], loc: Loc, step: dict[str, Any]) -> None:
        segment, tests = item.get("segment"), item.get("tests")
        if (segment is None) == (tests is None):
            self._fail(
                loc,
                'A condition takes "segment" (a saved segment id) or "tests" (contact field tests).',
                "value_error.missing",
            )
        elif segment is not None:
            if isinstance(segment, bool) or not isinstance(segment, int):
                self._fail([*loc, "segment"], "Give a saved segment's id (a number).", "type_error.integer")
            else:
                step["segment"] = segment
        else:
            checked, problems = check_tests(tests, [*loc, "tests"], key="field")
            self.errors += problems
            if not checked and not problems:
                self._fail([*loc, "tests"], "Give at least one test.", "value_error.missing")
            step["tests"] = checked
        step["yes"] = self.check(item.get("yes", []), [*loc, "yes"])
        step["no"] = self.check(item.get("no", []), [*loc, "no"])

    def _send(self, item: Mapping[str, Any], loc: Loc, step: dict[str, Any]) -> None:
        channel = item.get("channel", "email")
        if channel not in CHANNELS:
            self._fail(
                [*loc, "channel"], f"{channel!r} is not a channel; use one of {', '.join(CHANNELS)}.", "type_error.enum"
            )
        step["channel"] = channel
        for key in ("template", "topic", "from", "config_identifier"):
            value = item.get(key)
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip() or len(value) > 320:
                self._fail([*loc, key], f"Give {key} as text (1-320 characters).")
            else:
                step[key] = value.strip()
        if "template" not in step and "template" not in item:
            self._fail([*loc, "template"], "A send step names its template (its id or name).", "value_error.missing")
        if channel == "email" and "from" not in step and "from" not in item:
            self._fail(
                [*loc, "from"], "An email send step needs a from address (a verified identity).", "value_error.missing"
            )
        if channel == "push":
            for key in ("from", "config_identifier"):
                if key in item:
                    self._fail(
                        [*loc, key],
                        f"A push step takes no {key}: a push goes to the contact's enabled devices, each through "
                        "its app's connection.",
                        "value_error.not_applicable",
                    )

    def _tag(self, item: Mapping[str, Any], loc: Loc, step: dict[str, Any]) -> None:
        tag = item.get("tag")
        if not isinstance(tag, str) or not tag.strip() or len(tag.strip()) > 100 or "," in tag:
            self._fail([*loc, "tag"], "Name one tag (1-100 characters, no comma).", "value_error.missing")
        else:
            step["tag"] = tag.strip()

    _add_tag = _remove_tag = _tag

    def _exit(self, item: Mapping[str, Any], loc: Loc, step: dict[str, Any]) -> None:
        return None


_FIELDS: dict[str, tuple[str, ...]] = {
    "wait": ("seconds", "until"),
    "condition": ("segment", "tests", "yes", "no"),
    "send": ("channel", "template", "topic", "from", "config_identifier"),
    "add_tag": ("tag",),
    "remove_tag": ("tag",),
    "exit": (),
}


def time_of_day(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))
