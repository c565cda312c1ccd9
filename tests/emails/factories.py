from typing import Any

from accounts.models import Account, AwsConnection
from emails.models import Identity
from tests.accounts.factories import connection_for


def sending_connection(
    account: Account, *, domain: str = "example.com", max_send_rate: float = 14.0, **overrides: Any
) -> AwsConnection:
    """A default connection with a verified sender domain, as after `add_identity` succeeded."""
    connection = connection_for(account, **overrides)
    AwsConnection.objects.filter(pk=connection.pk).update(max_send_rate=max_send_rate)
    connection.max_send_rate = max_send_rate
    Identity.objects.create(
        account=account,
        connection=connection,
        name=domain,
        kind=Identity.Kind.DOMAIN,
        status=Identity.Status.VERIFIED,
    )
    return connection


def email_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "from": "Acme <hello@example.com>",
        "to": "Jon Doe <jon@example.net>",
        "subject": "Your receipt",
        "text_body": "Thanks for your order.",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def signup_form_for(account: Account, **overrides: Any) -> Any:
    """A sign-up form through the service (so the same rules hold), sending from a verified example.com."""
    from emails.forms.services import signup_form_create

    verified = Identity.objects.filter(account=account, status=Identity.Status.VERIFIED, name="example.com")
    connection = verified.values_list("connection__identifier", flat=True).first()
    if connection is None:
        connection = sending_connection(account, identifier="forms").identifier
    values: dict[str, Any] = {
        "config_identifier": connection,
        "name": "Newsletter",
        "sender": "Acme <news@example.com>",
        "allowed_origins": ["https://www.acme.test"],
        "tags": ["newsletter", "website"],
        "ask_name": True,
        "consent_text": "I agree to receive Acme's monthly newsletter.",
    }
    values.update(overrides)
    return signup_form_create(account=account, values=values)
