"""Whose import runs next: one import per account at a time, in upload order, on the `bulk` queue.

An account that uploads ten files holds one worker of the bulk queue, never all of them: its next import is queued
behind everyone else's only when the current one finishes. A claim locks the account's row, so two workers that
pick up two imports of one account at the same moment cannot both start.

Nothing here trusts the broker to keep a task: the sweep (beat, every minute) queues again an import whose task
was lost (queued long ago and never started, with no other import of its account running) and takes back one whose
worker died (running with no heartbeat for STALE_AFTER). Imports are idempotent, so a re-run is safe.
"""

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import Account
from contacts.models import ContactImport

Status = ContactImport.Status

# The progress callback beats at least every few seconds while rows are read; applying a very large file is one
# long statement, so this is generous.
STALE_AFTER = timedelta(minutes=10)
# How long a queued run may wait for its task before the sweep queues it again (the bulk queue may be busy).
REQUEUE_AFTER = timedelta(minutes=10)


def import_enqueue(job_id: Any) -> None:
    """Queue a run of this import once the surrounding transaction commits."""
    from contacts.tasks import contact_import_run

    ContactImport.objects.filter(pk=job_id).update(enqueued_at=timezone.now())
    transaction.on_commit(lambda: contact_import_run.delay(str(job_id)))


def import_claim(job_id: Any) -> ContactImport | None:
    """Start this import, unless it is not waiting or its account has another one running (that one's task
    queues this one when it finishes). Returns the import, now `running`."""
    now = timezone.now()
    with transaction.atomic():
        account_id = ContactImport.objects.filter(pk=job_id).values_list("account_id", flat=True).first()
        if account_id is None:
            return None
        list(Account.objects.select_for_update().filter(pk=account_id).values_list("pk"))
        job = ContactImport.objects.filter(pk=job_id).first()
        if job is None or not _claimable(job, now):
            return None
        running = ContactImport.objects.filter(
            account_id=account_id, status=Status.RUNNING, heartbeat_at__gt=now - STALE_AFTER
        )
        if running.exclude(pk=job.pk).exists():
            return None
        ContactImport.objects.filter(pk=job.pk).update(status=Status.RUNNING, started_at=now, heartbeat_at=now)
    job.refresh_from_db()
    return job


def _claimable(job: ContactImport, now: Any) -> bool:
    if job.status == Status.QUEUED:
        return True
    # A run whose worker died: its heartbeat stopped. A live run (a duplicate task) is left alone.
    return job.status == Status.RUNNING and (job.heartbeat_at is None or job.heartbeat_at <= now - STALE_AFTER)


def import_heartbeat(job_id: Any, **progress: Any) -> None:
    ContactImport.objects.filter(pk=job_id).update(heartbeat_at=timezone.now(), **progress)


def import_release(job_id: Any) -> None:
    """A run stopped by a transient error: back to the queue (its retry claims it again)."""
    ContactImport.objects.filter(pk=job_id, status=Status.RUNNING).update(status=Status.QUEUED, heartbeat_at=None)


def import_next(account_id: Any) -> Any:
    """After an account's import ends: queue its oldest waiting one, behind everyone else's. Returns its id."""
    next_id = (
        ContactImport.objects.filter(account_id=account_id, status=Status.QUEUED)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
        .first()
    )
    if next_id is not None:
        import_enqueue(next_id)
    return next_id


def imports_sweep() -> int:
    """Beat: take back runs whose worker died, and queue again, per account, the oldest import left waiting with
    none of that account running. Returns how many imports were queued."""
    now = timezone.now()
    uploads = ContactImport.objects.filter(source=ContactImport.Source.UPLOAD)  # a command's run is its own
    uploads.filter(status=Status.RUNNING, heartbeat_at__lte=now - STALE_AFTER).update(
        status=Status.QUEUED, heartbeat_at=None, enqueued_at=None
    )
    running = ContactImport.objects.filter(
        account_id=OuterRef("account_id"), status=Status.RUNNING, heartbeat_at__gt=now - STALE_AFTER
    )
    waiting = (
        uploads.filter(status=Status.QUEUED)
        .exclude(enqueued_at__gt=now - REQUEUE_AFTER)
        .exclude(Exists(running))
        .order_by("account_id", "created_at")
        .values_list("account_id", "pk")
    )
    first_per_account: dict[Any, Any] = {}
    for account_id, job_id in waiting:
        first_per_account.setdefault(account_id, job_id)
    for job_id in first_per_account.values():
        import_enqueue(job_id)
    return len(first_per_account)
