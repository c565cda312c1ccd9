"""Writes and business rules of the email pipeline (see each module)."""

from emails.services.accept import (
    BatchItemResult,
    DuplicateClientEmailId,
    email_accept,
    email_accept_batch,
)
from emails.services.bulk import BulkEmail, BulkSender, emails_enqueue_bulk, emails_withdraw
from emails.services.identities import connection_refresh_send_quota, identity_add, identity_refresh
from emails.services.lifecycle import (
    NotCancellable,
    email_bodies_prune,
    email_cancel,
    email_requeue,
    email_resend,
)
from emails.services.suppressions import blocked_domain_add, suppression_add, suppression_remove

__all__ = [
    "BatchItemResult",
    "BulkEmail",
    "BulkSender",
    "DuplicateClientEmailId",
    "NotCancellable",
    "blocked_domain_add",
    "connection_refresh_send_quota",
    "email_accept",
    "email_accept_batch",
    "email_bodies_prune",
    "email_cancel",
    "email_requeue",
    "email_resend",
    "emails_enqueue_bulk",
    "emails_withdraw",
    "identity_add",
    "identity_refresh",
    "suppression_add",
    "suppression_remove",
]
