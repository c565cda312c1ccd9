"""Reads of automations and their runs, always within one account."""

from collections import Counter
from typing import Any

from django.db import connection
from django.db.models import Count, QuerySet

from accounts.models import Account
from events.automations.definition import iter_steps
from events.automations.models import Automation, AutomationRun, AutomationRunStep

# What a step's counts mean, per outcome recorded (the admin's flow and the API's `step_counts`).
_COUNTED = {
    AutomationRunStep.Outcome.SENT: "sent",
    AutomationRunStep.Outcome.SKIPPED: "not_sent",
    AutomationRunStep.Outcome.EXITED: "exited",
    AutomationRunStep.Outcome.FAILED: "failed",
    AutomationRunStep.Outcome.YES: "yes",
    AutomationRunStep.Outcome.NO: "no",
}


def automation_list(*, account: Account) -> QuerySet[Automation]:
    return Automation.objects.filter(account=account).select_related("version", "trigger_tag", "trigger_segment")


def automation_runs(*, automation: Automation) -> QuerySet[AutomationRun]:
    return AutomationRun.objects.filter(automation=automation, account_id=automation.account_id).select_related(
        "version", "contact"
    )


def contact_runs(*, contact_id: int, account_id: Any) -> QuerySet[AutomationRun]:
    return AutomationRun.objects.filter(contact_id=contact_id, account_id=account_id).select_related(
        "automation", "version"
    )


_ENTERED = """
SELECT step_id, COUNT(DISTINCT run_id) FROM (
    SELECT s.step_id, s.run_id FROM events_automationrunstep s JOIN events_automationrun r ON r.id = s.run_id
    WHERE r.automation_id = %s AND s.kind NOT IN ('trigger', 'end')
    UNION
    SELECT step_id, id FROM events_automationrun WHERE automation_id = %s AND status IN ('waiting', 'paused')
) reached GROUP BY step_id
"""


def automation_step_counts(*, automation: Automation) -> list[dict[str, Any]]:
    """Per step of the current version, in reading order: how many runs reached it (ever, any version with that
    step id), wait there now, were sent or not sent, took each branch, failed, or ended there (an exit step, a
    goal, an operator)."""
    version = automation.version
    if version is None:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_ENTERED, [automation.pk.hex if connection.vendor == "sqlite" else automation.pk] * 2)
        entered = dict(cursor.fetchall())
    outcomes: dict[str, Counter[str]] = {}
    recorded = (
        AutomationRunStep.objects.filter(run__automation=automation, outcome__in=list(_COUNTED))
        .values_list("step_id", "outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    for step_id, outcome, n in recorded:
        outcomes.setdefault(step_id, Counter())[_COUNTED[outcome]] += n
    waiting = dict(
        AutomationRun.objects.filter(automation=automation, status__in=AutomationRun.LIVE)
        .values_list("step_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    rows = []
    for step, depth in iter_steps(version.steps):
        counts = outcomes.get(step["id"], Counter())
        rows.append(
            {
                "id": step["id"],
                "type": step["type"],
                "depth": depth,
                "step": step,
                "entered": entered.get(step["id"], 0),
                "waiting": waiting.get(step["id"], 0),
                **{name: counts[name] for name in ("sent", "not_sent", "yes", "no", "exited", "failed")},
            }
        )
    return rows
