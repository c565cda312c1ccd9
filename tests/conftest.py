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


@pytest.fixture
def celery_worker(transactional_db: Any, tmp_path: Any) -> Iterator[Callable[[], None]]:
    """A real Celery worker process on the test database and Redis; tests using it must commit their data
    (transactional_db). Yields a callable that kills the worker with SIGKILL (crash tests)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from django.db import connection

    from config.celery import app

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    name = f"test-{os.getpid()}-{time.monotonic_ns()}@localhost"
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "info", "-n", name,
         "-Q", settings.SESAME_WORKER_QUEUES, "--concurrency", "2", "--without-gossip", "--without-mingle"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not app.control.ping(destination=[name], timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"Celery worker did not start:\n{(tmp_path / 'worker.log').read_text()}")

    def kill() -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    yield kill
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
