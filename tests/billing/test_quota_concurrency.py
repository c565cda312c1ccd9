"""The quota under concurrency, on PostgreSQL, through HTTP: 200 requests at once with 10 units left accept exactly
10; a request that waits on the period's lock while another writer takes its unit gets a 402 and leaves nothing behind
(a batch: what is left, the rest refused by item).
The server is gunicorn (real processes, each with its own database connections), started on the test database."""

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable

import psycopg
import pytest
from django.db import connection

from billing.models import UsageEntry
from emails.models import Email
from tests.accounts.factories import AccountFactory, token_for
from tests.billing.factories import current_period, plan, use
from tests.emails.factories import email_body, sending_connection

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTS = 200


@pytest.fixture
def server(start_web: Callable[..., str]) -> str:
    # Bounded database connections (3 processes x 8 threads); the rest of the burst waits in the listen backlog.
    return start_web("-w", "3", "--threads", "8", "--backlog", "512")


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


def _post(url: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _blocked_on_a_row_lock(deadline: float) -> bool:
    with psycopg.connect(_dsn(), autocommit=True) as watcher:
        while time.monotonic() < deadline:
            if watcher.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0]:  # type: ignore[index]
                return True
            time.sleep(0.02)
    return False


def _dsn() -> str:
    settings = connection.settings_dict
    return f"host={settings['HOST']} port={settings['PORT']} user={settings['USER']} dbname={settings['NAME']}"


@pytest.mark.parametrize(
    ("route", "body", "left", "granted"),
    [
        ("/v1/emails", email_body(), 1, 0),  # its unit goes to the other writer: refused, nothing kept
        ("/v1/emails/batch", {"emails": [email_body(), email_body()]}, 2, 1),  # one of two units left for it
    ],
)
def test_a_request_that_loses_the_last_units_while_waiting_keeps_nothing_it_was_not_granted(
    server, route, body, left, granted
):
    hard_stop = plan("race", price="5.00", included=1_000, overage=None, rate=10_000)
    account = AccountFactory.create(name="Race", plan=hard_stop)
    sending_connection(account)
    token = token_for(account)
    period = current_period(account)
    use(account, period.included_emails - left)
    answer: list[tuple[int, dict]] = []
    # Another writer takes one unit and holds the period's row lock, not committed yet: the request, which fits in
    # the `left` units its statement's snapshot shows, waits on that lock and must then count with one unit fewer.
    with psycopg.connect(_dsn()) as writer:
        writer.execute("UPDATE billing_billingperiod SET emails_used = emails_used + 1 WHERE id = %s", [period.pk])
        request = threading.Thread(target=lambda: answer.append(_post(f"{server}{route}", token, body)))
        request.start()
        assert _blocked_on_a_row_lock(time.monotonic() + 20), "the request never waited on the period's lock"
        writer.commit()
    request.join(60)
    status, reply = answer[0]
    if route == "/v1/emails":
        assert status == 402, reply
        assert "used 1,000 emails" in reply["detail"]
    else:
        assert status == 200, reply
        assert (reply["accepted"], reply["rejected"]) == (1, 1)
        assert reply["results"][1]["errors"][0]["type"] == "value_error.quota_exceeded"
    assert Email.objects.filter(account=account).count() == granted
    assert UsageEntry.objects.filter(account=account, kind="reserved").count() == granted
    period.refresh_from_db()
    assert period.emails_used == period.included_emails - left + 1 + granted == period.included_emails
