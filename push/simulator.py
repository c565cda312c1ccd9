"""The local push simulator (SESAME_AWS_MODE=simulator): the SNS push transport's interface, no AWS needed.

Platform applications and endpoints live in the SimulatedEndpoint table with fake ARNs; every publish is kept as a
SimulatedPush (viewable in the admin) with the exact SNS message. A device token decides what publishing does:

- a token starting with `sim-disabled` answers `EndpointDisabled`, as SNS does once APNs or FCM reported the token
  dead: the device is disabled;
- a token starting with `sim-failed` is refused by the platform (`InvalidParameter`): the delivery fails, the device
  stays enabled;
- any other token is delivered.
"""

import uuid

from django.db import transaction

from accounts.models import AwsConnection
from config.delivery.errors import FailureKind, TransportError
from push.models import SimulatedEndpoint, SimulatedPush, token_hash
from push.transport import APP_DISABLED, ENDPOINT_DISABLED, ENDPOINT_NOT_FOUND, EndpointState, OutgoingPush

DELIVERED = "delivered"
DISABLED = "disabled"
FAILED = "failed"


def outcome_for(token: str) -> str:
    if token.startswith("sim-disabled"):
        return DISABLED
    if token.startswith("sim-failed"):
        return FAILED
    return DELIVERED


def _not_found(what: str) -> TransportError:
    return TransportError(FailureKind.PERMANENT, f"{ENDPOINT_NOT_FOUND}: {what} does not exist")


class SimulatorPushTransport:
    def app_create(self, connection: AwsConnection, *, name: str, platform: str, attributes: dict[str, str]) -> str:
        # Each connection plays its own AWS account, so two accounts' apps of the same name never share an ARN.
        return f"arn:aws:sns:{connection.region}:{connection.pk.int % 10**12:012d}:app/{platform}/{name}"

    def app_attributes(self, connection: AwsConnection, arn: str) -> dict[str, str]:
        if ":app/" not in arn:
            raise _not_found("PlatformApplication")
        return {"Enabled": "true"}

    def app_attributes_set(self, connection: AwsConnection, arn: str, attributes: dict[str, str]) -> None:
        return None

    def endpoint_create(self, connection: AwsConnection, *, app_arn: str, token: str, user_data: str) -> str:
        digest = token_hash(token)
        existing = SimulatedEndpoint.objects.filter(application_arn=app_arn, token_hash=digest).first()
        if existing is not None:
            if existing.custom_user_data != user_data:
                raise TransportError(
                    FailureKind.PERMANENT,
                    f"InvalidParameter: Invalid parameter: Token Reason: Endpoint {existing.arn} already exists with "
                    "the same Token, but different attributes.",
                )
            return existing.arn
        platform, name = app_arn.split(":app/", 1)[1].split("/", 1)
        arn = f"{app_arn.split(':app/')[0]}:endpoint/{platform}/{name}/{uuid.uuid4()}"
        SimulatedEndpoint.objects.create(
            arn=arn,
            application_arn=app_arn,
            token_hash=digest,
            token=token,
            custom_user_data=user_data,
            outcome=outcome_for(token),
        )
        return arn

    def endpoint_get(self, connection: AwsConnection, arn: str) -> EndpointState | None:
        endpoint = SimulatedEndpoint.objects.filter(arn=arn).first()
        if endpoint is None:
            return None
        return EndpointState(token=endpoint.token, enabled=endpoint.enabled and endpoint.outcome != DISABLED)

    def endpoint_set(
        self, connection: AwsConnection, arn: str, *, token: str | None = None, enabled: bool | None = None
    ) -> None:
        with transaction.atomic():
            endpoint = SimulatedEndpoint.objects.select_for_update().filter(arn=arn).first()
            if endpoint is None:
                raise _not_found("Endpoint")
            if token is not None:
                endpoint.token_hash, endpoint.token = token_hash(token), token
                endpoint.outcome = outcome_for(token)
            if enabled is not None:
                endpoint.enabled = enabled
            endpoint.save()

    def endpoint_delete(self, connection: AwsConnection, arn: str) -> None:
        SimulatedEndpoint.objects.filter(arn=arn).delete()

    def publish(self, connection: AwsConnection, push: OutgoingPush) -> str:
        endpoint = SimulatedEndpoint.objects.filter(arn=push.endpoint_arn).first()
        if endpoint is None:
            raise _not_found("Endpoint")
        if endpoint.outcome == DISABLED:
            endpoint.enabled = False
            endpoint.save(update_fields=["enabled"])
        if not endpoint.enabled:
            raise TransportError(FailureKind.PERMANENT, f"{ENDPOINT_DISABLED}: Endpoint is disabled")
        if endpoint.application_arn.endswith("/broken"):  # an app named "broken" plays a revoked credential
            raise TransportError(FailureKind.PERMANENT, f"{APP_DISABLED}: Platform application is disabled")
        message_id = str(uuid.uuid4())
        SimulatedPush.objects.create(
            message_id=message_id,
            endpoint_arn=push.endpoint_arn,
            message=push.message,
            attributes=push.attributes,
            outcome=endpoint.outcome,
        )
        if endpoint.outcome == FAILED:
            raise TransportError(
                FailureKind.PERMANENT, "InvalidParameter: the platform refused the message for this token"
            )
        return message_id
