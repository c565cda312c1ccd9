"""Writes and business rules of the events app. Import from here; the submodules are the implementation."""

from events.services.notifications import (
    drain_release,
    notification_process,
    notification_record_failure,
    notification_retry,
    notification_store,
    notifications_claim,
    notifications_dispatch,
    notifications_sweep,
    ses_notification_receive,
)
from events.services.outbound import (
    webhook_deliver,
    webhook_deliveries_create,
    webhook_deliveries_due,
    webhook_delivery_retry,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
)
from events.services.provisioning import connection_provision
from events.services.reputation import (
    connections_to_check,
    reputation_alarm,
    reputation_check,
    reputation_pause,
    reputation_resume,
)
from events.services.simulator import simulator_play_events
from events.services.timeline import (
    email_events_adopt,
    email_outcomes_refresh,
    orphan_events_adopt,
    ses_event_record,
)

__all__ = [
    "connection_provision",
    "connections_to_check",
    "drain_release",
    "email_events_adopt",
    "email_outcomes_refresh",
    "notification_process",
    "notification_record_failure",
    "notification_retry",
    "notification_store",
    "notifications_claim",
    "notifications_dispatch",
    "notifications_sweep",
    "orphan_events_adopt",
    "reputation_alarm",
    "reputation_check",
    "reputation_pause",
    "reputation_resume",
    "ses_event_record",
    "ses_notification_receive",
    "simulator_play_events",
    "webhook_deliver",
    "webhook_deliveries_create",
    "webhook_deliveries_due",
    "webhook_delivery_retry",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_endpoint_rotate_secret",
    "webhook_endpoint_update",
]
