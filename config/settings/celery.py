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

# Workers that consume the `dispatch` queue run the delivery engine (config/delivery): sending has its own
# processes, so event processing and imports never wait behind a send backlog, and the other way round.
# Long bulk jobs (CSV imports) have a queue of their own too, so they never hold the workers that process events;
# within it, each account runs one import at a time (contacts/csv_import/turns.py).
CELERY_TASK_DEFAULT_QUEUE = "default"
SESAME_DISPATCH_QUEUE = "dispatch"
SESAME_BULK_QUEUE = "bulk"
SESAME_WORKER_QUEUES = "default,dispatch,bulk"
CELERY_TASK_ROUTES = {
    "contacts.tasks.contact_import_run": {"queue": SESAME_BULK_QUEUE},
    "events.broadcasts.tasks.broadcast_start": {"queue": SESAME_BULK_QUEUE},
    "events.broadcasts.tasks.broadcast_feed": {"queue": SESAME_BULK_QUEUE},
}
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
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "delivery.tick": {"task": "config.delivery.tasks.tick", "schedule": 1.0, "options": {"expires": 5}},
    "delivery.sweep": {
        "task": "config.delivery.tasks.sweep",
        "schedule": float(env_int("SESAME_SWEEP_INTERVAL", 30)),
    },
    "emails.refresh-send-quotas": {"task": "emails.tasks.refresh_send_quotas", "schedule": 600.0},
    "emails.refresh-identities": {"task": "emails.tasks.refresh_identities", "schedule": 600.0},
    "emails.prune-bodies": {"task": "emails.tasks.prune_email_bodies", "schedule": 3600.0},
    "emails.forget-expired-signups": {"task": "emails.tasks.forget_expired_signups", "schedule": 3600.0},
    "emails.inbox-wake": {"task": "emails.tasks.conversations_wake", "schedule": 60.0},
    # events: finish stored SNS notifications, match early events, reputation ticks, outbound webhook retries
    "events.sweep-notifications": {"task": "events.tasks.notifications_sweep", "schedule": 60.0},
    "events.adopt-orphans": {"task": "events.tasks.orphan_events_adopt", "schedule": 60.0},
    "events.reputation-check": {"task": "events.tasks.reputation_check_all", "schedule": 60.0},
    # Cheap (one indexed query): wakes the webhook drain when backed-off endpoints fall due.
    "events.webhook-deliveries": {"task": "events.tasks.webhook_deliveries_sweep", "schedule": 5.0},
    # Dashboards: fold rollup increments (charts are at most this many seconds behind), drop old hourly rows
    "events.rollups-compact": {"task": "events.tasks.rollups_compact", "schedule": 5.0, "options": {"expires": 5}},
    "events.rollups-prune": {"task": "events.tasks.rollups_prune", "schedule": 3600.0},
    # sms: delivery status from CloudWatch Logs, SNS opt-outs, sandbox status, OTP fraud ratios and expiry
    "sms.ingest-delivery-status": {"task": "sms.tasks.delivery_status_ingest_all", "schedule": 30.0},
    "sms.sync-opt-outs": {"task": "sms.tasks.opt_outs_sync_all", "schedule": 3600.0},
    "sms.refresh-sandbox-status": {"task": "sms.tasks.sandbox_status_refresh_all", "schedule": 600.0},
    "sms.otp-housekeeping": {"task": "sms.tasks.otp_housekeeping", "schedule": 60.0},
    # billing: close ended periods (invoices, next period); send usage alerts (owner email + webhook event)
    "billing.close-periods": {"task": "billing.tasks.close_billing_periods", "schedule": 300.0},
    "events.billing-alerts": {"task": "events.tasks.billing_alerts_send", "schedule": 15.0},
    "contacts.imports-sweep": {"task": "contacts.tasks.contact_imports_sweep", "schedule": 60.0},
    # automations: take due runs through their steps (waits end here), and look for contacts entering segments
    "automations.release": {"task": "events.tasks.automation_runs_release", "schedule": 1.0, "options": {"expires": 5}},
    "automations.segments": {"task": "events.tasks.automation_segments_check", "schedule": 60.0},
    # broadcasts: start those due, keep those sending fed (Postgres decides; a lost task costs one tick)
    "events.broadcasts-tick": {
        "task": "events.broadcasts.tasks.broadcasts_tick",
        "schedule": 2.0,
        "options": {"expires": 2},
    },
    # push: restart segment fan-outs whose task was lost
    "push.fanouts-sweep": {"task": "push.tasks.fanouts_sweep", "schedule": 60.0},
}

# The delivery engine, per worker process: sender threads (they overlap the provider's latency), the most messages
# one claim may take, and a guard (ms) added to each send bucket's one-second window for the time between a
# message's stamp and the provider receiving the call. Then: how long a claimed message may stay `sending` before the
# sweeper assumes its worker died, the attempt cap, and how long a spent daily quota holds a connection.
SESAME_ENGINE_SENDERS = env_int("SESAME_ENGINE_SENDERS", 16)
SESAME_ENGINE_MAX_BATCH = env_int("SESAME_ENGINE_MAX_BATCH", 32)
SESAME_RATE_GUARD_MS = env_int("SESAME_RATE_GUARD_MS", 10)
SESAME_SENDING_STALE_AFTER = env_int("SESAME_SENDING_STALE_AFTER", 300)
SESAME_MAX_SEND_ATTEMPTS = env_int("SESAME_MAX_SEND_ATTEMPTS", 10)
SESAME_QUOTA_HOLD_SECONDS = env_int("SESAME_QUOTA_HOLD_SECONDS", 900)
# Automations: tries of a step that raised (10 s, 20 s, 40 s ... apart) before its run fails.
SESAME_AUTOMATION_MAX_ATTEMPTS = env_int("SESAME_AUTOMATION_MAX_ATTEMPTS", 5)
