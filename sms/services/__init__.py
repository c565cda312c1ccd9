"""Writes and business rules of SMS and one-time passcodes (see each module)."""

from sms.services.accept import (
    BatchItemResult,
    DuplicateClientSmsId,
    sms_accept,
    sms_accept_batch,
    sms_store,
    sms_store_drafts,
    sms_withdraw,
)
from sms.services.delivery_status import (
    delivery_event_ingest,
    delivery_orphans_adopt,
    delivery_status_ingest,
    delivery_status_provision,
)
from sms.services.lifecycle import NotCancellable, sealed_bodies_wipe, sms_cancel
from sms.services.optouts import opt_outs_sync, sms_opt_out_add, sms_opt_out_remove
from sms.services.otp import (
    OtpAlreadyUsed,
    OtpRefused,
    otp_check,
    otp_create,
    otp_email_bodies_prune,
    otp_expire,
    otp_ratio_check,
)
from sms.services.policy import sms_policy_for, sms_policy_update, sms_state_for
from sms.services.sandbox import sandbox_number_add, sandbox_number_verify, sandbox_status_refresh

__all__ = [
    "BatchItemResult",
    "DuplicateClientSmsId",
    "NotCancellable",
    "OtpAlreadyUsed",
    "OtpRefused",
    "delivery_event_ingest",
    "delivery_orphans_adopt",
    "delivery_status_ingest",
    "delivery_status_provision",
    "opt_outs_sync",
    "otp_check",
    "otp_create",
    "otp_email_bodies_prune",
    "otp_expire",
    "otp_ratio_check",
    "sandbox_number_add",
    "sandbox_number_verify",
    "sandbox_status_refresh",
    "sealed_bodies_wipe",
    "sms_accept",
    "sms_accept_batch",
    "sms_cancel",
    "sms_opt_out_add",
    "sms_opt_out_remove",
    "sms_policy_for",
    "sms_policy_update",
    "sms_state_for",
    "sms_store",
    "sms_store_drafts",
    "sms_withdraw",
]
