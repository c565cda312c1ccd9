from typing import Any

from accounts.models import Account, AwsConnection
from sms.models import SmsConnectionState
from tests.accounts.factories import connection_for

DELIVERED = "+14254147755"


def sms_connection(
    account: Account, *, rate: float = 20.0, in_sandbox: bool = False, **overrides: Any
) -> AwsConnection:
    """A default connection whose SMS state is known (rate, sandbox status checked just now)."""
    from django.utils import timezone

    connection = connection_for(account, **overrides)
    SmsConnectionState.objects.create(
        connection=connection, sms_rate=rate, in_sandbox=in_sandbox, sandbox_checked_at=timezone.now()
    )
    return connection


def sms_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"to": DELIVERED, "body": "Your order has shipped."}
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}
