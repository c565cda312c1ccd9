"""Writes of automations: create, edit (versioned once runs exist), activate, pause; operators' run actions; the
segment-entry check."""

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from config.api.errors import UnprocessableEntity, error_entry
from contacts.selectors import contacts_matching
from contacts.tagging import tags_resolve
from events.automations.enrolment import active_trigger_of, runs_enrol, triggers_changed
from events.automations.models import (
    Automation,
    AutomationRun,
    AutomationSegmentMember,
    AutomationVersion,
)
from events.automations.runner import runs_finish
from events.automations.validation import automation_input_check


class AutomationConflict(Exception):
    """The change is not possible in the automation's current state; the message says why."""


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
    values, errors = automation_input_check(account, data, partial=False)
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
    values, errors = automation_input_check(automation.account, data, partial=True)
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
