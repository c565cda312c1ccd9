"""Writes and business rules of the events app. Import from here; the submodules are the implementation."""

from events.services.billing_alerts import billing_alerts_send
from events.services.health import connection_health
from events.services.notifications import (
    batches_room,
    drain_release,
    notification_process,
    notification_record_failure,
    notification_replay,
    notification_retry,
    notification_store,
    notifications_batch_done,
    notifications_claim,
    notifications_dispatch,
    notifications_sweep,
    notifications_unclaim,
    ses_notification_receive,
)
from events.services.outbound import (
    webhook_deliveries_create,
    webhook_deliveries_trim,
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
from events.services.rollups import rollups_compact, rollups_prune, rollups_rebuild
from events.services.simulator import simulator_play_events
from events.services.timeline import (
    email_events_adopt,
    email_outcomes_refresh,
    orphan_events_adopt,
    ses_event_record,
)
from events.services.webhook_drain import (
    endpoint_backoff,
    webhook_attempt_record,
    webhook_deliver,
    webhook_deliveries_claim,
    webhook_deliveries_drain,
    webhook_deliveries_sweep,
    webhook_delivery_redeliver,
    webhook_delivery_retry,
    webhook_drain_handover,
    webhook_drain_nudge,
)

__all__ = [
    "batches_room",
    "billing_alerts_send",
    "connection_health",
    "connection_provision",
    "connections_to_check",
    "drain_release",
    "email_events_adopt",
    "email_outcomes_refresh",
    "endpoint_backoff",
    "notification_process",
    "notification_record_failure",
    "notification_replay",
    "notification_retry",
    "notification_store",
    "notifications_batch_done",
    "notifications_claim",
    "notifications_dispatch",
    "notifications_sweep",
    "notifications_unclaim",
    "orphan_events_adopt",
    "reputation_alarm",
    "reputation_check",
    "reputation_pause",
    "reputation_resume",
    "rollups_compact",
    "rollups_prune",
    "rollups_rebuild",
    "ses_event_record",
    "ses_notification_receive",
    "simulator_play_events",
    "webhook_attempt_record",
    "webhook_deliver",
    "webhook_deliveries_claim",
    "webhook_deliveries_create",
    "webhook_deliveries_drain",
    "webhook_deliveries_sweep",
    "webhook_deliveries_trim",
    "webhook_delivery_redeliver",
    "webhook_delivery_retry",
    "webhook_drain_handover",
    "webhook_drain_nudge",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_endpoint_rotate_secret",
    "webhook_endpoint_update",
]
