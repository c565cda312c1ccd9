"""Celery tasks of billing: thin doors to its services."""

from celery import shared_task

from billing import services


@shared_task
def close_billing_periods() -> int:
    """Beat: close every ended period (issue its invoice, open the next); safe to run twice or on several hosts."""
    return len(services.periods_close_due())
