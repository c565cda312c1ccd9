"""The release: beat's tick finds due runs and takes each through its steps until a wait or the end.

Runs are taken with SELECT ... FOR UPDATE SKIP LOCKED, up to 50 in one transaction, each run's turn in a savepoint
of it; everything its steps do (the email accepted, the tag changed, the step records, the next step and due time)
commits in that transaction. So a worker killed mid-step, a restart or a Redis flush leaves the run at the step it
was on, to be taken again at the next tick: no step is skipped, and none happens twice. Due runs are taken in
account turns (every account's oldest first), so one account's backlog never holds another's runs back by more
than a batch.
"""

import contextlib
import logging
import time as clock
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from contacts.models import Contact
from contacts.selectors import contacts_matching
from contacts.services import contact_tags_change, contact_timeline_add
from events.automations.definition import CONTACT_FIELDS, StepFailed, flow_of, test_passes, time_of_day
from events.automations.models import Automation, AutomationEntry, AutomationRun, AutomationRunStep
from events.automations.sending import SendLookups, automation_send

logger = logging.getLogger("sesame.automations")
TimelineEntry = tuple[int, str, dict[str, Any], datetime]


Outcome = AutomationRunStep.Outcome
# Steps one run may take in one go before it yields to the others (a flow without waits still ends).
MAX_STEPS_PER_TURN = 100

_DUE_IN_TURNS = """
SELECT r.id FROM (
    SELECT DISTINCT run.account_id FROM events_automationrun run
    JOIN events_automation a ON a.id = run.automation_id AND a.status = 'active'
    WHERE run.status = 'waiting' AND run.due_at <= %(now)s
) acc CROSS JOIN LATERAL (
    SELECT run.id, run.due_at FROM events_automationrun run
    JOIN events_automation a ON a.id = run.automation_id AND a.status = 'active'
    WHERE run.account_id = acc.account_id AND run.status = 'waiting' AND run.due_at <= %(now)s
    ORDER BY run.due_at LIMIT %(per_account)s
) r
ORDER BY r.due_at
LIMIT %(limit)s
"""


def _due_run_ids(*, now: datetime, limit: int, per_account: int) -> list[int]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_DUE_IN_TURNS, {"now": now, "limit": limit, "per_account": per_account})
            return [pk for (pk,) in cursor.fetchall()]
    due = AutomationRun.objects.filter(
        status=AutomationRun.Status.WAITING, due_at__lte=now, automation__status=Automation.Status.ACTIVE
    )
    return list(due.order_by("due_at").values_list("pk", flat=True)[:limit])


@dataclass
class Records:
    """What a batch of runs writes besides the runs themselves (step records, timeline rows), kept until the
    batch commits so that each is one statement per batch."""

    steps: list[AutomationRunStep] = field(default_factory=list)
    timeline: dict[Any, list[TimelineEntry]] = field(default_factory=lambda: defaultdict(list))

    def extend(self, other: "Records") -> None:
        self.steps += other.steps
        for account_id, entries in other.timeline.items():
            self.timeline[account_id] += entries

    def write(self) -> None:
        AutomationRunStep.objects.bulk_create(self.steps)
        for account_id, entries in self.timeline.items():
            contact_timeline_add(account_id=account_id, entries=entries)


def runs_release(*, seconds: float = 1.0, batch: int = 50, per_account: int = 20) -> int:
    """Take due runs through their steps for about `seconds`; returns how many runs were taken."""
    deadline = clock.monotonic() + seconds
    taken = 0
    while clock.monotonic() < deadline:
        ids = _due_run_ids(now=timezone.now(), limit=batch, per_account=per_account)
        took = runs_take(run_ids=ids) if ids else 0
        if not took:  # nothing due, or another worker holds what is: leave it the database
            break
        taken += took
    return taken


def runs_take(*, run_ids: Sequence[int]) -> int:
    """Advance the due runs among these that no other worker holds, in one transaction (one commit for the batch);
    returns how many were taken. Each run's turn is a savepoint: a step that raises takes back that run's turn
    only; the run stays at its step and is tried again later, and after SESAME_AUTOMATION_MAX_ATTEMPTS it fails
    with the reason."""
    with transaction.atomic():
        runs = list(
            AutomationRun.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("version", "automation")
            .filter(pk__in=list(run_ids), status=AutomationRun.Status.WAITING, due_at__lte=timezone.now())
            .order_by("pk")
        )
        contacts = Contact.objects.in_bulk({run.contact_id for run in runs})
        lookups = SendLookups()
        records = Records()
        for run in runs:
            mine = Records()
            try:
                with transaction.atomic():
                    _advance(run, contacts[run.contact_id], mine, lookups)
            except Exception as exc:  # a bug or an outage must not stop the release: retried, then failed
                if not isinstance(exc, StepFailed):
                    logger.exception("Automation run %s: step %s failed", run.pk, run.step_id)
                run.refresh_from_db()  # what the turn changed was rolled back with its savepoint
                mine = Records()
                error = str(exc) if isinstance(exc, StepFailed) else f"{type(exc).__name__}: {exc}"
                _record_failure(run, error=error, permanent=isinstance(exc, StepFailed), out=mine)
            records.extend(mine)
        records.write()
    return len(runs)


def _record_failure(run: AutomationRun, *, error: str, permanent: bool, out: Records) -> None:
    now = timezone.now()
    run.attempts += 1
    run.last_error = error[:2000]
    if permanent or run.attempts >= settings.SESAME_AUTOMATION_MAX_ATTEMPTS:
        _step(run, run.step_id, "error", Outcome.FAILED, {"error": run.last_error}, now, out)
        tries = "" if permanent else f" {run.attempts} times"
        _finish(run, AutomationRun.Status.FAILED, f"step {run.step_id} failed{tries}: {error}"[:300], now, out)
        return
    # 10 s, 20 s, 40 s ... : an outage heals, a bug is seen in the admin meanwhile.
    run.due_at = now + timedelta(seconds=10 * 2 ** (run.attempts - 1))
    run.save(update_fields=["attempts", "last_error", "due_at"])


def _advance(run: AutomationRun, contact: Contact, out: Records, lookups: SendLookups) -> None:
    flow = flow_of(run.version.steps)
    now = timezone.now()
    for _ in range(MAX_STEPS_PER_TURN):
        if not run.step_id:
            _finish(run, AutomationRun.Status.COMPLETED, "reached the end", now, out)
            return
        step = flow.steps[run.step_id]
        kind = step["type"]
        if kind == "wait":
            if run.wait_until is None:
                run.wait_until = _wait_end(step, contact, now)
                run.due_at = run.wait_until
                _step(run, step["id"], kind, Outcome.WAITING, {"until": run.wait_until.isoformat()}, now, out)
                _save(run)
                return
            _step(run, step["id"], kind, Outcome.WAITED, {"until": run.wait_until.isoformat()}, now, out)
            run.wait_until = None
            run.step_id = flow.next_of(step["id"])
        elif kind == "condition":
            branch = "yes" if _condition_holds(step, contact) else "no"
            _step(run, step["id"], kind, Outcome.YES if branch == "yes" else Outcome.NO, {}, now, out)
            run.step_id = flow.next_of(step["id"], branch=branch)
        elif kind == "send":
            outcome, detail = automation_send(run=run, step=step, contact=contact, lookups=lookups)
            _step(run, step["id"], kind, outcome, detail, now, out)
            run.step_id = flow.next_of(step["id"])
        elif kind in ("add_tag", "remove_tag"):
            adding = kind == "add_tag"
            contact_tags_change(
                contact=contact, add=[step["tag"]] if adding else [], remove=[] if adding else [step["tag"]]
            )
            _step(run, step["id"], kind, Outcome.TAGGED, {"tag": step["tag"], "added": adding}, now, out)
            run.step_id = flow.next_of(step["id"])
        else:  # exit
            _step(run, step["id"], kind, Outcome.EXITED, {}, now, out)
            _finish(run, AutomationRun.Status.COMPLETED, "exit step", now, out)
            return
        run.attempts, run.last_error = 0, ""
    run.due_at = now  # a long flow without waits: the rest at the next turn
    _save(run)


def _save(run: AutomationRun) -> None:
    run.save(update_fields=["step_id", "wait_until", "due_at", "attempts", "last_error"])


def _wait_end(step: dict[str, Any], contact: Contact, now: datetime) -> datetime:
    if "seconds" in step:
        return now + timedelta(seconds=step["seconds"])
    zone: Any = ZoneInfo("UTC")
    name = contact.attributes.get("timezone") if isinstance(contact.attributes, dict) else None
    if isinstance(name, str) and name:
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):  # a zone we do not know: UTC, like no zone
            zone = ZoneInfo(name)
    local = now.astimezone(zone)
    at = local.replace(
        hour=time_of_day(step["until"]).hour, minute=time_of_day(step["until"]).minute, second=0, microsecond=0
    )
    if at <= local:
        at = (at.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=zone)
    return at.astimezone(ZoneInfo("UTC"))


def _condition_holds(step: dict[str, Any], contact: Contact) -> bool:
    if "segment" in step:
        from contacts.models import Segment

        segment = Segment.objects.filter(pk=step["segment"], account_id=contact.account_id).first()
        if segment is None:
            return False
        return contacts_matching(account=contact.account, filters=segment.filters).filter(pk=contact.pk).exists()
    for test in step["tests"]:
        name = test["field"]
        if name.startswith("attributes."):
            key = name.split(".", 1)[1]
            present = key in contact.attributes
            value = contact.attributes.get(key)
        else:
            assert name in CONTACT_FIELDS
            value = getattr(contact, name)
            value = value.isoformat() if hasattr(value, "isoformat") else value
            present = value not in (None, "")
        if not test_passes(test, value, present=present):
            return False
    return True


def _step(
    run: AutomationRun, step_id: str, kind: str, outcome: str, detail: dict[str, Any], now: datetime, out: Records
) -> None:
    out.steps.append(
        AutomationRunStep(
            account_id=run.account_id,
            run_id=run.pk,
            step_id=step_id,
            kind=kind,
            outcome=outcome,
            detail=detail,
            occurred_at=now,
        )
    )
    name = "automation.sent" if outcome == Outcome.SENT else "automation.step"
    properties = {
        "automation": str(run.automation_id),
        "run": run.pk,
        "step": step_id,
        "type": kind,
        "outcome": outcome,
        **detail,
    }
    out.timeline[run.account_id].append((run.contact_id, name, properties, now))


def _finish(run: AutomationRun, status: str, reason: str, now: datetime, out: Records) -> None:
    # The run's own fields and its end in one UPDATE; runs_finish then skips its own.
    AutomationRun.objects.filter(pk=run.pk).update(
        step_id=run.step_id,
        wait_until=None,
        attempts=run.attempts,
        last_error=run.last_error,
        status=status,
        finished_at=now,
        due_at=None,
        exit_reason=reason[:300],
    )
    runs_finish(
        account_id=run.account_id,
        runs=[(run.pk, run.automation_id, run.contact_id, run.step_id)],
        status=status,
        reason=reason,
        now=now,
        out=out,
        updated=True,
    )
    run.status = status


def runs_finish(
    *,
    account_id: Any,
    runs: Sequence[tuple[int, Any, int, str]],
    status: str,
    reason: str,
    now: datetime,
    out: Records | None = None,
    updated: bool = False,
) -> None:
    """End these live runs (id, automation id, contact id, step id): their contacts may enter again as the
    re-entry rule says. Call inside a transaction; the records go to `out` when given, else are written now
    (`updated`: the caller has already set the runs' status)."""
    records = Records() if out is None else out
    if not updated:
        AutomationRun.objects.filter(pk__in=[run[0] for run in runs], status__in=AutomationRun.LIVE).update(
            status=status, finished_at=now, due_at=None, exit_reason=reason[:300]
        )
    for _, automation_id, contact_id, _ in runs:
        AutomationEntry.objects.filter(automation_id=automation_id, contact_id=contact_id).update(in_run=False)
    for run_id, automation_id, contact_id, step_id in runs:
        if status != AutomationRun.Status.COMPLETED:
            records.steps.append(
                AutomationRunStep(
                    account_id=account_id,
                    run_id=run_id,
                    step_id=step_id or "end",
                    kind="end",
                    outcome=Outcome.EXITED,
                    detail={"reason": reason},
                    occurred_at=now,
                )
            )
        properties = {"automation": str(automation_id), "run": run_id, "reason": reason}
        records.timeline[account_id].append((contact_id, f"automation.{status}", properties, now))
    if out is None:
        records.write()
