from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import Account
from accounts.ratelimit import redis_client
from tests.accounts.factories import AccountFactory, token_for
from tests.moto_server import moto_ses  # noqa: F401 (a fixture for every test module)


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


class ServiceProcess:
    """A Celery worker or beat started by a test, in its own process group."""

    def __init__(self, args: list[str], log: Any, env: dict[str, str]) -> None:
        import subprocess

        self.process = subprocess.Popen(  # noqa: S603
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def signal(self, signum: int) -> None:
        import os

        os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        import signal

        self.signal(signal.SIGKILL)
        self.process.wait()

    __call__ = kill

    def stop(self) -> None:
        import signal
        import subprocess

        if self.process.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture
def celery_env(transactional_db: Any) -> dict[str, str]:
    """Environment for child processes: the test database (tests must commit: transactional_db) and Redis."""
    import os

    from django.db import connection

    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "SESAME_AWS_MODE": settings.SESAME_AWS_MODE,
        "SESAME_SWEEP_INTERVAL": "1",
    }


@pytest.fixture
def start_worker(celery_env: dict[str, str], tmp_path: Any) -> Iterator[Callable[..., ServiceProcess]]:
    """start_worker(concurrency=2, **env) -> a real Celery worker, answering pings before this returns."""
    import sys
    import time

    from config.celery import app

    started: list[ServiceProcess] = []

    def start(*, concurrency: int = 2, **extra_env: str) -> ServiceProcess:
        name = f"test-{len(started)}-{time.monotonic_ns()}@localhost"
        log = (tmp_path / f"worker-{len(started)}.log").open("ab")
        worker = ServiceProcess(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "info", "-n", name,
             "-Q", settings.SESAME_WORKER_QUEUES, "--concurrency", str(concurrency), "--without-gossip",
             "--without-mingle"],
            log, {**celery_env, **extra_env},
        )
        started.append(worker)
        deadline = time.monotonic() + 30
        while not app.control.ping(destination=[name], timeout=0.5):
            if worker.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Celery worker did not start:\n{(tmp_path / 'worker-0.log').read_text()}")
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def celery_worker(start_worker: Callable[..., ServiceProcess]) -> ServiceProcess:
    return start_worker()


@pytest.fixture
def start_web(celery_env: dict[str, str], tmp_path: Any) -> Iterator[Callable[..., str]]:
    """start_web(*gunicorn_args) -> the URL of a real gunicorn web process on the test database, answering."""
    import socket
    import sys
    import time
    import urllib.request

    started: list[ServiceProcess] = []

    def start(*args: str) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        log_path = tmp_path / f"web-{len(started)}.log"
        command = [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", *args]
        server = ServiceProcess(command, log_path.open("ab"), {**celery_env, "SESAME_ALLOWED_HOSTS": "127.0.0.1"})
        started.append(server)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1)
                return url
            except OSError:
                if time.monotonic() > deadline or server.process.poll() is not None:
                    raise RuntimeError(log_path.read_text()) from None
                time.sleep(0.2)

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def celery_beat(celery_env: dict[str, str], tmp_path: Any) -> Iterator[ServiceProcess]:
    """A real celery-beat process with the database scheduler and the schedule from settings."""
    import sys

    log = (tmp_path / "beat.log").open("ab")
    beat = ServiceProcess(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "info",
         "--pidfile", str(tmp_path / "beat.pid")],
        log, celery_env,
    )
    yield beat
    beat.stop()


# API and admin smoke tests that `manage.py runtests` also runs on SQLite, the run command's database (besides every
# test marked `sqlite`), so a PostgreSQL-only lookup cannot ship unnoticed.
SQLITE_SMOKE_MODULES = {
    "tests/accounts/test_admin.py",
    "tests/accounts/test_aws_connections.py",
    "tests/contacts/test_contacts_api.py",
    "tests/emails/test_admin.py",
    "tests/emails/test_inbox_admin.py",
    "tests/emails/test_inbox_api.py",
    "tests/events/test_admin.py",
    "tests/test_error_shape.py",
}


def pytest_collection_modifyitems(config: Any, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.split("::", 1)[0] in SQLITE_SMOKE_MODULES:
            item.add_marker(pytest.mark.sqlite)
