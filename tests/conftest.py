from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import Account
from accounts.ratelimit import redis_client
from tests.accounts.factories import AccountFactory, token_for


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    """Each test starts with empty rate counters and queues (tests use their own Redis database)."""
    client = redis_client(settings.REDIS_URL)
    client.flushdb()
    yield
    client.flushdb()


@pytest.fixture
def account(db: Any) -> Account:
    return AccountFactory.create(plan_slug="enterprise")


@pytest.fixture
def other_account(db: Any) -> Account:
    return AccountFactory.create(name="Other Corp", plan_slug="enterprise")


@pytest.fixture
def api() -> Callable[..., APIClient]:
    """api(account) -> a client that sends a fresh full-scope token of that account."""

    def make(
        account: Account | None = None, *, token: str | None = None, scopes: tuple[str, ...] = ("full",)
    ) -> APIClient:
        client = APIClient()
        if token is None and account is not None:
            token = token_for(account, scopes=scopes)
        if token is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return make


@pytest.fixture
def client_for(api: Callable[..., APIClient], account: Account) -> APIClient:
    result: APIClient = api(account)
    return result
