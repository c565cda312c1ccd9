"""Playback for the local SES simulator: the events SES's mailbox simulator would publish for one sent message."""

import uuid

from django.utils import timezone

from emails.models import SimulatedMessage
from emails.simulator import mailbox_events
from events.services.notifications import ses_notification_receive


def simulator_play_events(*, message_id: str) -> int:
    """Feed this simulated message's SES events through the same ingestion path as SNS notifications.

    Returns how many events were fed: 0 when the message is unknown (its email was deleted, say)."""
    sent = SimulatedMessage.objects.select_related("connection").filter(message_id=message_id).first()
    if sent is None:
        return 0
    payloads = mailbox_events(sent, sent.connection, now=timezone.now())
    for payload in payloads:
        ses_notification_receive(
            connection=sent.connection,
            message=payload,
            sns_message_id=f"sim-{uuid.uuid4()}",
            topic_arn=sent.connection.sns_topic_arn,
        )
    return len(payloads)
