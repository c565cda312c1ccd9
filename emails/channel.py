"""Email as a channel of the delivery engine: the outbox is `Email`, the transport is SES (or the simulator), and a
message costs one rate unit per recipient, as SES counts its max send rate."""

import re
from datetime import datetime
from typing import Any

from accounts.models import AwsConnection
from config.delivery.channels import Channel, LaneState
from emails.addresses import parse_address
from emails.mime import build_mime
from emails.models import Email, EmailEvent
from emails.transport import OutgoingMessage, transport

_TAG_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def ses_tags(tags: list[str]) -> dict[str, str]:
    """SES message tags allow only letters, digits, '_' and '-' (at most 256 characters)."""
    return {_TAG_CHARS.sub("_", tag)[:256]: "true" for tag in tags}


def destinations(email: Email) -> list[str]:
    """The envelope recipients: to, cc and bcc, less those dropped at accept time."""
    dropped = {item["address"].lower() for item in email.dropped_recipients}
    addresses = [parse_address(value).email for value in email.recipients]
    return [address for address in addresses if address.lower() not in dropped]


class EmailChannel(Channel):
    name = "email"
    model = Email
    provider_id_column = "ses_message_id"
    timeline_model = EmailEvent
    timeline_message_field = "email_id"
    quota_at_accept = True

    def lane_state(self, connection: AwsConnection) -> LaneState:
        return LaneState(rate=connection.effective_send_rate, held_until=connection.sending_held_until)

    def prepare(self, connection: AwsConnection, message: Any) -> OutgoingMessage:
        return OutgoingMessage(
            source=parse_address(message.from_address).email,
            destinations=destinations(message),
            raw=build_mime(message),
            # Set by provisioning; until then SES has no configuration set of ours to publish events through.
            configuration_set=connection.configuration_set_name,
            tags=ses_tags(message.tags),
            email_id=str(message.pk),
            sealed=message.sealed,
        )

    def deliver(self, connection: AwsConnection, message: Any, prepared: OutgoingMessage) -> str:
        return transport().send_raw(connection, prepared)

    def hold(self, connection: AwsConnection, until: datetime) -> None:
        AwsConnection.objects.filter(pk=connection.pk).update(sending_held_until=until)


email_channel = EmailChannel()
