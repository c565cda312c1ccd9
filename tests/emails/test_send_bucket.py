"""The per-connection send limiter: never more than the rate in any one-second window, counting recipients."""

import threading
import time

import pytest

from emails.bucket import LocalSendBucket, RedisSendBucket, window_for


@pytest.fixture(params=["redis", "local"])
def bucket(request, settings):
    return RedisSendBucket(settings.REDIS_URL) if request.param == "redis" else LocalSendBucket()


def _max_in_any_second(grants: list[tuple[float, float, int]]) -> int:
    """Grants certainly inside one second: each was granted between its (before, after) observations, so a
    set counts only if the last `after` is under a second past the first `before`."""
    return max(
        sum(count for before, after, count in grants if before >= start and after < start + 1.0)
        for start, _, _ in grants
    )


def test_concurrent_takers_never_exceed_the_rate_in_any_second(bucket):
    grants: list[tuple[float, float, int]] = []
    lock = threading.Lock()
    stop = time.monotonic() + 2.5

    def take(count: int) -> None:
        while time.monotonic() < stop:
            before = time.monotonic()
            wait = bucket.try_acquire("conn-a", rate=40, count=count)
            if wait == 0:
                with lock:
                    grants.append((before, time.monotonic(), count))
            else:
                time.sleep(min(wait, 0.05))

    threads = [threading.Thread(target=take, args=(1 + i % 3,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _max_in_any_second(grants) <= 40
    assert sum(count for _, _, count in grants) >= 80  # the whole budget is used, not just respected


def test_recipients_count_against_the_rate(bucket):
    assert bucket.try_acquire("conn-b", rate=5, count=3) == 0
    assert bucket.try_acquire("conn-b", rate=5, count=2) == 0
    wait = bucket.try_acquire("conn-b", rate=5, count=1)
    assert 0 < wait <= 1.0


def test_connections_do_not_share_a_bucket(bucket):
    assert bucket.try_acquire("conn-c", rate=1, count=1) == 0
    assert bucket.try_acquire("conn-d", rate=1, count=1) == 0


@pytest.mark.parametrize(("rate", "expected"), [(14, (14, 1.0)), (14.5, (14, 1.0)), (0.5, (1, 2.0)), (1, (1, 1.0))])
def test_window_for_rates(rate, expected):
    assert window_for(rate) == expected
