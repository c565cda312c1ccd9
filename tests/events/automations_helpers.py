"""Shared set-up of the automation tests: an automation made and activated through the services."""

from datetime import timedelta
from typing import Any

from django.utils import timezone

from accounts.models import Account
from events.automations import services
from events.automations.models import Automation, AutomationRun
from events.automations.runner import runs_release

TAGGING_STEPS: list[dict[str, Any]] = [{"type": "add_tag", "tag": "welcomed"}]


def automation_for(account: Account, *, active: bool = True, **data: Any) -> Automation:
    data.setdefault("name", "Red sneakers follow-up")
    data.setdefault("trigger", {"type": "tag_added", "tag": "red sneakers"})
    data.setdefault("steps", TAGGING_STEPS)
    automation = services.automation_create(account=account, data=data)
    if active:
        automation = services.automation_activate(automation=automation)
    return automation


def release_all(*, fast_forward: bool = False) -> int:
    """Take every due run through its steps (with fast_forward, waits end now)."""
    if fast_forward:
        AutomationRun.objects.filter(status=AutomationRun.Status.WAITING).update(
            due_at=timezone.now() - timedelta(seconds=1)
        )
        AutomationRun.objects.filter(wait_until__isnull=False).update(wait_until=timezone.now() - timedelta(seconds=1))
    return runs_release(seconds=5)


def step_outcomes(run: AutomationRun) -> list[tuple[str, str]]:
    return list(run.steps.order_by("occurred_at", "id").values_list("step_id", "outcome"))
