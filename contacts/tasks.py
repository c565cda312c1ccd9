from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from contacts.csv_import import turns
from contacts.csv_import.jobs import run_import
from contacts.models import ContactImport


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=5, max_retries=3)
def contact_import_run(self: object, import_id: str) -> str:
    """Run an admin-uploaded import when it is its account's turn (see contacts.csv_import.turns). Re-delivery
    after a worker crash simply runs it again: imports are idempotent."""
    job = turns.import_claim(import_id)
    if job is None:
        return "waiting"  # not queued, or another import of the account runs: that one queues this after it
    try:
        return run_import(job).status
    except OperationalError:
        turns.import_release(job.pk)
        raise
    except Exception as exc:
        ContactImport.objects.filter(pk=import_id).update(
            status=ContactImport.Status.FAILED,
            failure=f"The import stopped: {type(exc).__name__}: {exc}",
            finished_at=timezone.now(),
        )
        raise
    finally:
        turns.import_next(job.account_id)


@shared_task
def contact_imports_sweep() -> int:
    """Beat: re-queue imports whose task was lost or whose worker died."""
    return turns.imports_sweep()
