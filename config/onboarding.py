"""Opening an account so it can send at once: tenancy from `accounts`, its subscription from `billing`, the
simulator's send quota from `emails`.

This is the roof, like config/demo.py (DESIGN.md): `accounts` may not import `emails`, so every door that creates
an account (the `create_account` command, the admin's add form, the demo) comes here.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from accounts import services as account_services
from accounts.models import Account, ApiToken, AwsConnection
from billing import services as billing_services
from emails import services as email_services

SIMULATOR_CONNECTION_IDENTIFIER = "default"
# The simulator never calls AWS, but a connection needs a role ARN or a key pair; this one names no real account.
SIMULATOR_ROLE_ARN = "arn:aws:iam::000000000000:role/sesame-simulator"


@dataclass(frozen=True)
class OpenedAccount:
    account: Account
    token: str
    connection: AwsConnection | None


@transaction.atomic
def account_open(*, name: str, plan_slug: str = "free", owner_email: str = "") -> OpenedAccount:
    """Create an account and a full-scope token (shown only here); in simulator mode it can add an identity
    and send with no other step, in aws mode it needs an AWS connection first."""
    account = billing_services.account_create_subscribed(name=name, plan_slug=plan_slug, owner_email=owner_email)
    connection = simulator_connection_ensure(account=account)
    _, token = account_services.api_token_create(account=account, name="Default", scopes=[ApiToken.Scope.FULL])
    return OpenedAccount(account=account, token=token, connection=connection)


@transaction.atomic
def simulator_connection_ensure(*, account: Account) -> AwsConnection | None:
    """In simulator mode, the account's default AWS connection, created for the local simulator when it has none,
    with its send quota read from the simulator (SESAME_SIMULATOR_SEND_RATE recipients per second).

    In aws mode, None and no change: the account connects its own SES through the API or the admin.
    """
    if settings.SESAME_AWS_MODE != "simulator":
        return None
    connection = AwsConnection.objects.filter(account=account, is_default=True).first()
    if connection is None:
        connection = account_services.aws_connection_create(
            account=account,
            identifier=SIMULATOR_CONNECTION_IDENTIFIER,
            region=settings.SESAME_DEFAULT_AWS_REGION,
            role_arn=SIMULATOR_ROLE_ARN,
            is_default=True,
        )
    email_services.connection_refresh_send_quota(connection=connection)
    connection.refresh_from_db()
    return connection
