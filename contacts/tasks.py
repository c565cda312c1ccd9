from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from contacts.csv_import.jobs import run_import
from contacts.models import ContactImport


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=5, max_retries=3)
def contact_import_run(self: object, import_id: str) -> str:
    """Run an admin-uploaded import. Re-delivery after a worker crash simply runs it again: imports are
    idempotent."""
    job = ContactImport.objects.filter(pk=import_id).first()
    if job is None or job.status in (ContactImport.Status.DONE, ContactImport.Status.FAILED):
        return "skipped"
    try:
        return run_import(job).status
    except OperationalError:
        raise
    except Exception as exc:
        ContactImport.objects.filter(pk=import_id).update(
            status=ContactImport.Status.FAILED,
            failure=f"The import stopped: {type(exc).__name__}: {exc}",
            finished_at=timezone.now(),
        )
        raise
