import copy
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from events import dashboards, services
from events.models import Rollup, RollupDelta, RollupTotal
from tests.events.conftest import fixture_payload, sent_email

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


def ses_event(kind: str, email, *, at=None) -> dict:
    """An AWS sample event of this kind, for this email, stamped `at` (default now)."""
    payload = copy.deepcopy(fixture_payload(f"ses-events/{kind}.json"))
    payload["mail"]["messageId"] = email.ses_message_id
    stamp = (at or timezone.now()).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    payload["mail"]["timestamp"] = stamp
    details = payload.get(kind)
    if isinstance(details, dict) and "timestamp" in details:
        details["timestamp"] = stamp
    return payload


def email_with(connection, **fields):
    return sent_email(connection, ses_message_id=f"ses-{uuid.uuid4()}", **fields)


def today_scope(**filters) -> dashboards.DashboardScope:
    today = timezone.now().date()
    return dashboards.DashboardScope(start=today - timedelta(days=1), end=today, **filters)


def totals(scope) -> dict[str, int]:
    return next(series for series in dashboards.daily_series(scope) if series.channel.name == "email").totals


def test_events_count_toward_rollups_with_their_tags_and_custom_fields(connection, receive):
    tagged = email_with(connection, tags=["receipt"], custom_fields={"plan": "pro", "order": 7})
    plain = email_with(connection)
    for email in (tagged, plain):
        receive(connection, ses_event("send", email))
        receive(connection, ses_event("delivery", email))
    receive(connection, ses_event("open", tagged))
    assert RollupDelta.objects.exists()  # the events path only inserted increments

    everything = totals(today_scope())
    assert (everything["sent"], everything["delivered"], everything["opened"]) == (2, 2, 1)
    assert totals(today_scope(tag="receipt"))["delivered"] == 1
    assert totals(today_scope(field_key="order", field_value="7"))["opened"] == 1
    assert totals(today_scope(tag="nope"))["sent"] == 0

    assert services.rollups_compact() > 0
    assert not RollupDelta.objects.exists()
    assert totals(today_scope()) == everything  # the same numbers, now from the compacted rows
    assert Rollup.objects.filter(period="hour").exists() and Rollup.objects.filter(period="day").exists()


def test_a_tag_and_a_custom_field_together_are_counted_from_the_events(connection, receive):
    both = email_with(connection, tags=["receipt"], custom_fields={"plan": "pro"})
    tag_only = email_with(connection, tags=["receipt"], custom_fields={"plan": "free"})
    for email in (both, tag_only):
        receive(connection, ses_event("delivery", email))
    assert totals(today_scope(tag="receipt", field_key="plan", field_value="pro"))["delivered"] == 1
    assert totals(today_scope(tag="receipt"))["delivered"] == 2


def test_rollups_are_scoped_by_account_and_connection(connection, receive, other_account):
    from tests.events.conftest import provisioned

    theirs = provisioned(other_account)
    receive(connection, ses_event("delivery", email_with(connection)))
    receive(theirs, ses_event("delivery", email_with(theirs)))
    assert totals(today_scope(account_id=connection.account_id))["delivered"] == 1
    assert totals(today_scope(connection_id=theirs.pk))["delivered"] == 1
    assert totals(today_scope())["delivered"] == 2


def test_rebuild_recounts_what_the_events_path_counted(connection, receive):
    email = email_with(connection, tags=["receipt"])
    yesterday = timezone.now() - timedelta(days=1)
    receive(connection, ses_event("send", email, at=yesterday))
    receive(connection, ses_event("delivery", email, at=yesterday))
    receive(connection, ses_event("bounce", email_with(connection)))
    services.rollups_compact()

    def rows():
        return [
            sorted(model.objects.values_list("period", "bucket", "dimension", "metric", "count"))
            for model in (Rollup, RollupTotal)
        ]

    live = rows()
    assert live[0] == live[1]  # one account, one connection: the totals are the same numbers
    Rollup.objects.update(count=999)  # rollups gone wrong
    RollupTotal.objects.all().delete()
    call_command("rebuild_rollups", "--since", "3d", "--no-progress")
    assert rows() == live
    call_command("rebuild_rollups", "--since", "3d", "--no-progress")  # and again: the same rows
    assert rows() == live


def test_old_hourly_rows_are_pruned_and_daily_rows_kept(connection, receive):
    email = email_with(connection)
    receive(connection, ses_event("delivery", email, at=timezone.now() - timedelta(days=5)))
    services.rollups_compact()
    assert services.rollups_prune() == 1
    assert list(Rollup.objects.values_list("period", flat=True)) == ["day"]
