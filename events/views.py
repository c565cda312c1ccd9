"""POST /webhooks/sns/<connection-uuid>: where the connection's SNS topic delivers SES events.

The request does only what must happen before answering: verify the envelope and insert it. Everything else
runs in a task, so SNS gets its answer in milliseconds. Every refusal answers 4xx with the reason, stores
nothing, and is logged with the reason and the source address (never the message itself).
"""

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from accounts.models import AwsConnection
from config.api.clients import client_ip
from events import services, sns
from events.models import SnsNotification

logger = logging.getLogger("sesame.events.webhook")


@dataclass(frozen=True)
class _Known:
    account_id: Any
    topic_arn: str
    expires: float


# Connection id -> what the webhook needs, for a minute: saves a query on every POST at hundreds per second.
_known: dict[uuid.UUID, _Known] = {}
_KNOWN_SECONDS = 60.0
_KNOWN_MAX = 10_000


def _connection(pk: uuid.UUID, *, fresh: bool = False) -> _Known | None:
    now = time.monotonic()
    hit = _known.get(pk)
    if hit is not None and hit.expires > now and not fresh:
        return hit
    row = AwsConnection.objects.filter(pk=pk).values_list("account_id", "sns_topic_arn").first()
    if row is None:
        _known.pop(pk, None)
        return None
    if len(_known) >= _KNOWN_MAX:
        _known.clear()
    _known[pk] = _Known(account_id=row[0], topic_arn=row[1], expires=now + _KNOWN_SECONDS)
    return _known[pk]


def _source(request: HttpRequest) -> str:
    remote = str(request.META.get("REMOTE_ADDR", ""))
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))[:200]
    return f"{remote} (forwarded for {forwarded})" if forwarded else remote



def _refuse(request: HttpRequest, connection_id: str, reason: str, status: int) -> JsonResponse:
    logger.warning(
        "SNS webhook refused status=%s connection=%s source=%s reason=%s",
        status,
        connection_id[:64],
        _source(request),
        reason,
    )
    return JsonResponse({"detail": reason}, status=status)


@csrf_exempt
def sns_webhook(request: HttpRequest, connection_id: str) -> JsonResponse:
    if request.method != "POST":
        response = _refuse(request, connection_id, "Only POST is accepted here.", 405)
        response["Allow"] = "POST"
        return response
    try:
        connection_uuid = uuid.UUID(connection_id)
    except ValueError:
        return _refuse(request, connection_id, "Not a connection id.", 404)
    known = _connection(connection_uuid)
    if known is None:
        return _refuse(request, connection_id, "No such connection.", 404)
    length = str(request.META.get("CONTENT_LENGTH") or "0")
    if not length.isdigit() or int(length) > settings.SESAME_SNS_MAX_BODY_BYTES:
        return _refuse(request, connection_id, "Body is larger than any SNS message.", 413)
    body = request.body
    try:
        envelope = sns.parse(body, header_type=request.META.get("HTTP_X_AMZ_SNS_MESSAGE_TYPE"))
        for header, field in (
            ("x-amz-sns-message-id", envelope.message_id),
            ("x-amz-sns-topic-arn", envelope.topic_arn),
        ):
            sent = request.META.get("HTTP_" + header.upper().replace("-", "_"))
            if sent is not None and sent != field:
                raise sns.Refused(f"{header} header does not match the body.", 400)
        if envelope.topic_arn != known.topic_arn:  # maybe re-provisioned since it was cached: ask the database
            known = _connection(connection_uuid, fresh=True) or known
        sns.verify(envelope, expected_topic_arn=known.topic_arn)
    except sns.Refused as exc:
        return _refuse(request, connection_id, exc.reason, exc.status)
    except sns.CertificateUnavailable as exc:
        # Not the sender's fault: answer 5xx so SNS retries, and the failure is not cached for long.
        logger.error("SNS certificate unavailable connection=%s source=%s: %s", connection_id, _source(request), exc)
        return JsonResponse({"detail": "The SNS signing certificate could not be fetched; retry later."}, status=503)
    try:
        stored = services.notification_store(
            connection_id=connection_uuid,
            account_id=known.account_id,
            message_id=envelope.message_id,
            message_type=envelope.type,
            topic_arn=envelope.topic_arn,
            body=body.decode(),
            sns_timestamp=envelope.timestamp,
            origin=SnsNotification.Origin.SNS,
            received_at=timezone.now(),
            source_ip=client_ip(request),
        )
    except IntegrityError:  # the connection was deleted since it was cached
        _known.pop(connection_uuid, None)
        return _refuse(request, connection_id, "No such connection.", 404)
    if stored is None:
        # A replay, or SNS retrying what was already recorded: SNS does not retry a 4xx, and nothing is lost.
        logger.info(
            "SNS webhook duplicate connection=%s message=%s source=%s",
            connection_id,
            envelope.message_id,
            _source(request),
        )
        return JsonResponse({"detail": "Already received: this MessageId is recorded once."}, status=409)
    return JsonResponse({"detail": "Recorded.", "id": stored})
