"""Celery: Redis when REDIS_URL is set, otherwise kombu's filesystem transport under var/ (no server needed)."""

from config.env import env_bool, env_int, env_str
from config.settings.paths import VAR_DIR

REDIS_URL = env_str("REDIS_URL")
BROKER_SPOOL_DIR = VAR_DIR / "broker"

if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        # Priority steps make Redis honour task priority; dispatch ordering itself is decided in the database.
        "queue_order_strategy": "priority",
        "visibility_timeout": 3600,
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_SPOOL_DIR / "queue"),
        "data_folder_out": str(BROKER_SPOOL_DIR / "queue"),
        "processed_folder": str(BROKER_SPOOL_DIR / "processed"),
        "control_folder": str(BROKER_SPOOL_DIR / "control"),
        "store_processed": False,
    }

# Sending gets its own queue so event processing and imports never wait behind a send backlog.
CELERY_TASK_DEFAULT_QUEUE = "default"
SESAME_WORKER_QUEUES = "default,dispatch"
CELERY_TASK_ALWAYS_EAGER = env_bool("SESAME_CELERY_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CONCURRENCY = env_int("SESAME_WORKER_CONCURRENCY", 2)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# The one place periodic work is declared. django-celery-beat copies these entries into its tables at beat
# start-up, where operators can see and pause them in the admin.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
