"""The quota under concurrency, on PostgreSQL, through HTTP: 200 requests at once with 10 units left accept exactly
10. The server is gunicorn (real processes, each with its own database connections), started on the test database."""

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable

import pytest

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
