from typing import Any

import factory
from django.utils import timezone

from accounts import services
from accounts.models import Account, AwsConnection
from billing.defaults import DEFAULT_PLANS
from billing.models import Plan
from billing.services import subscription_start


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        skip_postgeneration_save = True

    class Params:
        plan_slug = "free"

    name = factory.Sequence(lambda n: f"Account {n}")
    owner_email = factory.LazyAttribute(lambda a: f"owner@{a.name.lower().replace(' ', '-')}.test")
    plan = factory.LazyAttribute(lambda a: default_plan(a.plan_slug))

    @factory.post_generation
    def subscription(account: Account, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted is not False:  # subscription=False: the test starts it itself
            subscription_start(account_id=account.pk, plan=account.plan, today=timezone.now().date())


def default_plan(slug: str) -> Plan:
    """The seeded plan; transactional tests flush the migration's rows, so re-create it when missing."""
    values = next(p for p in DEFAULT_PLANS if p["slug"] == slug)
    plan, _ = Plan.objects.get_or_create(slug=slug, defaults=values)
    return plan


def token_for(account: Account, *, scopes: tuple[str, ...] = ("full",), name: str = "test") -> str:
    _, plaintext = services.api_token_create(account=account, name=name, scopes=scopes)
    return plaintext


def connection_for(account: Account, **overrides: Any) -> AwsConnection:
    values: dict[str, Any] = {
        "identifier": "default",
        "region": "us-east-1",
        "role_arn": "arn:aws:iam::123456789012:role/Sesame",
        "is_default": True,
    }
    values.update(overrides)
    return services.aws_connection_create(account=account, **values)
