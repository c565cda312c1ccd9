"""Reputation protection: throttle or pause a connection whose bounce or complaint rate nears SES's review level.

State machine, run by a beat task per connection (and at once by CloudWatch alarm notifications):

    healthy ──warning──▶ throttled ──review──▶ paused
       ▲                    │ ok for the healthy period │
       └── full speed ◀── recovering (ramps up in steps) ◀┘

Rates are Sesame's own (hard bounces and complaints per recipient sent, over a sliding window), raised to
CloudWatch's Reputation.* metrics when those can be read. The account owner is emailed at the spike and at
the recovery, through Sesame itself, from the operator's sender.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import AwsConnection
from emails.models import EmailEvent
from events import aws, parsing
from events.models import ConnectionReputation, ReputationChange

logger = logging.getLogger("sesame.events")
State = ConnectionReputation.State

BOUNCE_METRIC = "Reputation.BounceRate"
COMPLAINT_METRIC = "Reputation.ComplaintRate"


@dataclass(frozen=True)
class Rates:
    sends: int
    bounces: int
    complaints: int
    bounce_rate: float | None
    complaint_rate: float | None


def connection_rates(*, connection: AwsConnection, since: datetime) -> Rates:
    """Rates over Sesame's own events. Recipients sent are SES Send events, or deliveries plus bounces when a
    connection only reports those (identity notifications); OnAccountSuppressionList is its own type, so it
    counts toward neither side."""
    counts = EmailEvent.objects.filter(
        connection=connection,
        occurred_at__gte=since,
        event_type__in=[parsing.SEND, parsing.DELIVERY, parsing.BOUNCE, parsing.COMPLAINT],
    ).aggregate(
        sends=Count("id", filter=Q(event_type=parsing.SEND)),
        deliveries=Count("id", filter=Q(event_type=parsing.DELIVERY)),
        bounces=Count("id", filter=Q(event_type=parsing.BOUNCE)),
        hard=Count("id", filter=Q(event_type=parsing.BOUNCE, subtype="Permanent")),
        complaints=Count("id", filter=Q(event_type=parsing.COMPLAINT)),
    )
    sends = max(counts["sends"], counts["deliveries"] + counts["bounces"])
    enough = sends >= max(1, settings.SESAME_REPUTATION_MIN_SENDS)
    return Rates(
        sends=sends,
        bounces=counts["hard"],
        complaints=counts["complaints"],
        bounce_rate=counts["hard"] / sends if enough else None,
        complaint_rate=counts["complaints"] / sends if enough else None,
    )


def _cloudwatch(connection: AwsConnection, now: datetime) -> tuple[float | None, float | None]:
    if not (
        settings.SESAME_REPUTATION_USE_CLOUDWATCH and settings.SESAME_AWS_MODE == "aws" and connection.provisioned_at
    ):
        return None, None
    try:
        return (
            aws.reputation_metric(connection, BOUNCE_METRIC, now=now),
            aws.reputation_metric(connection, COMPLAINT_METRIC, now=now),
        )
    except aws.AwsError as exc:
        logger.info("CloudWatch reputation metrics unavailable connection=%s: %s", connection.pk, exc)
        return None, None


def _level(bounce: float | None, complaint: float | None, alarm: bool) -> str:
    b, c = bounce or 0.0, complaint or 0.0
    if alarm or b >= settings.SESAME_REPUTATION_BOUNCE_REVIEW or c >= settings.SESAME_REPUTATION_COMPLAINT_REVIEW:
        return "review"
    if b >= settings.SESAME_REPUTATION_BOUNCE_WARNING or c >= settings.SESAME_REPUTATION_COMPLAINT_WARNING:
        return "warning"
    return "ok"


def _reputation_for(connection: AwsConnection) -> ConnectionReputation:
    reputation, _ = ConnectionReputation.objects.select_for_update().get_or_create(
        connection=connection, defaults={"account_id": connection.account_id}
    )
    return reputation


@transaction.atomic
def reputation_check(*, connection_id: Any, now: datetime | None = None) -> ConnectionReputation:
    """One tick for one connection: measure, then move the state machine and apply the send-rate factor."""
    now = now or timezone.now()
    connection = AwsConnection.objects.select_related("account").get(pk=connection_id)
    reputation = _reputation_for(connection)
    since = now - timedelta(hours=settings.SESAME_REPUTATION_WINDOW_HOURS)
    if reputation.counting_since and reputation.counting_since > since:
        since = reputation.counting_since
    rates = connection_rates(connection=connection, since=since)
    cw_bounce, cw_complaint = _cloudwatch(connection, now)
    reputation.sends, reputation.bounces, reputation.complaints = rates.sends, rates.bounces, rates.complaints
    reputation.bounce_rate, reputation.complaint_rate = rates.bounce_rate, rates.complaint_rate
    reputation.cloudwatch_bounce_rate, reputation.cloudwatch_complaint_rate = cw_bounce, cw_complaint
    reputation.checked_at = now
    bounce = max(filter(None, (rates.bounce_rate, cw_bounce)), default=None)
    complaint = max(filter(None, (rates.complaint_rate, cw_complaint)), default=None)
    level = _level(bounce, complaint, reputation.alarm_active)
    why = _describe(bounce, complaint, reputation.alarm_active)
    _advance(connection, reputation, level=level, why=why, now=now)
    reputation.save()
    return reputation


def _describe(bounce: float | None, complaint: float | None, alarm: bool) -> str:
    text = f"bounce rate {_pct(bounce)}, complaint rate {_pct(complaint)}"
    return text + " (a CloudWatch reputation alarm is active)" if alarm else text


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.2f}%"


def _advance(
    connection: AwsConnection, reputation: ConnectionReputation, *, level: str, why: str, now: datetime
) -> None:
    state = reputation.state
    factor = connection.send_rate_factor
    throttle = settings.SESAME_REPUTATION_THROTTLE_FACTOR
    if level == "review" and state != State.PAUSED:
        _change(connection, reputation, State.PAUSED, 0.0, f"Review level reached: {why}", now, notify="spike")
    elif level == "warning" and state in (State.HEALTHY, State.RECOVERING):
        _change(
            connection,
            reputation,
            State.THROTTLED,
            min(factor, throttle),
            f"Warning level reached: {why}",
            now,
            notify="spike",
        )
    elif level != "ok":
        reputation.healthy_since = None  # still unhealthy: the healthy period starts over
    elif state in (State.THROTTLED, State.PAUSED):
        reputation.healthy_since = reputation.healthy_since or now
        if now - reputation.healthy_since >= timedelta(minutes=settings.SESAME_REPUTATION_HEALTHY_MINUTES):
            start = min(1.0, max(factor, 0.0) + settings.SESAME_REPUTATION_RESUME_STEP)
            _change(connection, reputation, State.RECOVERING, start, f"Healthy again: {why}", now, notify="recovery")
    elif state == State.RECOVERING:
        step_due = reputation.state_changed_at is None or now - reputation.state_changed_at >= timedelta(
            minutes=settings.SESAME_REPUTATION_RESUME_STEP_MINUTES
        )
        if step_due:
            raised = min(1.0, factor + settings.SESAME_REPUTATION_RESUME_STEP)
            target = State.HEALTHY if raised >= 1.0 else State.RECOVERING
            _change(connection, reputation, target, raised, f"Ramping up: {why}", now)
    # Re-assert the factor every tick: an edit elsewhere that saved a stale value heals within one tick.
    expected = {State.HEALTHY: 1.0, State.PAUSED: 0.0}.get(State(reputation.state))
    if expected is not None and connection.send_rate_factor != expected:
        _set_factor(connection, expected)


def _set_factor(connection: AwsConnection, factor: float) -> None:
    AwsConnection.objects.filter(pk=connection.pk).update(send_rate_factor=factor, updated_at=timezone.now())
    connection.send_rate_factor = factor


def _change(
    connection: AwsConnection,
    reputation: ConnectionReputation,
    to_state: str,
    factor: float,
    reason: str,
    now: datetime,
    *,
    notify: str | None = None,
) -> ReputationChange:
    change = ReputationChange(
        reputation=reputation,
        account_id=connection.account_id,
        from_state=reputation.state,
        to_state=to_state,
        send_rate_factor=factor,
        bounce_rate=reputation.bounce_rate,
        complaint_rate=reputation.complaint_rate,
        reason=reason,
    )
    logger.warning(
        "Reputation connection=%s %s -> %s factor=%.2f: %s", connection.pk, reputation.state, to_state, factor, reason
    )
    reputation.state = to_state
    reputation.state_changed_at = now
    reputation.healthy_since = None
    _set_factor(connection, factor)
    if notify:
        change.notified_email_id, change.notify_error = _notify_owner(connection, change, kind=notify)
    change.save()
    return change


def reputation_alarm(*, connection: AwsConnection, alarm: dict[str, Any]) -> str:
    """A CloudWatch alarm notification: a reputation alarm in ALARM pauses at once; OK clears the flag."""
    trigger = alarm.get("Trigger") if isinstance(alarm.get("Trigger"), dict) else {}
    metric = str((trigger or {}).get("MetricName", ""))
    state = str(alarm.get("NewStateValue", ""))
    if metric not in (BOUNCE_METRIC, COMPLAINT_METRIC):
        return f"Alarm {alarm.get('AlarmName')!r} on {metric or 'an unknown metric'} is not a reputation alarm."
    reputation = _reputation_for(connection)
    if state == "ALARM":
        reputation.alarm_active = True
        reputation.healthy_since = None
        if reputation.state != State.PAUSED:
            reason = f"CloudWatch alarm {alarm.get('AlarmName')}: {alarm.get('NewStateReason', metric)}"
            _change(connection, reputation, State.PAUSED, 0.0, reason[:2000], timezone.now(), notify="spike")
        reputation.save()
        return f"{metric} alarm: sending on this connection is paused."
    if state == "OK":
        reputation.alarm_active = False
        reputation.save()
        return f"{metric} alarm cleared: sending resumes once the rates stay healthy."
    return f"{metric} alarm is {state or 'in an unknown state'}; nothing to do."


@transaction.atomic
def reputation_pause(*, connection: AwsConnection, reason: str) -> ReputationChange:
    reputation = _reputation_for(connection)
    return _change(connection, reputation, State.PAUSED, 0.0, reason, timezone.now())


@transaction.atomic
def reputation_resume(*, connection: AwsConnection, reason: str) -> ReputationChange:
    """An operator's "resume now": full speed, and the window only counts events from now on."""
    reputation = _reputation_for(connection)
    now = timezone.now()
    reputation.counting_since = now
    reputation.alarm_active = False
    change = _change(connection, reputation, State.HEALTHY, 1.0, reason, now)
    reputation.save()
    return change


# --- telling the owner ---------------------------------------------------------------------------------------


def _notify_owner(connection: AwsConnection, change: ReputationChange, *, kind: str) -> tuple[Any, str]:
    """Queue the owner's email through Sesame itself. Returns (email id or None, why not)."""
    from emails.services.notices import owner_notify

    subject, text = _message(connection, change, kind=kind)
    return owner_notify(account=connection.account, subject=subject, text=text)


def _message(connection: AwsConnection, change: ReputationChange, *, kind: str) -> tuple[str, str]:
    name = f"{connection.identifier} ({connection.region})"
    rates = f"Bounce rate: {_pct(change.bounce_rate)}. Complaint rate: {_pct(change.complaint_rate)}."
    if kind == "spike":
        paused = change.to_state == State.PAUSED
        action = "paused sending" if paused else f"throttled sending to {change.send_rate_factor:.0%} of its rate"
        return (
            f"Sesame {action.split(' ')[0]} {name}: bounce or complaint spike",
            f"Sesame {action} on your SES connection {name} to protect your SES reputation.\n\n"
            f"{change.reason}\n{rates}\n\nNothing is lost: emails stay queued and go out once the rates are back "
            f"below the warning level for {settings.SESAME_REPUTATION_HEALTHY_MINUTES} minutes. Meanwhile, check "
            f"recent recipient lists for invalid or unconsented addresses.\n",
        )
    return (
        f"Sesame resumed sending on {name}",
        f"Your SES connection {name} has been healthy for {settings.SESAME_REPUTATION_HEALTHY_MINUTES} minutes. "
        f"Sesame is resuming sending gradually, at {change.send_rate_factor:.0%} of its rate now, and full speed "
        f"within a few steps of {settings.SESAME_REPUTATION_RESUME_STEP_MINUTES} minutes.\n\n{rates}\n",
    )


def connections_to_check() -> list[Any]:
    """Active connections, plus any not at full health (so a deactivated one still recovers)."""
    active = set(AwsConnection.objects.filter(is_active=True).values_list("pk", flat=True))
    unhealthy = set(ConnectionReputation.objects.exclude(state=State.HEALTHY).values_list("connection_id", flat=True))
    return sorted(active | unhealthy, key=str)
