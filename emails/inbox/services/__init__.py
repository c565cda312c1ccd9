"""Writes and business rules of the team inbox (see each module)."""

from emails.inbox.services.conversations import (
    conversation_note_add,
    conversation_update,
    conversations_wake,
)
from emails.inbox.services.inbound import Received, inbound_receive, is_inbound_notification
from emails.inbox.services.provisioning import inbound_domain_provision
from emails.inbox.services.replies import conversation_acknowledge, conversation_reply

__all__ = [
    "Received",
    "conversation_acknowledge",
    "conversation_note_add",
    "conversation_reply",
    "conversation_update",
    "conversations_wake",
    "inbound_domain_provision",
    "inbound_receive",
    "is_inbound_notification",
]
