from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from contacts.models import Contact, ContactEvent, Tag
from contacts.services import contact_tags_change
from events.automations import runner, services
from events.automations.models import AutomationRun, AutomationVersion
from tests.contacts.factories import contact_for, segment_for
from tests.events.automations_helpers import automation_for, release_all, step_outcomes

pytestmark = pytest.mark.django_db


def tags_of(contact):
    contact.refresh_from_db()
    return sorted(Tag.objects.filter(pk__in=contact.tag_ids).values_list("name", flat=True))


def only_run(automation):
    return AutomationRun.objects.get(automation=automation)


@pytest.mark.sqlite
def test_a_wait_holds_the_run_until_it_is_due_then_the_next_step_runs(account):
    automation = automation_for(account, steps=[{"type": "wait", "seconds": 120}, {"type": "add_tag", "tag": "nudged"}])
    contact = contact_for(account, tags=["red sneakers"])
    release_all()
    run = only_run(automation)
    assert (run.status, run.step_id) == ("waiting", "s1")
    assert timedelta(seconds=119) < run.due_at - timezone.now() <= timedelta(seconds=120)
    assert release_all() == 0, "not due yet"
    assert "nudged" not in tags_of(contact)
    release_all(fast_forward=True)
    run.refresh_from_db()
    assert (run.status, run.step_id) == ("completed", "")
    assert tags_of(contact) == ["nudged", "red sneakers"]
    assert step_outcomes(run) == [("trigger", "entered"), ("s1", "waiting"), ("s1", "waited"), ("s2", "tagged")]
    timeline = list(ContactEvent.objects.filter(contact=contact, source="automation").values_list("name", flat=True))
    assert timeline.count("automation.step") == 3 and "automation.completed" in timeline


@pytest.mark.sqlite
def test_condition_takes_the_yes_or_the_no_branch_then_carries_on(account):
    automation = automation_for(
        account,
        steps=[
            {
                "type": "condition",
                "tests": [{"field": "attributes.plan", "op": "eq", "value": "pro"}],
                "yes": [{"type": "add_tag", "tag": "pro path"}],
                "no": [{"type": "add_tag", "tag": "free path"}, {"type": "exit"}],
            },
            {"type": "add_tag", "tag": "after"},
        ],
    )
    pro = contact_for(account, email="pro@example.com", attributes={"plan": "PRO"}, tags=["red sneakers"])
    free = contact_for(account, email="free@example.com", tags=["red sneakers"])
    release_all()
    assert tags_of(pro) == ["after", "pro path", "red sneakers"]
    assert tags_of(free) == ["free path", "red sneakers"]
    assert automation.version is not None
    steps = automation.version.steps
    assert [s["id"] for s in steps] == ["s1", "s5"] and steps[0]["yes"][0]["id"] == "s2"
    pro_run = AutomationRun.objects.get(contact=pro)
    assert [o for _, o in step_outcomes(pro_run)] == ["entered", "yes", "tagged", "tagged"]
    free_run = AutomationRun.objects.get(contact=free)
    assert [o for _, o in step_outcomes(free_run)] == ["entered", "no", "tagged", "exited"]
    assert free_run.status == "completed" and free_run.exit_reason == "exit step"


def test_condition_on_a_saved_segment(account):
    vips = segment_for(account, name="VIPs", tags=["vip"])
    automation_for(
        account,
        steps=[{"type": "condition", "segment": vips.pk, "yes": [{"type": "add_tag", "tag": "vip path"}], "no": []}],
    )
    vip = contact_for(account, email="vip@example.com", tags=["vip", "red sneakers"])
    other = contact_for(account, email="other@example.com", tags=["red sneakers"])
    release_all()
    assert "vip path" in tags_of(vip) and "vip path" not in tags_of(other)


def test_wait_until_a_time_of_day_in_the_contacts_timezone(account, monkeypatch):
    automation = automation_for(account, steps=[{"type": "wait", "until": "09:00"}])
    now = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # 05:00 on Dec 1 in Tokyo, 15:00 in New York
    monkeypatch.setattr(runner.timezone, "now", lambda: now)
    tokyo = contact_for(
        account, email="tokyo@example.com", attributes={"timezone": "Asia/Tokyo"}, tags=["red sneakers"]
    )
    ny = contact_for(
        account, email="ny@example.com", attributes={"timezone": "America/New_York"}, tags=["red sneakers"]
    )
    nowhere = contact_for(account, email="utc@example.com", attributes={"timezone": "Mars/Base"}, tags=["red sneakers"])
    AutomationRun.objects.update(due_at=now)
    runner.runs_release(seconds=5)
    due = {run.contact_id: run.due_at for run in AutomationRun.objects.filter(automation=automation)}
    assert due[tokyo.pk] == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 09:00 JST
    assert due[ny.pk] == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 09:00 EST, tomorrow
    assert due[nowhere.pk] == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # unknown zone: UTC


def test_a_run_crashing_mid_step_resumes_at_that_step_and_does_it_once(account, monkeypatch):
    automation = automation_for(
        account, steps=[{"type": "add_tag", "tag": "first"}, {"type": "add_tag", "tag": "second"}]
    )
    contact = contact_for(account, tags=["red sneakers"])
    real_step = runner._step
    crashes: list[str] = []

    def crash_after_the_effect(run, step_id, kind, outcome, detail, now, out):
        real_step(run, step_id, kind, outcome, detail, now, out)
        if step_id == "s2" and not crashes:
            crashes.append(step_id)
            raise ConnectionError("worker lost its database mid-step")

    monkeypatch.setattr(runner, "_step", crash_after_the_effect)
    release_all()
    run = only_run(automation)
    # The whole turn rolled back: s1's tag too, since it shared the transaction with s2.
    assert (run.status, run.step_id, run.attempts) == ("waiting", "s1", 1)
    assert "ConnectionError: worker lost its database mid-step" in run.last_error
    assert tags_of(contact) == ["red sneakers"]
    release_all(fast_forward=True)
    run.refresh_from_db()
    assert (run.status, run.attempts, run.last_error) == ("completed", 0, "")
    assert tags_of(contact) == ["first", "red sneakers", "second"]
    assert [o for _, o in step_outcomes(run)] == ["entered", "tagged", "tagged"]


def test_a_step_that_keeps_failing_fails_the_run_with_the_reason(account, monkeypatch, settings):
    settings.SESAME_AUTOMATION_MAX_ATTEMPTS = 2
    automation = automation_for(account)
    contact_for(account, tags=["red sneakers"])

    def broken(**kwargs):
        raise RuntimeError("tag service down")

    monkeypatch.setattr(runner, "contact_tags_change", broken)
    release_all()
    release_all(fast_forward=True)
    run = only_run(automation)
    assert run.status == "failed"
    assert run.exit_reason == "step s1 failed 2 times: RuntimeError: tag service down"
    assert step_outcomes(run)[-2:] == [("s1", "failed"), ("s1", "exited")]


def test_editing_an_active_automation_versions_it_and_runs_in_flight_finish_on_theirs(account):
    automation = automation_for(account, steps=[{"type": "wait", "seconds": 60}, {"type": "add_tag", "tag": "old"}])
    early = contact_for(account, email="early@example.com", tags=["red sneakers"])
    release_all()
    automation = services.automation_update(
        automation=automation, data={"steps": [{"type": "wait", "seconds": 60}, {"type": "add_tag", "tag": "new"}]}
    )
    assert automation.version is not None and automation.version.number == 2
    assert AutomationVersion.objects.filter(automation=automation).count() == 2
    late = contact_for(account, email="late@example.com", tags=["red sneakers"])
    release_all()
    release_all(fast_forward=True)
    assert "old" in tags_of(early) and "new" not in tags_of(early)
    assert "new" in tags_of(late) and "old" not in tags_of(late)
    numbers = dict(AutomationRun.objects.values_list("contact_id", "version__number"))
    assert numbers == {early.pk: 1, late.pk: 2}


def test_editing_before_any_run_keeps_one_version(account):
    automation = automation_for(account, active=False)
    automation = services.automation_update(automation=automation, data={"steps": [{"type": "exit"}], "name": "New"})
    assert automation.version is not None
    assert (automation.version.number, automation.name, automation.version.steps) == (
        1,
        "New",
        [{"type": "exit", "id": "s1"}],
    )


def test_pausing_an_automation_holds_its_runs_until_it_is_active_again(account):
    automation = automation_for(account)
    contact = contact_for(account, tags=["red sneakers"])
    services.automation_pause(automation=automation)
    assert release_all() == 0
    assert tags_of(contact) == ["red sneakers"]
    services.automation_activate(automation=automation)
    release_all()
    assert tags_of(contact) == ["red sneakers", "welcomed"]


def test_operators_pause_resume_and_exit_runs(account):
    automation = automation_for(account, steps=[{"type": "wait", "seconds": 60}])
    contacts = [contact_for(account, tags=["red sneakers"]) for _ in range(2)]
    runs = list(AutomationRun.objects.filter(automation=automation).order_by("id"))
    assert services.runs_pause(run_ids=[runs[0].pk]) == 1
    assert release_all() == 1, "the paused run is not taken"
    assert services.runs_resume(run_ids=[runs[0].pk]) == 1
    assert services.runs_exit(run_ids=[r.pk for r in runs]) == 2
    assert set(AutomationRun.objects.values_list("status", flat=True)) == {"exited"}
    contact_tags_change(contact=contacts[0], remove=["red sneakers"])
    contact_tags_change(contact=contacts[0], add=["red sneakers"])
    assert AutomationRun.objects.count() == 2, "once per contact: an exit does not let it enter again"


def test_contacts_entering_a_segment_are_enrolled_not_those_already_in(account):
    vips = segment_for(account, name="VIPs", tags=["vip"])
    automation = automation_for(account, trigger={"type": "segment_entered", "segment": vips.pk})
    already = contact_for(account, email="already@example.com", tags=["vip"])
    assert services.segment_entries_check(automation_id=automation.pk) == 0  # the first look records members
    newcomer = contact_for(account, email="new@example.com")
    contact_tags_change(contact=newcomer, add=["vip"])
    assert services.segment_entries_check(automation_id=automation.pk) == 1
    assert list(AutomationRun.objects.values_list("contact_id", flat=True)) == [newcomer.pk]
    assert Contact.objects.get(pk=already.pk).pk not in AutomationRun.objects.values_list("contact_id", flat=True)
