"""SMS as a channel of the delivery engine: the outbox is `SmsMessage`, the transport is SNS (or the simulator),
the rate is the connection's SMS TPS (one unit per Publish), and policy is checked right before each Publish: the
month's spend and the number's opt-out (SNS's CheckIfPhoneNumberIsOptedOut). A message they stop never reaches SNS."""

import time
import uuid
from datetime import datetime
from typing import Any

from django.utils import timezone

from accounts.models import AwsConnection
from config.delivery.channels import Channel, LaneState
from config.delivery.errors import MessageDropped
from config.delivery.outbox import OutboxStatus
from sms.models import SmsConnectionState, SmsEvent, SmsMessage
from sms.services.optouts import opted_out_reason
from sms.services.policy import sms_policy_for, sms_rate, spend_limit_problem
from sms.transport import OutgoingSms, transport

_STATE_TTL = 1.0  # seconds a connection's SMS rate and hold may be stale in one process


def sns_attributes(message: SmsMessage) -> dict[str, str]:
    """Per-message SMS attributes (never SetSMSAttributes per send, which would change the whole account)."""
    attributes = {"AWS.SNS.SMS.SMSType": message.get_sms_type_display()}
    if message.sender_id:
        attributes["AWS.SNS.SMS.SenderID"] = message.sender_id
    if message.origination_number:
        attributes["AWS.MM.SMS.OriginationNumber"] = message.origination_number
    if message.max_price is not None:
        attributes["AWS.SNS.SMS.MaxPrice"] = format(message.max_price.normalize(), "f")
    return attributes


class SmsChannel(Channel):
    name = "sms"
    model = SmsMessage
    provider_id_column = "sns_message_id"
    timeline_model = SmsEvent

    def __init__(self) -> None:
        self._states: dict[uuid.UUID, tuple[LaneState, float]] = {}

    def lane_state(self, connection: AwsConnection) -> LaneState:
        cached = self._states.get(connection.pk)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        state = SmsConnectionState.objects.filter(connection=connection).first()
        lane = LaneState(rate=sms_rate(state), held_until=state.held_until if state else None)
        self._states[connection.pk] = (lane, time.monotonic() + _STATE_TTL)
        return lane

    def prepare(self, connection: AwsConnection, message: Any) -> OutgoingSms:
        problem = spend_limit_problem(policy=sms_policy_for(account=connection.account), now=timezone.now())
        if problem:
            raise MessageDropped(f"not sent: {problem}", status=OutboxStatus.FAILED)
        opted_out = opted_out_reason(connection=connection, account_id=message.account_id, phone_number=message.to)
        if opted_out:
            raise MessageDropped(f"not sent: {opted_out}")
        return OutgoingSms(
            sms_id=str(message.pk),
            phone_number=message.to,
            text=message.sealed_body or message.body,
            shown_text=message.body,
            attributes=sns_attributes(message),
        )

    def deliver(self, connection: AwsConnection, message: Any, prepared: OutgoingSms) -> str:
        message_id = transport().publish(connection, prepared)
        if message.sealed_body:  # a passcode left: its text is not kept a moment longer than needed
            SmsMessage.objects.filter(pk=message.pk).update(sealed_body="")
        return message_id

    def hold(self, connection: AwsConnection, until: datetime) -> None:
        SmsConnectionState.objects.update_or_create(connection=connection, defaults={"held_until": until})
        self._states.pop(connection.pk, None)


sms_channel = SmsChannel()
