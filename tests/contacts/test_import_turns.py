"""Imports take turns: one import per account at a time on the bulk queue, so one account's ten uploads never hold
every worker; a lost task or a dead worker is picked up by the sweep."""

import io
import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Account
from contacts.csv_import import turns
from contacts.models import Contact, ContactImport
from contacts.services import contact_import_create
from contacts.tasks import contact_import_run
from tests.waiting import wait_for


def upload(account, rows: int, name: str) -> ContactImport:
    lines = "".join(f"{name}-{n}@example.com,Person {n}\n" for n in range(rows))
    return contact_import_create(
        account=account,
        upload=io.BytesIO(("email,full_name\n" + lines).encode()),
        filename=name,
        tags=[],
        update_existing=False,
        default_region="",
    )


@pytest.mark.django_db
def test_an_account_runs_one_import_at_a_time_and_the_next_is_queued_when_it_ends(
    account, django_capture_on_commit_callbacks
):
    other = Account.objects.create(name="Other", plan=account.plan)
    first, second = upload(account, 3, "first.csv"), upload(account, 2, "second.csv")
    theirs = upload(other, 1, "theirs.csv")

    assert getattr(turns.import_claim(first.pk), "status", None) == "running"
    assert turns.import_claim(second.pk) is None  # its account is busy: it waits for its turn
    assert getattr(turns.import_claim(theirs.pk), "status", None) == "running"  # another account is not held up

    # A duplicate delivery of the running import's task runs nothing twice.
    assert contact_import_run.apply(args=(str(first.pk),)).get() == "waiting"

    # When the running import ends, the account's next one is queued (behind everyone else's tasks).
    ContactImport.objects.filter(pk=first.pk).update(status="queued")
    ContactImport.objects.filter(pk=second.pk).update(enqueued_at=None)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert contact_import_run.apply(args=(str(first.pk),)).get() == "done"
    second.refresh_from_db()
    assert (second.status, second.enqueued_at is not None, len(queued)) == ("queued", True, 1)


@pytest.mark.django_db
def test_finishing_an_import_starts_the_accounts_next(account):
    first, second = upload(account, 3, "first.csv"), upload(account, 2, "second.csv")
    assert contact_import_run.apply(args=(str(first.pk),)).get() == "done"
    assert contact_import_run.apply(args=(str(second.pk),)).get() == "done"
    assert Contact.objects.filter(account=account).count() == 5


@pytest.mark.django_db
def test_the_sweep_takes_back_a_dead_run_and_requeues_lost_tasks_once_per_account(
    account, django_capture_on_commit_callbacks
):
    other = Account.objects.create(name="Other", plan=account.plan)
    dead, waiting = upload(account, 1, "dead.csv"), upload(account, 1, "waiting.csv")
    lost = upload(other, 1, "lost.csv")
    upload(other, 1, "recent.csv")
    long_ago = timezone.now() - timedelta(minutes=11)
    ContactImport.objects.filter(pk=dead.pk).update(status="running", heartbeat_at=long_ago, enqueued_at=long_ago)
    ContactImport.objects.filter(pk__in=[waiting.pk, lost.pk]).update(enqueued_at=long_ago, created_at=long_ago)

    swept_at = timezone.now()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert turns.imports_sweep() == 2
    # The dead run is waiting again; per account, only the oldest waiting import is queued (waiting.csv is older).
    states = dict(ContactImport.objects.values_list("filename", "status"))
    assert states == {"dead.csv": "queued", "waiting.csv": "queued", "lost.csv": "queued", "recent.csv": "queued"}
    requeued = set(ContactImport.objects.filter(enqueued_at__gte=swept_at).values_list("filename", flat=True))
    assert requeued == {"waiting.csv", "lost.csv"}  # recent.csv's task was queued a moment ago: not again
    assert len(queued) == 2


def test_one_accounts_uploads_never_hold_up_another_accounts_import(start_worker, account):
    other = Account.objects.create(name="Other", plan=account.plan)
    mine = [upload(account, 30_000, f"big-{n}.csv") for n in range(3)]
    theirs = upload(other, 5, "small.csv")
    start_worker(concurrency=2)

    wait_for(lambda: not ContactImport.objects.exclude(status="done").exists(), timeout=120)
    runs = ContactImport.objects.filter(pk__in=[job.pk for job in mine]).order_by("started_at")
    big = [(job.started_at, job.finished_at) for job in runs]
    small = ContactImport.objects.values_list("finished_at", flat=True).get(pk=theirs.pk)
    assert small is not None and all(start and end for start, end in big)
    # The account's imports ran one after another...
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(big))  # type: ignore[operator]
    # ...while the other account's ran beside the first, not after all three.
    assert small < big[1][0]  # type: ignore[operator]
    assert Contact.objects.filter(account=account).count() == 90_000
    assert Contact.objects.filter(account=other).count() == 5
