"""Writes and business rules of mobile push (see each module)."""

from push.services.apps import (
    AppCredentials,
    apns_credentials,
    fcm_credentials,
    push_app_adopt,
    push_app_create,
    push_app_pause,
    push_app_resume,
)
from push.services.bulk import BulkPush, BulkPushSender, pushes_enqueue_bulk, pushes_withdraw
from push.services.devices import Registration, push_device_delete, push_device_register
from push.services.platform_events import is_platform_event, push_platform_event
from push.services.sending import (
    DuplicateClientPushId,
    NotCancellable,
    PushDraft,
    push_accept,
    push_cancel,
    push_fanout_step,
    push_fanouts_stalled,
)

__all__ = [
    "AppCredentials",
    "BulkPush",
    "BulkPushSender",
    "DuplicateClientPushId",
    "NotCancellable",
    "PushDraft",
    "Registration",
    "apns_credentials",
    "fcm_credentials",
    "is_platform_event",
    "push_accept",
    "push_app_adopt",
    "push_app_create",
    "push_app_pause",
    "push_app_resume",
    "push_cancel",
    "push_device_delete",
    "push_device_register",
    "push_fanout_step",
    "push_fanouts_stalled",
    "push_platform_event",
    "pushes_enqueue_bulk",
    "pushes_withdraw",
]
