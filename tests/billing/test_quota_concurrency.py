"""The quota under concurrency, on PostgreSQL, through HTTP: 200 requests at once with 10 units left accept exactly
10. The server is gunicorn (real processes, each with its own database connections), started on the test database."""

import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

import pytest

from emails.models import Email
from tests.accounts.factories import AccountFactory, token_for
from tests.billing.factories import current_period, plan, use
from tests.conftest import ServiceProcess
from tests.emails.factories import email_body, sending_connection

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTS = 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(celery_env: dict[str, str], tmp_path: Any) -> Any:
    port = _free_port()
    log = (tmp_path / "gunicorn.log").open("ab")
    process = ServiceProcess(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "3", "--threads", "8",
         "--backlog", "512"],
        log, celery_env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or process.process.poll() is not None:
                raise RuntimeError((tmp_path / "gunicorn.log").read_text()) from None
            time.sleep(0.2)
    yield url
    process.stop()


def test_200_concurrent_sends_with_10_units_left_accept_exactly_10(server):
    # A hard-stop plan whose API budget is far above the burst, so only the quota refuses.
    hard_stop = plan("burst", price="5.00", included=1_000, overage=None, rate=10_000)
    account = AccountFactory.create(name="Last Ten", plan=hard_stop)
    sending_connection(account)
    token = token_for(account)
    use(account, current_period(account).included_emails - 10)
    start = threading.Barrier(REQUESTS)
    statuses: list[int] = []
    lock = threading.Lock()

    def send() -> None:
        request = urllib.request.Request(
            f"{server}/v1/emails",
            data=json.dumps(email_body()).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=send) for _ in range(REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert Counter(statuses) == {200: 10, 402: 190}
    assert Email.objects.filter(account=account).count() == 10
    period = current_period(account)
    assert period.emails_used == period.included_emails
    assert period.entries.filter(kind="reserved").count() == 10
