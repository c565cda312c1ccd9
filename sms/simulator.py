"""The local SMS simulator (SESAME_AWS_MODE=simulator): the SNS transport's interface, no AWS needed.

It keeps every text it 'delivers' (SimulatedSms, in the admin, a passcode masked) and, a moment later, reports the
outcome as the delivery-status record SNS would write to CloudWatch Logs, fed through the same ingestion code
(sms/services/delivery_status.py). The numbers below have a fixed outcome (documented in the README); any other
number is delivered.
"""

import secrets
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction

from accounts.models import AwsConnection
from sms.models import SimulatedSms
from sms.transport import LogPage, OutgoingSms

DELIVERED_NUMBER = "+14254147755"
FAILED_NUMBER = "+14254147167"
OPTED_OUT_NUMBER = "+14254147156"
FAILED_REASON = "Phone carrier has blocked this message"
OPTED_OUT_REASON = "Phone number is opted out"
DELIVERED_REASON = "Message has been accepted by phone carrier"
PRICE_PER_SEGMENT_USD = Decimal("0.00645")
SANDBOX_CODE = "123456"
REPORT_TASK = "sms.tasks.simulator_report"


class SimulatorSmsTransport:
    def publish(self, connection: AwsConnection, message: OutgoingSms) -> str:
        message_id = str(uuid.uuid4())
        with transaction.atomic():
            SimulatedSms.objects.create(
                message_id=message_id,
                sms_id=message.sms_id,
                connection=connection,
                phone_number=message.phone_number,
                text=message.shown_text,
                attributes=message.attributes,
            )
            transaction.on_commit(lambda: _schedule_report(message_id))
        return message_id

    def opted_out(self, connection: AwsConnection, phone_number: str) -> bool:
        return False  # the simulator reports opt-outs through delivery status, as SNS does for a fresh opt-out

    def opted_out_numbers(self, connection: AwsConnection) -> list[str]:
        return []

    def in_sandbox(self, connection: AwsConnection) -> bool:
        return False

    def sandbox_number_add(self, connection: AwsConnection, phone_number: str) -> None:
        return None

    def sandbox_number_verify(self, connection: AwsConnection, phone_number: str, code: str) -> None:
        from config.delivery.errors import FailureKind, TransportError

        if code != SANDBOX_CODE:
            raise TransportError(
                FailureKind.PERMANENT, f"VerificationException: the simulator's code is {SANDBOX_CODE}"
            )

    def aws_account_id(self, connection: AwsConnection) -> str:
        return "000000000000"

    def delivery_status_provision(self, connection: AwsConnection, role_arn: str) -> None:
        return None

    def delivery_log_page(
        self, connection: AwsConnection, group: str, *, start_ms: int, next_token: str | None
    ) -> LogPage:
        return LogPage([], None)  # reports arrive by task (simulator_report), not by reading logs


def _schedule_report(message_id: str) -> None:
    current_app.send_task(REPORT_TASK, args=(message_id,), countdown=settings.SESAME_SIMULATOR_SMS_STATUS_DELAY)


def delivery_record(sent: SimulatedSms, *, segments: int, now: datetime) -> dict[str, Any]:
    """The delivery-status record SNS would log for this text (its CloudWatch Logs message)."""
    outcome = {FAILED_NUMBER: FAILED_REASON, OPTED_OUT_NUMBER: OPTED_OUT_REASON}.get(sent.phone_number)
    return {
        "notification": {"messageId": sent.message_id, "timestamp": now.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]},
        "delivery": {
            "phoneCarrier": "Simulated Carrier",
            "mnc": 260,
            "mcc": 310,
            "numberOfMessageParts": segments,
            "destination": sent.phone_number,
            "priceInUSD": float(PRICE_PER_SEGMENT_USD * segments),
            "smsType": sent.attributes.get("AWS.SNS.SMS.SMSType", "Transactional"),
            "providerResponse": outcome or DELIVERED_REASON,
            "dwellTimeMs": 420 + secrets.randbelow(200),
            "dwellTimeMsUntilDeviceAck": 1100 + secrets.randbelow(500),
        },
        "status": "FAILURE" if outcome else "SUCCESS",
    }
