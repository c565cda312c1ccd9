"""The send-rate limiter of one AWS connection, shared by every dispatcher thread and worker.

SES counts recipients against a per-second maximum. The limiter keeps a log of recent grants (a Redis sorted
set, one member per recipient, scored by Redis's own clock in microseconds) and grants `n` more only if the
last second holds at most `capacity - n`. So no one-second window ever sees more than `capacity` recipients,
whatever the number of workers. Rates below 1/s grant one recipient per 1/rate seconds; fractional rates
above 1 round down (14.5/s grants 14 per second) because the guarantee is per one-second window.
"""

import math
import threading
import time
import uuid
from collections import deque
from functools import cache
from typing import Protocol

from django.conf import settings

from accounts.ratelimit import redis_client


def window_for(rate: float) -> tuple[int, float]:
    """(capacity, window seconds) for a rate in recipients per second."""
    if rate >= 1:
        return math.floor(rate), 1.0
    return 1, 1.0 / rate


class SendBucket(Protocol):
    def try_acquire(self, key: str, *, rate: float, count: int) -> float:
        """Take `count` grants if the window allows; returns 0, or the seconds to wait before trying again."""
        ...


_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local capacity = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used + count > capacity then
  local oldest = redis.call('ZRANGE', KEYS[1], used + count - capacity - 1, used + count - capacity - 1, 'WITHSCORES')
  return tonumber(oldest[2]) + window - now
end
for i = 1, count do
  redis.call('ZADD', KEYS[1], now, ARGV[4] .. ':' .. i)
end
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
return 0
"""


class RedisSendBucket:
    def __init__(self, url: str) -> None:
        self._script = redis_client(url).register_script(_ACQUIRE)

    def try_acquire(self, key: str, *, rate: float, count: int) -> float:
        capacity, window = window_for(rate)
        count = min(count, capacity)  # a message with more recipients than a second's budget takes all of it
        wait_us = self._script(
            keys=[f"sesame:send:{key}"], args=[capacity, int(window * 1_000_000), count, uuid.uuid4().hex]
        )
        return max(0.0, int(wait_us) / 1_000_000)


class LocalSendBucket:
    """The embedded default: the same log in memory, shared by the threads of one worker process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logs: dict[str, deque[float]] = {}

    def try_acquire(self, key: str, *, rate: float, count: int) -> float:
        capacity, window = window_for(rate)
        count = min(count, capacity)
        now = time.monotonic()
        with self._lock:
            log = self._logs.setdefault(key, deque())
            while log and log[0] <= now - window:
                log.popleft()
            if len(log) + count > capacity:
                return max(0.0, log[len(log) + count - capacity - 1] + window - now)
            log.extend([now] * count)
            return 0.0


@cache
def _bucket_for(redis_url: str) -> SendBucket:
    return RedisSendBucket(redis_url) if redis_url else LocalSendBucket()


def send_bucket() -> SendBucket:
    return _bucket_for(settings.REDIS_URL)
