import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from contacts.models import Contact, ContactEvent
from contacts.services import contact_tags_change
from events.automations.models import AutomationEntry, AutomationRun, AutomationRunStep
from tests.accounts.factories import token_for
from tests.contacts.factories import contact_for
from tests.events.automations_helpers import automation_for, release_all

pytestmark = pytest.mark.django_db


def add_contact(client, account, **body):
    return client.post("/add-contact", body, format="json", HTTP_TEMPLATE_KEY=token_for(account, scopes=("contacts",)))


def runs_of(automation):
    return list(AutomationRun.objects.filter(automation=automation).order_by("id"))


@pytest.mark.sqlite
def test_add_contact_with_the_tag_enrols_the_contact_and_says_so_on_its_timeline(client, account):
    automation = automation_for(account)
    response = add_contact(client, account, email="ada@example.com", add_tags="red sneakers,vip")
    assert response.json() == {"success": True, "message": "Contact added"}
    contact = Contact.objects.get(account=account, email="ada@example.com")
    [run] = runs_of(automation)
    assert (run.contact_id, run.status, run.step_id, run.version_id) == (
        contact.pk,
        "waiting",
        "s1",
        automation.version_id,
    )
    assert run.trigger_detail["trigger"] == "tag_added"
    assert AutomationRunStep.objects.filter(run=run, outcome="entered").count() == 1
    names = list(ContactEvent.objects.filter(contact=contact).values_list("name", "source"))
    assert ("automation.enrolled", "automation") in names


def test_a_tag_the_contact_already_has_enrols_nobody(client, account):
    automation = automation_for(account)
    add_contact(client, account, email="ada@example.com", add_tags="red sneakers")
    AutomationRun.objects.all().delete()
    AutomationEntry.objects.all().delete()
    response = add_contact(client, account, email="ada@example.com", add_tags="red sneakers")
    assert response.json()["message"] == "Contact updated"
    assert runs_of(automation) == []


def test_draft_and_paused_automations_and_other_accounts_enrol_nobody(client, account, other_account):
    from events.automations.services import automation_pause

    draft = automation_for(account, active=False)
    paused = automation_pause(automation=automation_for(account, name="Paused"))
    elsewhere = automation_for(other_account)
    add_contact(client, account, email="ada@example.com", add_tags="red sneakers")
    assert runs_of(draft) == runs_of(paused) == runs_of(elsewhere) == []


def test_event_trigger_matches_its_property_conditions(api, account):
    automation = automation_for(
        account,
        trigger={
            "type": "event",
            "event": "added_to_wishlist",
            "conditions": [
                {"property": "product", "op": "eq", "value": "Red Sneakers"},
                {"property": "price", "op": "gte", "value": 50},
            ],
        },
    )
    events = [
        {
            "email": "yes@example.com",
            "name": "added_to_wishlist",
            "properties": {"product": "red sneakers", "price": 89.5},
        },
        {
            "email": "cheap@example.com",
            "name": "added_to_wishlist",
            "properties": {"product": "red sneakers", "price": 9},
        },
        {
            "email": "blue@example.com",
            "name": "added_to_wishlist",
            "properties": {"product": "blue sneakers", "price": 89},
        },
        {"email": "other@example.com", "name": "login", "properties": {"product": "red sneakers", "price": 89}},
    ]
    response = api(account).post("/v1/events", {"events": events}, format="json")
    assert response.json()["accepted"] == 4
    enrolled = [Contact.objects.get(pk=run.contact_id).email for run in runs_of(automation)]
    assert enrolled == ["yes@example.com"]
    assert runs_of(automation)[0].trigger_detail == {"trigger": "event", "event": "added_to_wishlist"}


def test_contact_created_and_tag_removed_triggers(api, account):
    created = automation_for(account, name="Welcome", trigger={"type": "contact_created"})
    removed = automation_for(account, name="Win back", trigger={"type": "tag_removed", "tag": "customer"})
    contact = contact_for(account, email="ada@example.com", tags=["customer"])
    api(account).post("/v1/events", {"email": "new@example.com", "name": "login"}, format="json")
    assert sorted(str(Contact.objects.get(pk=r.contact_id).email) for r in runs_of(created)) == [
        "ada@example.com",
        "new@example.com",
    ]
    assert runs_of(removed) == []
    contact_tags_change(contact=contact, remove=["customer"])
    assert [run.contact_id for run in runs_of(removed)] == [contact.pk]


def test_once_per_contact_ever_by_default(account):
    automation = automation_for(account)
    contact = contact_for(account, tags=["red sneakers"])
    release_all()  # add_tag "welcomed": the run completes
    contact_tags_change(contact=contact, remove=["red sneakers"])
    contact_tags_change(contact=contact, add=["red sneakers"])
    assert [run.status for run in runs_of(automation)] == ["completed"]
    assert AutomationEntry.objects.get(automation=automation, contact=contact).entries == 1


@pytest.mark.sqlite
def test_every_trigger_enrols_again_only_after_the_run_ended_and_the_gap(account):
    automation = automation_for(
        account, steps=[{"type": "wait", "seconds": 60}], reentry={"mode": "every_trigger", "min_gap_seconds": 3600}
    )
    contact = contact_for(account, tags=["red sneakers"])
    contact_tags_change(contact=contact, remove=["red sneakers"])
    contact_tags_change(contact=contact, add=["red sneakers"])
    assert len(runs_of(automation)) == 1, "a contact is never in two runs of one automation at once"
    release_all(fast_forward=True)
    release_all(fast_forward=True)
    assert [run.status for run in runs_of(automation)] == ["completed"]
    contact_tags_change(contact=contact, remove=["red sneakers"])
    contact_tags_change(contact=contact, add=["red sneakers"])
    assert len(runs_of(automation)) == 1, "within the minimum gap"
    AutomationEntry.objects.filter(contact=contact).update(last_entered_at=timezone.now() - timedelta(hours=2))
    contact_tags_change(contact=contact, remove=["red sneakers"])
    contact_tags_change(contact=contact, add=["red sneakers"])
    assert [run.status for run in runs_of(automation)] == ["completed", "waiting"]
    assert AutomationEntry.objects.get(contact=contact).entries == 2


def test_every_trigger_without_a_gap_enrols_after_each_trigger(account):
    automation = automation_for(account, reentry={"mode": "every_trigger"})
    contact = contact_for(account, tags=["red sneakers"])
    for _ in range(2):
        release_all()
        contact_tags_change(contact=contact, remove=["red sneakers"])
        contact_tags_change(contact=contact, add=["red sneakers"])
    release_all()
    assert [run.status for run in runs_of(automation)] == ["completed"] * 3


@pytest.mark.sqlite
def test_goal_event_ends_the_run(api, account):
    automation = automation_for(account, steps=[{"type": "wait", "seconds": 3600}], goal_event="purchase")
    contact = contact_for(account, email="ada@example.com", tags=["red sneakers"])
    release_all()
    api(account).post("/v1/events", {"email": "ada@example.com", "name": "Purchase"}, format="json")
    [run] = runs_of(automation)
    assert (run.status, run.exit_reason) == ("converted", "goal event 'purchase'")
    assert AutomationEntry.objects.get(contact=contact).in_run is False
    assert ContactEvent.objects.filter(contact=contact, name="automation.converted").exists()


@pytest.mark.django_db(transaction=True)
def test_the_same_trigger_written_twice_at_once_enrols_once(account):
    """Two transactions tag the same contact at the same moment, each with an every-trigger automation watching:
    exactly one run (the second sees the tag already there, or the first's enrolment on the gate row)."""
    automation = automation_for(account, reentry={"mode": "every_trigger"}, steps=[{"type": "wait", "seconds": 60}])
    event_automation = automation_for(
        account,
        name="Wishlist",
        trigger={"type": "event", "event": "wishlist"},
        reentry={"mode": "every_trigger"},
        steps=[{"type": "wait", "seconds": 60}],
    )
    contact = contact_for(account, email="ada@example.com")
    barrier = threading.Barrier(2)
    errors = []

    def write() -> None:
        from contacts.ingest import EventInput, contact_events_record

        try:
            barrier.wait()
            contact_tags_change(contact=contact, add=["red sneakers"])
            contact_events_record(
                account=account,
                events=[EventInput(name="wishlist", occurred_at=timezone.now(), email="ada@example.com")],
            )
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(runs_of(automation)) == 1
    assert len(runs_of(event_automation)) == 1
    assert AutomationEntry.objects.get(automation=event_automation).entries == 1
