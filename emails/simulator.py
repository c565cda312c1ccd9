"""The local SES simulator (SESAME_AWS_MODE=simulator): same interface as the SES transport, no AWS needed.

It keeps every sent MIME message (SimulatedMessage, viewable in the admin) and builds the events SES's mailbox
simulator would publish: success@, bounce@, complaint@, ooto@ and suppressionlist@simulator.amazonses.com behave as
they do at SES; any other recipient is delivered. The events app plays them back a moment after the send, through the
same ingestion code as SNS notifications (events/services/simulator.py). It sits above emails, so it is reached by
Celery task name and never imported from here.
"""

import secrets
import uuid
from datetime import datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import AwsConnection
from emails.models import SimulatedMessage
from emails.transport import OutgoingMessage, SendQuota

SIMULATOR_DOMAIN = "simulator.amazonses.com"
EVENT_DELAY_SECONDS = 1.0
PLAYBACK_TASK = "events.tasks.simulate_mailbox_events"


def _headers_only(raw: bytes) -> bytes:
    """A sealed message as the simulator keeps it: its headers, and a note where the passcode was."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    return head + b"\r\n\r\n(sealed: this message carried a one-time passcode, which Sesame does not keep)\r\n"


class SimulatorTransport:
    def send_raw(self, connection: AwsConnection, message: OutgoingMessage) -> str:
        message_id = f"{secrets.token_hex(8)}-{uuid.uuid4()}-000000"
        with transaction.atomic():
            SimulatedMessage.objects.create(
                message_id=message_id,
                email_id=message.email_id,
                connection=connection,
                destinations=message.destinations,
                raw=_headers_only(message.raw) if message.sealed else message.raw,
            )
            transaction.on_commit(lambda: _schedule_events(message_id))
        return message_id

    def send_quota(self, connection: AwsConnection) -> SendQuota:
        since = timezone.now() - timedelta(hours=24)
        sent = SimulatedMessage.objects.filter(connection=connection, created_at__gte=since).count()
        return SendQuota(
            max_send_rate=settings.SESAME_SIMULATOR_SEND_RATE, max_24_hour_send=50_000.0, sent_last_24_hours=float(sent)
        )

    def identity_create(self, connection: AwsConnection, name: str, *, is_domain: bool) -> list[str]:
        return [secrets.token_hex(16) for _ in range(3)] if is_domain else []

    def identity_statuses(self, connection: AwsConnection, names: list[str]) -> dict[str, str]:
        return dict.fromkeys(names, "Success")  # the simulator verifies at once


def _schedule_events(message_id: str) -> None:
    current_app.send_task(PLAYBACK_TASK, args=(message_id,), countdown=EVENT_DELAY_SECONDS)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _mail_object(sent: SimulatedMessage, connection: AwsConnection) -> dict[str, Any]:
    parsed = message_from_bytes(bytes(sent.raw), policy=default_policy)
    headers = [{"name": name, "value": str(value)} for name, value in parsed.items()]
    return {
        "timestamp": _iso(sent.created_at),
        "source": str(parsed.get("From", "")),
        "sendingAccountId": "000000000000",
        "messageId": sent.message_id,
        "destination": list(sent.destinations),
        "headersTruncated": False,
        "headers": headers,
        "commonHeaders": {
            "from": [str(parsed.get("From", ""))],
            "to": [str(parsed.get("To", ""))],
            "messageId": sent.message_id,
            "subject": str(parsed.get("Subject", "")),
        },
        "tags": {"ses:configuration-set": [connection.configuration_set]},
    }


def mailbox_events(sent: SimulatedMessage, connection: AwsConnection, *, now: datetime) -> list[dict[str, Any]]:
    """The SES event-publishing payloads SES's mailbox simulator would produce for this message."""
    mail = _mail_object(sent, connection)
    stamp = _iso(now)
    feedback = f"{secrets.token_hex(8)}-{uuid.uuid4()}-000000"
    events: list[dict[str, Any]] = [{"eventType": "Send", "mail": mail, "send": {}}]
    for recipient in sent.destinations:
        local, _, domain = recipient.lower().partition("@")
        box = local.split("+", 1)[0] if domain == SIMULATOR_DOMAIN else "success"
        if box in {"bounce", "suppressionlist"}:
            sub_type = "OnAccountSuppressionList" if box == "suppressionlist" else "General"
            diagnostic = (
                "Amazon SES did not send the message to this address because it is on the suppression list"
                if box == "suppressionlist"
                else "smtp; 550 5.1.1 user unknown"
            )
            events.append(
                {
                    "eventType": "Bounce",
                    "mail": mail,
                    "bounce": {
                        "bounceType": "Permanent",
                        "bounceSubType": sub_type,
                        "bouncedRecipients": [
                            {
                                "emailAddress": recipient,
                                "action": "failed",
                                "status": "5.1.1",
                                "diagnosticCode": diagnostic,
                            }
                        ],
                        "timestamp": stamp,
                        "feedbackId": feedback,
                        "reportingMTA": "dsn; simulator.amazonses.com",
                    },
                }
            )
            continue
        events.append(
            {
                "eventType": "Delivery",
                "mail": mail,
                "delivery": {
                    "timestamp": stamp,
                    "processingTimeMillis": 850,
                    "recipients": [recipient],
                    "smtpResponse": "250 2.6.0 Message received",
                    "reportingMTA": "simulator.amazonses.com",
                },
            }
        )
        if box == "complaint":
            events.append(
                {
                    "eventType": "Complaint",
                    "mail": mail,
                    "complaint": {
                        "complainedRecipients": [{"emailAddress": recipient}],
                        "timestamp": stamp,
                        "feedbackId": feedback,
                        "complaintFeedbackType": "abuse",
                        "arrivalDate": stamp,
                    },
                }
            )
    return events
