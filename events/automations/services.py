"""Writes of automations: create, edit (versioned once runs exist), activate, pause; operators' run actions; the
segment-entry check."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from config.api.errors import ErrorEntry, UnprocessableEntity, error_entry
from contacts.models import Segment
from contacts.selectors import contacts_matching
from contacts.tagging import tags_resolve
from events.automations.definition import StepChecker, check_tests
from events.automations.enrolment import active_trigger_of, runs_enrol, triggers_changed
from events.automations.models import (
    Automation,
    AutomationRun,
    AutomationSegmentMember,
    AutomationVersion,
)
from events.automations.runner import runs_finish

FIELDS = ("name", "trigger", "steps", "goal_event", "reentry", "priority")
TRIGGER_FIELDS = {"type", "tag", "event", "conditions", "segment"}


class AutomationConflict(Exception):
    """The change is not possible in the automation's current state; the message says why."""


def _check(account: Account, data: Any, *, partial: bool) -> tuple[dict[str, Any], list[ErrorEntry]]:
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
    from events.automations.definition import iter_steps

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


def _apply(automation: Automation, values: dict[str, Any]) -> None:
    tag_name = values.pop("tag_name", None)
    if tag_name is not None:
        # Made now if new, so the trigger can name it by id before any contact has it.
        found = tags_resolve(account_id=automation.account_id, names=[tag_name], create=True)
        values["trigger_tag"] = next(iter(found.values()))
    for name in (
        "name",
        "trigger",
        "trigger_tag",
        "trigger_event",
        "trigger_conditions",
        "trigger_segment",
        "reentry",
        "reentry_min_gap_seconds",
        "priority",
    ):
        if name in values:
            setattr(automation, name, values[name])


def _triggers_changed(account_id: Any) -> None:
    # Now, and again at commit: a process that reloads in between reads the old state, the second bump makes it
    # read again (as accounts.tenant_cache.tenant_changed does).
    triggers_changed(account_id)
    transaction.on_commit(lambda: triggers_changed(account_id))


@transaction.atomic
def automation_create(*, account: Account, data: Any) -> Automation:
    values, errors = _check(account, data, partial=False)
    if errors:
        raise UnprocessableEntity(errors)
    automation = Automation(account=account)
    _apply(automation, values)
    automation.save()
    automation.version = AutomationVersion.objects.create(
        automation=automation, number=1, steps=values.get("steps", []), goal_event=values.get("goal_event", "")
    )
    automation.save(update_fields=["version"])
    return automation


@transaction.atomic
def automation_update(*, automation: Automation, data: Any) -> Automation:
    """Change the given fields. New steps or a new goal make a new version when runs have started on the current
    one (they finish on it); otherwise the current version is edited in place."""
    automation = Automation.objects.select_for_update().get(pk=automation.pk)
    values, errors = _check(automation.account, data, partial=True)
    if errors:
        raise UnprocessableEntity(errors)
    _apply(automation, values)
    current = automation.version
    assert current is not None
    if "steps" in values or "goal_event" in values:
        steps = values.get("steps", current.steps)
        goal = values.get("goal_event", current.goal_event)
        if steps != current.steps or goal != current.goal_event:
            if AutomationRun.objects.filter(version=current).exists():
                automation.version = AutomationVersion.objects.create(
                    automation=automation, number=current.number + 1, steps=steps, goal_event=goal
                )
            else:
                current.steps, current.goal_event = steps, goal
                current.save(update_fields=["steps", "goal_event"])
    if automation.status == Automation.Status.ACTIVE and not automation.version.steps:  # type: ignore[union-attr]
        raise UnprocessableEntity(
            [error_entry(["body", "steps"], "An active automation needs at least one step.", "value_error.missing")]
        )
    automation.save()
    _triggers_changed(automation.account_id)
    return automation


@transaction.atomic
def automation_activate(*, automation: Automation) -> Automation:
    automation = Automation.objects.select_for_update().get(pk=automation.pk)
    if automation.version is None or not automation.version.steps:
        raise AutomationConflict("Add at least one step before activating the automation.")
    if automation.status != Automation.Status.ACTIVE:
        if automation.trigger == Automation.Trigger.SEGMENT_ENTERED and automation.status == Automation.Status.DRAFT:
            automation.segment_checked_at = None  # the first look records who is in already
        automation.status = Automation.Status.ACTIVE
        automation.save(update_fields=["status", "segment_checked_at", "updated_at"])
        _triggers_changed(automation.account_id)
    return automation


@transaction.atomic
def automation_pause(*, automation: Automation) -> Automation:
    """No new enrolments, and runs in flight hold where they are until it is activated again (goal events still
    end them)."""
    automation = Automation.objects.select_for_update().get(pk=automation.pk)
    if automation.status == Automation.Status.DRAFT:
        raise AutomationConflict("A draft automation is not running; activate it first.")
    if automation.status != Automation.Status.PAUSED:
        automation.status = Automation.Status.PAUSED
        automation.save(update_fields=["status", "updated_at"])
        _triggers_changed(automation.account_id)
    return automation


@transaction.atomic
def automation_delete(*, automation: Automation) -> None:
    account_id = automation.account_id
    automation.delete()
    _triggers_changed(account_id)


@transaction.atomic
def runs_pause(*, run_ids: Iterable[int]) -> int:
    return AutomationRun.objects.filter(pk__in=list(run_ids), status=AutomationRun.Status.WAITING).update(
        status=AutomationRun.Status.PAUSED
    )


@transaction.atomic
def runs_resume(*, run_ids: Iterable[int]) -> int:
    """Paused runs go on: a wait that ended meanwhile is over at once."""
    return AutomationRun.objects.filter(pk__in=list(run_ids), status=AutomationRun.Status.PAUSED).update(
        status=AutomationRun.Status.WAITING
    )


def runs_exit(*, run_ids: Iterable[int], by: str = "an operator") -> int:
    """End these runs now (each in its own short transaction, waiting for a worker that holds one)."""
    ended = 0
    for run_id in sorted(set(run_ids)):
        with transaction.atomic():
            run = AutomationRun.objects.select_for_update().filter(pk=run_id, status__in=AutomationRun.LIVE).first()
            if run is None:
                continue
            runs_finish(
                account_id=run.account_id,
                runs=[(run.pk, run.automation_id, run.contact_id, run.step_id)],
                status=AutomationRun.Status.EXITED,
                reason=f"exited by {by}",
                now=timezone.now(),
            )
            ended += 1
    return ended


def segment_entries_check(*, automation_id: Any) -> int:
    """Enrol the contacts that entered a segment-triggered automation's segment since the last look; returns how
    many were enrolled. The first look after activation only records the members."""
    with transaction.atomic():
        automation = (
            Automation.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("trigger_segment", "version", "account")
            .filter(pk=automation_id, status=Automation.Status.ACTIVE, trigger=Automation.Trigger.SEGMENT_ENTERED)
            .first()
        )
        if automation is None or automation.trigger_segment is None:
            return 0
        members = contacts_matching(account=automation.account, filters=automation.trigger_segment.filters)
        member_ids = set(members.values_list("pk", flat=True))
        known = set(AutomationSegmentMember.objects.filter(automation=automation).values_list("contact_id", flat=True))
        entered, left = member_ids - known, known - member_ids
        AutomationSegmentMember.objects.filter(automation=automation, contact_id__in=left).delete()
        AutomationSegmentMember.objects.bulk_create(
            [AutomationSegmentMember(automation=automation, contact_id=pk) for pk in entered], ignore_conflicts=True
        )
        first_look = automation.segment_checked_at is None
        automation.segment_checked_at = timezone.now()
        automation.save(update_fields=["segment_checked_at"])
        if first_look or not entered:
            return 0
        enrolled = runs_enrol(
            account_id=automation.account_id,
            trigger=active_trigger_of(automation),
            contact_ids=entered,
            detail={"trigger": "segment_entered", "segment": automation.trigger_segment_id},
            now=timezone.now(),
        )
        return len(enrolled)


def segment_automation_ids() -> list[Any]:
    return list(
        Automation.objects.filter(
            status=Automation.Status.ACTIVE, trigger=Automation.Trigger.SEGMENT_ENTERED
        ).values_list("pk", flat=True)
    )
