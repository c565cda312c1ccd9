from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, ApiToken, AwsConnection, Membership
from accounts.tokens import display_prefix, generate_token, hash_token


class IdentifierTaken(ValueError):
    pass


def account_create(*, name: str, plan_id: int, owner_email: str = "") -> Account:
    """The tenant row alone; billing's `account_create_subscribed` is the door that also starts its subscription
    (`plan` mirrors the subscription's plan, for the rate limit)."""
    if owner_email:
        validate_email(owner_email)
    return Account.objects.create(name=name, plan_id=plan_id, owner_email=owner_email)


def account_set_status(*, account: Account, status: Account.Status) -> Account:
    Account.objects.filter(pk=account.pk).update(status=status, updated_at=timezone.now())
    account.status = status
    return account


def membership_add(*, account: Account, user: AbstractBaseUser, role: Membership.Role) -> Membership:
    membership, _ = Membership.objects.update_or_create(account=account, user=user, defaults={"role": role})
    return membership


def api_token_create(
    *, account: Account, name: str, scopes: Iterable[str] = (ApiToken.Scope.FULL,)
) -> tuple[ApiToken, str]:
    """Create a token and return it with its plaintext, which exists only in this return value."""
    scope_list = sorted(set(scopes))
    unknown = set(scope_list) - set(ApiToken.Scope.values)
    if unknown or not scope_list:
        raise ValueError(f"Scopes must be some of {', '.join(ApiToken.Scope.values)}; got {scope_list}.")
    plaintext = generate_token()
    token = ApiToken.objects.create(
        account=account,
        name=name,
        prefix=display_prefix(plaintext),
        token_hash=hash_token(plaintext),
        scopes=scope_list,
    )
    return token, plaintext


def api_token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_token_touch(*, token: ApiToken) -> None:
    """Record use at most once per resolution window: a conditional UPDATE, so reads stay cheap."""
    now = timezone.now()
    resolution = timedelta(seconds=settings.SESAME_TOKEN_LAST_USED_RESOLUTION)
    if token.last_used_at is not None and now - token.last_used_at < resolution:
        return
    ApiToken.objects.filter(pk=token.pk).exclude(last_used_at__gte=now - resolution).update(last_used_at=now)
    token.last_used_at = now


@transaction.atomic
def aws_connection_make_default(*, connection: AwsConnection) -> AwsConnection:
    # Clear the old default first: the partial unique index allows one default per account at any instant.
    AwsConnection.objects.filter(account_id=connection.account_id, is_default=True).exclude(pk=connection.pk).update(
        is_default=False
    )
    AwsConnection.objects.filter(pk=connection.pk).update(is_default=True)
    connection.is_default = True
    return connection


@transaction.atomic
def aws_connection_create(
    *,
    account: Account,
    identifier: str,
    region: str,
    role_arn: str = "",
    access_key_id: str = "",
    secret_access_key: str = "",
    is_default: bool = False,
    is_active: bool = True,
) -> AwsConnection:
    if AwsConnection.objects.filter(account=account, identifier=identifier).exists():
        raise IdentifierTaken(f"An AWS connection named {identifier!r} already exists in this account.")
    connection = AwsConnection(
        account=account,
        identifier=identifier,
        region=region,
        role_arn=role_arn,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        is_active=is_active,
    )
    connection.full_clean(exclude=["is_default"])
    connection.save()
    if is_default:
        aws_connection_make_default(connection=connection)
    return connection


@transaction.atomic
def aws_connection_update(*, connection: AwsConnection, **changes: object) -> AwsConnection:
    make_default = bool(changes.pop("is_default", connection.is_default))
    for field, value in changes.items():
        setattr(connection, field, value)
    connection.full_clean(exclude=["is_default"])
    connection.save()
    if make_default and not connection.is_default:
        aws_connection_make_default(connection=connection)
    elif not make_default and connection.is_default:
        AwsConnection.objects.filter(pk=connection.pk).update(is_default=False)
        connection.is_default = False
    return connection
