import pytest

from events.automations.models import Automation, AutomationRun
from tests.contacts.factories import contact_for, segment_for
from tests.events.automations_helpers import release_all

pytestmark = pytest.mark.django_db

BODY = {
    "name": "Red sneakers follow-up",
    "trigger": {"type": "tag_added", "tag": "red sneakers"},
    "steps": [{"type": "wait", "seconds": 2}, {"type": "add_tag", "tag": "nudged"}],
    "goal_event": "purchase",
}


@pytest.fixture
def client(api, account):
    return api(account)


def create(client, **changes):
    response = client.post("/v1/automations", {**BODY, **changes}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.sqlite
def test_create_read_list_change_and_delete(client):
    made = create(client)
    assert made["status"] == "draft" and made["version"] == 1 and made["priority"] == 60
    assert made["trigger"] == {"type": "tag_added", "tag": "red sneakers"}
    assert [s["id"] for s in made["steps"]] == ["s1", "s2"] and made["goal_event"] == "purchase"
    assert made["reentry"] == {"mode": "once", "min_gap_seconds": None}
    one = client.get(f"/v1/automations/{made['id']}").json()
    assert [row["id"] for row in one["step_counts"]] == ["s1", "s2"]
    assert client.get("/v1/automations").json()["results"][0]["id"] == made["id"]
    changed = client.patch(f"/v1/automations/{made['id']}", {"name": "Renamed", "priority": 70}, format="json")
    assert (changed.json()["name"], changed.json()["priority"], changed.json()["version"]) == ("Renamed", 70, 1)
    assert client.delete(f"/v1/automations/{made['id']}").status_code == 204
    assert client.get(f"/v1/automations/{made['id']}").status_code == 404


def test_every_problem_is_a_422_at_its_place(client):
    response = client.post(
        "/v1/automations",
        {
            "name": "",
            "trigger": {"type": "event", "event": "wishlist", "conditions": [{"property": "price", "op": "between"}]},
            "steps": [{"type": "wait", "seconds": 0}, {"type": "send", "channel": "fax"}, {"type": "nap"}],
            "reentry": {"mode": "once", "min_gap_seconds": 60},
            "colour": "red",
        },
        format="json",
    )
    assert response.status_code == 422
    locs = [tuple(entry["loc"]) for entry in response.json()["detail"]]
    assert locs == [
        ("body", "colour"),
        ("body", "name"),
        ("body", "trigger", "conditions", 0, "op"),
        ("body", "steps", 0, "seconds"),
        ("body", "steps", 1, "channel"),
        ("body", "steps", 1, "template"),
        ("body", "steps", 2, "type"),
        ("body", "reentry", "min_gap_seconds"),
    ]
    assert Automation.objects.count() == 0


def test_a_segment_of_another_account_is_unknown(client, other_account):
    theirs = segment_for(other_account)
    response = client.post(
        "/v1/automations", {**BODY, "trigger": {"type": "segment_entered", "segment": theirs.pk}}, format="json"
    )
    assert response.json()["detail"] == [
        {
            "loc": ["body", "trigger", "segment"],
            "msg": "No saved segment with this id in your account.",
            "type": "value_error.unknown",
        }
    ]


def test_activate_and_pause(client, account):
    made = create(client)
    assert client.post(f"/v1/automations/{made['id']}/pause").json() == {
        "detail": "A draft automation is not running; activate it first."
    }
    assert client.post(f"/v1/automations/{made['id']}/activate").json()["status"] == "active"
    contact_for(account, tags=["red sneakers"])
    assert AutomationRun.objects.count() == 1
    assert client.post(f"/v1/automations/{made['id']}/pause").json()["status"] == "paused"
    empty = create(client, steps=[])
    response = client.post(f"/v1/automations/{empty['id']}/activate")
    assert (response.status_code, response.json()) == (
        409,
        {"detail": "Add at least one step before activating the automation."},
    )


def test_editing_steps_of_an_automation_with_runs_makes_version_2(client, account):
    made = create(client)
    client.post(f"/v1/automations/{made['id']}/activate")
    contact_for(account, tags=["red sneakers"])
    changed = client.patch(
        f"/v1/automations/{made['id']}", {"steps": [{"type": "add_tag", "tag": "at once"}]}, format="json"
    ).json()
    assert changed["version"] == 2 and changed["steps"] == [{"type": "add_tag", "tag": "at once", "id": "s1"}]
    runs = client.get(f"/v1/automations/{made['id']}/runs").json()["results"]
    assert [run["version"] for run in runs] == [1]


def test_runs_with_filters_and_one_runs_step_history(client, account):
    made = create(client)
    client.post(f"/v1/automations/{made['id']}/activate")
    ada = contact_for(account, email="ada@example.com", tags=["red sneakers"])
    contact_for(account, email="bob@example.com", tags=["red sneakers"])
    release_all()
    client.post("/v1/events", {"email": "ada@example.com", "name": "purchase"}, format="json")
    runs = client.get(f"/v1/automations/{made['id']}/runs").json()["results"]
    assert [(run["contact"]["email"], run["status"]) for run in runs] == [
        ("bob@example.com", "waiting"),
        ("ada@example.com", "converted"),
    ]
    assert [
        r["contact"]["email"]
        for r in client.get(f"/v1/automations/{made['id']}/runs?status=converted").json()["results"]
    ] == ["ada@example.com"]
    assert len(client.get(f"/v1/automations/{made['id']}/runs?contact={ada.pk}").json()["results"]) == 1
    assert len(client.get(f"/v1/automations/{made['id']}/runs?step=s1&status=waiting").json()["results"]) == 1
    bad = client.get(f"/v1/automations/{made['id']}/runs?stauts=waiting")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "stauts"]
    run = client.get(f"/v1/automations/{made['id']}/runs/{runs[1]['id']}").json()
    assert [(s["step_id"], s["type"], s["outcome"]) for s in run["steps"]] == [
        ("trigger", "trigger", "entered"),
        ("s1", "wait", "waiting"),
        ("s1", "end", "exited"),
    ]
    assert run["exit_reason"] == "goal event 'purchase'"
    counts = {row["id"]: row for row in client.get(f"/v1/automations/{made['id']}").json()["step_counts"]}
    assert (counts["s1"]["entered"], counts["s1"]["waiting"], counts["s1"]["exited"]) == (2, 1, 1)


def test_another_accounts_automations_and_runs_answer_404(client, api, other_account):
    made = create(client)
    client.post(f"/v1/automations/{made['id']}/activate")
    theirs = api(other_account)
    assert theirs.get("/v1/automations").json()["results"] == []
    for method, path in [
        ("get", f"/v1/automations/{made['id']}"),
        ("patch", f"/v1/automations/{made['id']}"),
        ("delete", f"/v1/automations/{made['id']}"),
        ("post", f"/v1/automations/{made['id']}/pause"),
        ("get", f"/v1/automations/{made['id']}/runs"),
        ("get", f"/v1/automations/{made['id']}/runs/1"),
    ]:
        response = getattr(theirs, method)(path, {}, format="json")
        assert (response.status_code, response.json()) == (404, {"detail": "Not found."}), path
    assert Automation.objects.get(pk=made["id"]).status == "active"


def test_the_schema_documents_every_automation_endpoint_with_examples(client):
    schema = client.get("/v1/schema", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    for path in (
        "/v1/automations",
        "/v1/automations/{id}",
        "/v1/automations/{id}/activate",
        "/v1/automations/{id}/pause",
        "/v1/automations/{id}/runs",
        "/v1/automations/{id}/runs/{run_id}",
    ):
        assert path in paths, path
    create_op = paths["/v1/automations"]["post"]
    assert "RedSneakers" in create_op["requestBody"]["content"]["application/json"]["examples"]
