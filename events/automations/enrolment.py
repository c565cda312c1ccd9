"""Enrolment: contacts' writes meet the account's active triggers inside the writing transaction.

contacts calls `AutomationListener` (registered in EventsConfig.ready) before its transaction commits. The account's
active triggers come from a per-process cache checked against a version in Redis (one GET per write; a Redis flush
just reloads), so an account without automations pays one Redis round trip and no query. Enrolling is one
statement per automation: an upsert of the contact's AutomationEntry gate whose WHERE is the re-entry rule, feeding
an insert of the runs it let through. Two triggers of one contact at once queue on that gate row, and the second
sees the first's enrolment: a contact is enrolled once per trigger, never twice at once.
"""

import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from accounts.ratelimit import shared_redis
from contacts.hooks import WrittenEvent
from contacts.services import contact_timeline_add
from events.automations.definition import properties_match
from events.automations.models import Automation, AutomationEntry, AutomationRun, AutomationRunStep
from events.automations.runner import runs_finish

_cache: dict[Any, tuple[str, "Triggers"]] = {}
_lock = threading.Lock()
MAX_CACHED_ACCOUNTS = 10_000


@dataclass(frozen=True, eq=False)  # compared (and hashed) by identity: one per automation per load
class ActiveTrigger:
    automation_id: uuid.UUID
    version_id: int
    first_step: str
    reentry: str
    min_gap: int | None
    conditions: list[dict[str, Any]]


@dataclass
class Triggers:
    """One account's active triggers, indexed the way the writes look them up."""

    tag_added: dict[int, list[ActiveTrigger]] = field(default_factory=dict)
    tag_removed: dict[int, list[ActiveTrigger]] = field(default_factory=dict)
    events: dict[str, list[ActiveTrigger]] = field(default_factory=dict)
    contact_created: list[ActiveTrigger] = field(default_factory=list)
    goals: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.tag_added or self.tag_removed or self.events or self.contact_created or self.goals)


def _version_key(account_id: Any) -> str:
    return f"sesame:automations:{account_id}"


def triggers_changed(account_id: Any) -> None:
    """Every process reloads this account's triggers on its next write (call after the change commits)."""
    redis = shared_redis()
    if redis is not None:
        redis.set(_version_key(account_id), uuid.uuid4().hex)
    _cache.pop(account_id, None)


def active_trigger_of(automation: Automation) -> ActiveTrigger:
    assert automation.version is not None
    steps = automation.version.steps
    return ActiveTrigger(
        automation_id=automation.pk,
        version_id=automation.version.pk,
        first_step=str(steps[0]["id"]) if steps else "",
        reentry=automation.reentry,
        min_gap=automation.reentry_min_gap_seconds,
        conditions=list(automation.trigger_conditions or []),
    )


def _load(account_id: Any) -> Triggers:
    triggers = Triggers()
    live = Automation.objects.filter(account_id=account_id).exclude(status=Automation.Status.DRAFT)
    goals: set[str] = set()
    for automation in live.select_related("version"):
        # Goals of every version that may still have runs in flight, active or paused.
        goals.update(g for g in automation.versions.exclude(goal_event="").values_list("goal_event", flat=True))
        if automation.status != Automation.Status.ACTIVE or automation.version is None:
            continue
        trigger = active_trigger_of(automation)
        kind = automation.trigger
        if kind == Automation.Trigger.TAG_ADDED and automation.trigger_tag_id:
            triggers.tag_added.setdefault(automation.trigger_tag_id, []).append(trigger)
        elif kind == Automation.Trigger.TAG_REMOVED and automation.trigger_tag_id:
            triggers.tag_removed.setdefault(automation.trigger_tag_id, []).append(trigger)
        elif kind == Automation.Trigger.EVENT:
            triggers.events.setdefault(automation.trigger_event.casefold(), []).append(trigger)
        elif kind == Automation.Trigger.CONTACT_CREATED:
            triggers.contact_created.append(trigger)
    triggers.goals = frozenset(goal.casefold() for goal in goals)
    return triggers


def active_triggers(account_id: Any) -> Triggers:
    redis = shared_redis()
    if redis is None:  # the embedded default: no shared version to check against, so no cache
        return _load(account_id)
    version = redis.get(_version_key(account_id))
    if version is None:
        version = uuid.uuid4().hex.encode()
        if not redis.set(_version_key(account_id), version, nx=True):
            version = redis.get(_version_key(account_id)) or version
    stamp = version.decode() if isinstance(version, bytes) else str(version)
    cached = _cache.get(account_id)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    triggers = _load(account_id)  # loaded after the version was read: never newer than its stamp
    with _lock:
        if len(_cache) >= MAX_CACHED_ACCOUNTS:
            _cache.clear()
        _cache[account_id] = (stamp, triggers)
    return triggers


_ENROL = """
WITH candidate AS (
    SELECT DISTINCT unnest(string_to_array(%(contacts)s, ',')::bigint[]) AS contact_id ORDER BY 1
), gate AS (
    INSERT INTO events_automationentry AS e (account_id, automation_id, contact_id, entries, last_entered_at, in_run)
    SELECT %(account)s, %(automation)s, contact_id, 1, %(now)s, true FROM candidate
    ON CONFLICT (automation_id, contact_id) DO UPDATE
        SET entries = e.entries + 1, last_entered_at = EXCLUDED.last_entered_at, in_run = true
        WHERE %(again)s AND NOT e.in_run
          AND e.last_entered_at <= EXCLUDED.last_entered_at - make_interval(secs => %(gap)s)
    RETURNING e.contact_id
), runs AS (
    INSERT INTO events_automationrun (account_id, automation_id, version_id, contact_id, status, step_id, due_at,
                                      trigger_detail, attempts, last_error, enrolled_at, exit_reason)
    SELECT %(account)s, %(automation)s, %(version)s, contact_id, 'waiting', %(first)s, %(now)s, %(detail)s::jsonb,
           0, '', %(now)s, ''
    FROM gate
    RETURNING id, contact_id
), entered AS (
    INSERT INTO events_automationrunstep (account_id, run_id, step_id, kind, outcome, detail, occurred_at)
    SELECT %(account)s, id, 'trigger', 'trigger', 'entered', %(detail)s::jsonb, %(now)s FROM runs
)
SELECT id, contact_id FROM runs
"""


def runs_enrol(
    *, account_id: Any, trigger: ActiveTrigger, contact_ids: Iterable[int], detail: Mapping[str, Any], now: datetime
) -> list[tuple[int, int]]:
    """Enrol these contacts where the re-entry rule allows; returns (run id, contact id) of each new run. Runs
    start due now: the release takes their first step within a beat tick. On PostgreSQL the gate, the runs and
    their `entered` records are one statement."""
    ids = sorted(set(contact_ids))
    if not ids:
        return []
    again = trigger.reentry == Automation.Reentry.EVERY_TRIGGER
    if connection.vendor == "postgresql":
        import json

        with connection.cursor() as cursor:
            cursor.execute(
                _ENROL,
                {
                    "contacts": ",".join(map(str, ids)),
                    "account": account_id,
                    "automation": trigger.automation_id,
                    "version": trigger.version_id,
                    "first": trigger.first_step,
                    "now": now,
                    "again": again,
                    "gap": trigger.min_gap or 0,
                    "detail": json.dumps(dict(detail)),
                },
            )
            enrolled = [(run_id, contact_id) for run_id, contact_id in cursor.fetchall()]
    else:
        enrolled = _enrol_portable(account_id=account_id, trigger=trigger, ids=ids, detail=detail, now=now)
    _timeline_entered(account_id=account_id, trigger=trigger, enrolled=enrolled, detail=detail, now=now)
    return enrolled


def _enrol_portable(
    *, account_id: Any, trigger: ActiveTrigger, ids: list[int], detail: Mapping[str, Any], now: datetime
) -> list[tuple[int, int]]:
    """The same rule through the ORM, for SQLite (which runs one writer at a time)."""
    gates = {
        e.contact_id: e for e in AutomationEntry.objects.filter(automation_id=trigger.automation_id, contact_id__in=ids)
    }
    gap = timedelta(seconds=trigger.min_gap or 0)
    enrolled = []
    for contact_id in ids:
        gate = gates.get(contact_id)
        if gate is None:
            AutomationEntry.objects.create(
                account_id=account_id, automation_id=trigger.automation_id, contact_id=contact_id, last_entered_at=now
            )
        elif (
            trigger.reentry == Automation.Reentry.EVERY_TRIGGER
            and not gate.in_run
            and gate.last_entered_at <= now - gap
        ):
            AutomationEntry.objects.filter(pk=gate.pk).update(
                entries=gate.entries + 1, last_entered_at=now, in_run=True
            )
        else:
            continue
        run = AutomationRun.objects.create(
            account_id=account_id,
            automation_id=trigger.automation_id,
            version_id=trigger.version_id,
            contact_id=contact_id,
            step_id=trigger.first_step,
            due_at=now,
            trigger_detail=dict(detail),
            enrolled_at=now,
        )
        AutomationRunStep.objects.create(
            account_id=account_id,
            run=run,
            step_id="trigger",
            kind="trigger",
            outcome=AutomationRunStep.Outcome.ENTERED,
            detail=dict(detail),
            occurred_at=now,
        )
        enrolled.append((run.pk, contact_id))
    return enrolled


def _timeline_entered(
    *,
    account_id: Any,
    trigger: ActiveTrigger,
    enrolled: list[tuple[int, int]],
    detail: Mapping[str, Any],
    now: datetime,
) -> None:
    if not enrolled:
        return
    contact_timeline_add(
        account_id=account_id,
        entries=[
            (
                contact_id,
                "automation.enrolled",
                {"automation": str(trigger.automation_id), "run": run_id, **detail},
                now,
            )
            for run_id, contact_id in enrolled
        ],
    )


def runs_convert(*, account_id: Any, contact_ids: Iterable[int], goal: str, now: datetime) -> int:
    """End the live runs of these contacts whose version's goal is this event; returns how many ended."""
    ids = sorted(set(contact_ids))
    runs = list(
        AutomationRun.objects.filter(
            account_id=account_id, contact_id__in=ids, status__in=AutomationRun.LIVE, version__goal_event__iexact=goal
        ).values_list("pk", "automation_id", "contact_id", "step_id")
    )
    if not runs:
        return 0
    runs_finish(
        account_id=account_id,
        runs=runs,
        status=AutomationRun.Status.CONVERTED,
        reason=f"goal event {goal!r}",
        now=now,
    )
    return len(runs)


class AutomationListener:
    """contacts' writes, seen by automations (contacts/hooks.py)."""

    def contacts_created(self, *, account_id: Any, contact_ids: Sequence[int]) -> None:
        triggers = active_triggers(account_id)
        for trigger in triggers.contact_created:
            runs_enrol(
                account_id=account_id,
                trigger=trigger,
                contact_ids=contact_ids,
                detail={"trigger": "contact_created"},
                now=timezone.now(),
            )

    def tags_changed(self, *, account_id: Any, added: Mapping[int, set[int]], removed: Mapping[int, set[int]]) -> None:
        triggers = active_triggers(account_id)
        for changes, index, kind in (
            (added, triggers.tag_added, "tag_added"),
            (removed, triggers.tag_removed, "tag_removed"),
        ):
            if not index:
                continue
            by_tag: dict[int, list[int]] = defaultdict(list)
            for contact_id, tag_ids in changes.items():
                for tag_id in tag_ids:
                    if tag_id in index:
                        by_tag[tag_id].append(contact_id)
            for tag_id, contact_ids in by_tag.items():
                for trigger in index[tag_id]:
                    runs_enrol(
                        account_id=account_id,
                        trigger=trigger,
                        contact_ids=contact_ids,
                        detail={"trigger": kind, "tag_id": tag_id},
                        now=timezone.now(),
                    )

    def events_recorded(self, *, account_id: Any, events: Sequence[WrittenEvent]) -> None:
        triggers = active_triggers(account_id)
        if triggers.empty:
            return
        now = timezone.now()
        goals: dict[str, set[int]] = defaultdict(set)
        for event in events:
            name = event.name.casefold()
            if name in triggers.goals:
                goals[name].add(event.contact_id)
        for goal, contact_ids in goals.items():
            runs_convert(account_id=account_id, contact_ids=contact_ids, goal=goal, now=now)
        # One statement per automation and event name, however many events of the batch match it.
        matched: dict[tuple[str, ActiveTrigger], set[int]] = defaultdict(set)
        for event in events:
            for trigger in triggers.events.get(event.name.casefold(), ()):
                if properties_match(trigger.conditions, event.properties):
                    matched[(event.name, trigger)].add(event.contact_id)
        for (name, trigger), contact_ids in matched.items():
            runs_enrol(
                account_id=account_id,
                trigger=trigger,
                contact_ids=contact_ids,
                detail={"trigger": "event", "event": name},
                now=now,
            )
