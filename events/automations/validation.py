"""Checking an automation as a client sends it: every problem at once, each at its place in the body."""

from collections.abc import Mapping
from typing import Any

from accounts.models import Account
from config.api.errors import ErrorEntry, error_entry
from contacts.models import Segment
from events.automations.definition import StepChecker, check_tests, iter_steps
from events.automations.models import Automation

FIELDS = ("name", "trigger", "steps", "goal_event", "reentry", "priority")


def automation_input_check(account: Account, data: Any, *, partial: bool) -> tuple[dict[str, Any], list[ErrorEntry]]:
    if not isinstance(data, Mapping):
        return {}, [error_entry(["body"], "Send a JSON object.", "type_error.dict")]
    errors = [
        error_entry(
            ["body", key], f"Unknown field {key!r}; allowed fields are: {', '.join(FIELDS)}.", "value_error.extra"
        )
        for key in data
        if key not in FIELDS
    ]
    out: dict[str, Any] = {}
    if not partial:
        errors += [
            error_entry(["body", key], "field required", "value_error.missing")
            for key in ("name", "trigger")
            if key not in data
        ]
    if "name" in data:
        name = data["name"]
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
            errors.append(error_entry(["body", "name"], "Give a name of 1-200 characters.", "value_error.invalid"))
        else:
            out["name"] = name.strip()
    if "trigger" in data:
        errors += _check_trigger(account, data["trigger"], out)
    if "steps" in data:
        checker = StepChecker()
        steps = checker.check(data["steps"], ["body", "steps"])
        checker.number(steps)
        errors += checker.errors
        errors += _check_segments(account, steps)
        out["steps"] = steps
    if "goal_event" in data:
        goal = data["goal_event"] or ""
        if not isinstance(goal, str) or len(goal) > 100:
            errors.append(
                error_entry(
                    ["body", "goal_event"],
                    "Give an event name (at most 100 characters) or null.",
                    "value_error.invalid",
                )
            )
        else:
            out["goal_event"] = goal.strip()
    if "reentry" in data:
        errors += _check_reentry(data["reentry"], out)
    if "priority" in data:
        priority = data["priority"]
        if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 100:
            errors.append(
                error_entry(["body", "priority"], "Give a priority from 1 (highest) to 100.", "value_error.invalid")
            )
        else:
            out["priority"] = priority
    return out, errors


def _check_trigger(account: Account, raw: Any, out: dict[str, Any]) -> list[ErrorEntry]:
    loc = ["body", "trigger"]
    if not isinstance(raw, Mapping):
        return [
            error_entry(
                loc, 'Give the trigger as an object, e.g. {"type": "tag_added", "tag": "vip"}.', "type_error.dict"
            )
        ]
    kind = raw.get("type")
    if kind not in Automation.Trigger.values:
        return [
            error_entry(
                [*loc, "type"],
                f"{kind!r} is not a trigger; use one of {', '.join(Automation.Trigger.values)}.",
                "type_error.enum",
            )
        ]
    needs = {"tag_added": "tag", "tag_removed": "tag", "event": "event", "segment_entered": "segment"}.get(kind)
    allowed = {"type", *([needs] if needs else []), *(["conditions"] if kind == "event" else [])}
    errors = [
        error_entry(
            [*loc, key],
            f"Unknown field {key!r} for a {kind} trigger; it takes {', '.join(sorted(allowed))}.",
            "value_error.extra",
        )
        for key in raw
        if key not in allowed
    ]
    trigger: dict[str, Any] = {
        "trigger": kind,
        "trigger_tag": None,
        "trigger_event": "",
        "trigger_conditions": [],
        "trigger_segment": None,
    }
    value = raw.get(needs) if needs else None
    if needs and value is None:
        errors.append(error_entry([*loc, needs], f"A {kind} trigger needs {needs}.", "value_error.missing"))
    elif needs == "tag":
        if not isinstance(value, str) or not value.strip() or "," in value or len(value.strip()) > 100:
            errors.append(
                error_entry([*loc, "tag"], "Name one tag (1-100 characters, no comma).", "value_error.invalid")
            )
        else:
            trigger["tag_name"] = value.strip()
    elif needs == "event":
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > 100:
            errors.append(
                error_entry([*loc, "event"], "Give the event's name (1-100 characters).", "value_error.invalid")
            )
        else:
            trigger["trigger_event"] = value.strip()
        tests, problems = check_tests(raw.get("conditions"), [*loc, "conditions"], key="property")
        errors += problems
        trigger["trigger_conditions"] = tests
    elif needs == "segment":
        segment = (
            Segment.objects.filter(account=account, pk=value).first()
            if isinstance(value, int) and not isinstance(value, bool)
            else None
        )
        if segment is None:
            errors.append(
                error_entry([*loc, "segment"], "No saved segment with this id in your account.", "value_error.unknown")
            )
        trigger["trigger_segment"] = segment
    out.update(trigger)
    return errors


def _check_segments(account: Account, steps: list[dict[str, Any]]) -> list[ErrorEntry]:
    wanted = {step["segment"] for step, _ in iter_steps(steps) if step["type"] == "condition" and "segment" in step}
    known = set(Segment.objects.filter(account=account, pk__in=wanted).values_list("pk", flat=True))
    return [
        error_entry(
            ["body", "steps"], f"No saved segment {pk} in your account (condition step).", "value_error.unknown"
        )
        for pk in sorted(wanted - known)
    ]


def _check_reentry(raw: Any, out: dict[str, Any]) -> list[ErrorEntry]:
    loc = ["body", "reentry"]
    if not isinstance(raw, Mapping):
        return [
            error_entry(
                loc, 'Give {"mode": "once"} or {"mode": "every_trigger", "min_gap_seconds": 3600}.', "type_error.dict"
            )
        ]
    errors = [
        error_entry([*loc, key], f"Unknown field {key!r}; reentry takes mode and min_gap_seconds.", "value_error.extra")
        for key in raw
        if key not in ("mode", "min_gap_seconds")
    ]
    mode, gap = raw.get("mode", "once"), raw.get("min_gap_seconds")
    if mode not in Automation.Reentry.values:
        errors.append(
            error_entry([*loc, "mode"], f"{mode!r} is not a mode; use once or every_trigger.", "type_error.enum")
        )
    if gap is not None and (isinstance(gap, bool) or not isinstance(gap, int) or not 0 <= gap <= 366 * 86400):
        errors.append(
            error_entry(
                [*loc, "min_gap_seconds"], "Give whole seconds from 0 to 31,622,400, or null.", "value_error.invalid"
            )
        )
    elif gap is not None and mode == "once":
        errors.append(
            error_entry([*loc, "min_gap_seconds"], "A gap applies to every_trigger only.", "value_error.invalid")
        )
    out["reentry"] = mode
    out["reentry_min_gap_seconds"] = gap
    return errors
