"""The per-plan budget, exercised over real HTTP against a live server and real Redis."""

import json
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from accounts.ratelimit import LocalRateCounter, RedisRateCounter, redis_client
from tests.accounts.factories import AccountFactory, token_for


def _get(url: str, token: str) -> tuple[int, dict[str, str], dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.mark.django_db(transaction=True)
def test_200_parallel_requests_on_a_free_plan_grant_exactly_60(live_server):
    free = AccountFactory.create(plan_slug="free")
    neighbour = AccountFactory.create(plan_slug="free")
    token, neighbour_token = token_for(free), token_for(neighbour)
    url = f"{live_server.url}/v1/account"

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(lambda _: _get(url, token), range(200)))

    statuses = [status for status, _, _ in results]
    assert statuses.count(200) == 60
    assert statuses.count(429) == 140
    refused = [r for r in results if r[0] == 429]
    for _, headers, body in refused:
        assert body == {"detail": "Too Many Attempts."}
        assert headers["x-ratelimit-limit"] == "60"
        assert headers["x-ratelimit-remaining"] == "0"
        assert 1 <= int(headers["Retry-After"]) <= 60
    remaining = sorted(int(h["x-ratelimit-remaining"]) for s, h, _ in results if s == 200)
    assert remaining == list(range(60))  # each grant saw a distinct slot: no double counting, no overlap

    status, headers, _ = _get(url, neighbour_token)
    assert status == 200
    assert headers["x-ratelimit-remaining"] == "59"


@pytest.mark.django_db
def test_every_api_response_carries_the_headers(client_for):
    response = client_for.get("/v1/account")
    assert response["x-ratelimit-limit"] == "60000"
    assert response["x-ratelimit-remaining"] == "59999"
    failed = client_for.get("/v1/tokens/999999")
    assert failed.status_code == 404
    assert failed["x-ratelimit-remaining"] == "59998"


@pytest.mark.parametrize("counter_kind", ["redis", "local"])
def test_counter_allows_a_burst_of_the_whole_budget_then_refuses(settings, counter_kind):
    counter = RedisRateCounter(redis_client(settings.REDIS_URL)) if counter_kind == "redis" else LocalRateCounter()
    decisions = [counter.hit("burst", limit=5) for _ in range(7)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 2
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0, 0]
    assert decisions[-1].retry_after == 60 or 58 <= decisions[-1].retry_after <= 60


@pytest.mark.parametrize("counter_kind", ["redis", "local"])
def test_a_second_that_leaves_the_window_gives_its_requests_back(settings, counter_kind):
    counter = RedisRateCounter(redis_client(settings.REDIS_URL)) if counter_kind == "redis" else LocalRateCounter()
    key = f"slide-{uuid.uuid4()}"
    time.sleep(1.05 - time.time() % 1)  # just after a second starts: the first four hits share it
    first = int(time.time())
    assert [counter.hit(key, limit=3, window=2).allowed for _ in range(4)] == [True, True, True, False]
    time.sleep(first + 1.1 - time.time())
    assert not counter.hit(key, limit=3, window=2).allowed  # the first second's three are still in the window
    time.sleep(first + 2.1 - time.time())
    again = counter.hit(key, limit=3, window=2)
    assert (again.allowed, again.remaining) == (True, 2)  # the first second left the window, and its three with it


def test_a_window_written_before_the_running_total_was_kept_is_counted(settings):
    client = redis_client(settings.REDIS_URL)
    key = f"legacy-{uuid.uuid4()}"
    now = int(client.time()[0])
    client.hset(f"sesame:rl:{key}", mapping={now - 90: 50, now - 1: 2})  # one second long gone, one in the window
    decision = RedisRateCounter(client).hit(key, limit=3)
    assert (decision.allowed, decision.remaining) == (True, 0)
    assert str(now - 90).encode() not in client.hkeys(f"sesame:rl:{key}")
