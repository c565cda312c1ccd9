"""The Celery app. Tasks live in each app's tasks.py; the beat schedule lives in config/settings/celery.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("sesame")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["config.delivery"])
app.autodiscover_tasks(["events.broadcasts"])

import config.delivery.worker  # noqa: E402, F401  (starts the delivery engine in `-Q dispatch` workers)
