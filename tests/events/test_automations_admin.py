import re

import pytest

from events.automations.models import AutomationRun
from tests.contacts.factories import contact_for
from tests.events.automations_helpers import automation_for, release_all

pytestmark = pytest.mark.django_db

STEPS = [
    {"type": "wait", "seconds": 3600},
    {
        "type": "condition",
        "tests": [{"field": "attributes.plan", "op": "eq", "value": "pro"}],
        "yes": [{"type": "add_tag", "tag": "pro"}],
        "no": [{"type": "exit"}],
    },
]


@pytest.fixture
def flow(account):
    automation = automation_for(account, steps=STEPS, goal_event="purchase")
    contacts = [contact_for(account, email=f"c{i}@example.com", tags=["red sneakers"]) for i in range(3)]
    release_all()
    return automation, contacts


def step_box(html, step_id):
    match = re.search(rf'data-step="{step_id}"(.*?)</div>\s*</div>', html, re.S)
    assert match, f"no box for {step_id}"
    return re.sub(r"<[^>]+>", "", match.group(1))


@pytest.mark.sqlite
def test_the_automation_page_shows_the_steps_as_a_flow_with_counts(admin_client, flow):
    automation, contacts = flow
    AutomationRun.objects.filter(contact=contacts[0]).update(status="paused")
    from events.automations.services import runs_exit

    runs_exit(run_ids=AutomationRun.objects.filter(contact=contacts[1]).values_list("pk", flat=True))
    html = admin_client.get(f"/admin/events/automation/{automation.pk}/change/").content.decode()
    assert "tag “red sneakers” added" in html and "goal event <code>purchase</code>" in html
    wait = " ".join(step_box(html, "s1").split())
    assert "Wait 3600 s" in wait
    assert "entered 3 · waiting 2" in wait and "exited 1" in wait
    assert "If attributes.plan eq pro" in step_box(html, "s2")
    assert "Add tag “pro”" in step_box(html, "s3") and "Exit" in step_box(html, "s4")
    assert "exited by an operator 1" in " ".join(re.sub(r"<[^>]+>", "", html).split())


@pytest.mark.sqlite
def test_lists_load_with_their_filters(admin_client, flow):
    automation, _ = flow
    for url in (
        "/admin/events/automation/",
        "/admin/events/automation/?status__exact=active",
        "/admin/events/automationrun/?status=live",
        f"/admin/events/automationrun/?automation__id__exact={automation.pk}&status=live&step_id=s1",
        "/admin/events/automationrun/?q=c1%40example.com",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    assert "c1@example.com" in admin_client.get("/admin/events/automationrun/?q=c1%40example.com").content.decode()


def test_a_contacts_page_lists_its_runs(admin_client, flow):
    automation, contacts = flow
    run = AutomationRun.objects.get(contact=contacts[0])
    html = admin_client.get(f"/admin/contacts/contact/{contacts[0].pk}/change/").content.decode()
    assert "Automation runs (newest first)" in html
    assert f"/admin/events/automationrun/{run.pk}/change/" in html and automation.name in html
    assert "automation.enrolled" in html  # the timeline shows the enrolment and the steps
    assert "automation.step" in html
    listed = admin_client.get(f"/admin/events/automationrun/?contact={contacts[0].pk}").content.decode()
    assert "c0@example.com" in listed and "c1@example.com" not in listed


def test_run_actions_pause_resume_and_exit(admin_client, flow):
    del flow  # the runs it made
    ids = [str(pk) for pk in AutomationRun.objects.order_by("id").values_list("pk", flat=True)]

    def act(action, selected):
        return admin_client.post(
            "/admin/events/automationrun/", {"action": action, "_selected_action": selected}, follow=True
        )

    assert "1 run(s) paused." in act("pause_runs", ids[:1]).content.decode()
    assert AutomationRun.objects.get(pk=ids[0]).status == "paused"
    assert "1 run(s) resumed." in act("resume_runs", ids[:1]).content.decode()
    assert "3 run(s) exited." in act("exit_runs", ids).content.decode()
    assert set(AutomationRun.objects.values_list("status", flat=True)) == {"exited"}
    assert AutomationRun.objects.get(pk=ids[0]).exit_reason.startswith("exited by operator ")


def test_a_run_page_shows_its_steps_and_cannot_be_edited(admin_client, flow):
    run = AutomationRun.objects.order_by("id")[0]
    html = admin_client.get(f"/admin/events/automationrun/{run.pk}/change/").content.decode()
    assert "Steps taken" in html and "waiting" in html
    response = admin_client.post(f"/admin/events/automationrun/{run.pk}/change/", {"status": "completed"})
    assert response.status_code == 403
