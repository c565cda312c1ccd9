"""The demo operator and demo account that `manage.py up` prints, kept across restarts in var/."""

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from accounts import services
from accounts.models import Account, ApiToken, AwsConnection, Membership
from billing import services as billing_services
from config.onboarding import SIMULATOR_CONNECTION_IDENTIFIER, SIMULATOR_ROLE_ARN, simulator_connection_ensure
from emails import services as email_services

DEMO_USERNAME = "operator"
DEMO_ACCOUNT_NAME = "Demo"
DEMO_SENDER_DOMAIN = "example.com"


@dataclass
class DemoCredentials:
    username: str
    password: str
    account_id: str
    token: str


def _credentials_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.json"


def _load() -> DemoCredentials | None:
    path = _credentials_path()
    if not path.exists():
        return None
    return DemoCredentials(**json.loads(path.read_text()))


def _save(credentials: DemoCredentials) -> None:
    path = _credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(credentials), handle)


def _still_valid(credentials: DemoCredentials) -> bool:
    from accounts.selectors import api_token_for_plaintext

    token = api_token_for_plaintext(plaintext=credentials.token)
    user_model = get_user_model()
    user = user_model.objects.filter(username=credentials.username).first()
    return (
        token is not None
        and not token.is_revoked
        and str(token.account_id) == credentials.account_id
        and user is not None
        and user.check_password(credentials.password)
    )


def _ensure_sending(account: Account) -> None:
    connection = simulator_connection_ensure(account=account)
    if connection is not None:
        # The simulator verifies at once; the README's first curl sends from this domain.
        email_services.identity_add(connection=connection, name=DEMO_SENDER_DOMAIN)
    elif not AwsConnection.objects.filter(account=account, is_default=True).exists():
        # aws mode: a placeholder default until the operator connects the demo account's own SES.
        services.aws_connection_create(
            account=account,
            identifier=SIMULATOR_CONNECTION_IDENTIFIER,
            region=settings.SESAME_DEFAULT_AWS_REGION,
            role_arn=SIMULATOR_ROLE_ARN,
            is_default=True,
        )


@transaction.atomic
def demo_ensure() -> DemoCredentials:
    """Reuse the saved demo login and token while they still work; otherwise create fresh ones."""
    saved = _load()
    if saved is not None and _still_valid(saved):
        _ensure_sending(Account.objects.get(pk=saved.account_id))
        return saved
    user_model = get_user_model()
    password = secrets.token_urlsafe(12)
    user, _ = user_model.objects.get_or_create(
        username=DEMO_USERNAME, defaults={"email": "operator@sesame.local", "is_staff": True, "is_superuser": True}
    )
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    account = Account.objects.filter(name=DEMO_ACCOUNT_NAME).first() or billing_services.account_create_subscribed(
        name=DEMO_ACCOUNT_NAME, plan_slug="paid", owner_email="owner@demo.sesame.local"
    )
    services.membership_add(account=account, user=user, role=Membership.Role.OWNER)
    _ensure_sending(account)
    _, token = services.api_token_create(account=account, name="Demo token", scopes=[ApiToken.Scope.FULL])
    credentials = DemoCredentials(username=DEMO_USERNAME, password=password, account_id=str(account.pk), token=token)
    _save(credentials)
    return credentials
