"""Beat's doors into the engine. The sending itself runs in the engine threads of `-Q dispatch` workers."""

from celery import shared_task
from django.utils import timezone

from config.delivery import services


@shared_task(ignore_result=True)
def tick() -> None:
    services.delivery_tick(now=timezone.now())


@shared_task(ignore_result=True)
def sweep() -> None:
    services.delivery_sweep(now=timezone.now())
