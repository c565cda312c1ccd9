"""Rolling-window request counters, shared by every web process through Redis.

The window is kept as one counter per second (a Redis hash of at most `window` fields); a request is granted
only if the counters of the last `window` seconds plus its cost stay within the limit. That allows bursts of
the whole budget and never grants more than `limit` in any `window` seconds (at one-second resolution).
The check-and-increment is one Lua script, so concurrent requests cannot both take the last slot.
"""

import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

import redis
from django.conf import settings


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until a refused request could succeed; 0 when allowed


class RateCounter(Protocol):
    def hit(self, key: str, *, limit: int, window: int = 60, cost: int = 1) -> Decision: ...


def _retry_after(buckets: list[tuple[int, int]], *, now: int, window: int, excess: int) -> int:
    """Seconds until enough of the oldest buckets leave the window to free `excess` slots."""
    freed = 0
    for second, count in sorted(buckets):
        freed += count
        if freed >= excess:
            return max(1, second + window - now)
    return window


# The rolling-window check-and-increment on the hash at `key`; `limit`, `window` and `cost` are set before it. Besides
# a field per second, the hash keeps `total` (the sum of the seconds still in the window) and `from` (the oldest
# second that may still be in it). A request looks only at the seconds that left the window since `from`, and
# within one second only adds to its bucket and the total: under steady traffic the window is 60 fields, and
# reading them all cost Redis 70 us a call. A hash without `total` (a new key) is counted once.
_HIT_BODY = """
local now = tonumber(redis.call('TIME')[1])
local oldest = now - window
local state = redis.call('HMGET', key, 'total', 'from')
local used, from = tonumber(state[1]), tonumber(state[2])
local moved = true
if used == nil or from == nil or oldest - from > window then
  used = 0
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local second = tonumber(fields[i])
    if second and second <= oldest then
      redis.call('HDEL', key, fields[i])
    elseif second then
      used = used + tonumber(fields[i + 1])
    end
  end
elseif from <= oldest then
  for second = from, oldest do
    local count = redis.call('HGET', key, second)
    if count then
      used = used - tonumber(count)
      redis.call('HDEL', key, second)
    end
  end
else
  moved = false
end
if used + cost > limit then
  if moved and redis.call('EXISTS', key) == 1 then
    redis.call('HSET', key, 'total', used, 'from', oldest + 1)
  end
  local live = {}
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local second = tonumber(fields[i])
    if second then
      table.insert(live, {second, tonumber(fields[i + 1])})
    end
  end
  table.sort(live, function(a, b) return a[1] < b[1] end)
  local excess = used + cost - limit
  local freed = 0
  local retry = window
  for _, bucket in ipairs(live) do
    freed = freed + bucket[2]
    if freed >= excess then
      retry = math.max(1, bucket[1] + window - now)
      break
    end
  end
  return {0, math.max(0, limit - used), retry, version}
end
redis.call('HINCRBY', key, now, cost)
if moved then
  redis.call('HSET', key, 'total', used + cost, 'from', oldest + 1)
  redis.call('EXPIRE', key, window + 1)
else
  redis.call('HINCRBY', key, 'total', cost)
end
return {1, limit - used - cost, 0, version}
"""

_HIT_SCRIPT = (
    "local key = KEYS[1]\nlocal limit = tonumber(ARGV[1])\nlocal window = tonumber(ARGV[2])\n"
    "local cost = tonumber(ARGV[3])\nlocal version = ''\n" + _HIT_BODY
)

# The tenant cache's check (accounts/tenant_cache.py) in the same round trip: read the account's version (setting
# a fresh one when Redis has none), and count the request only when it matches the cached one.
_VERSIONED_HIT_SCRIPT = (
    """
local version = redis.call('GET', KEYS[1])
if not version then
  version = ARGV[2]
  redis.call('SET', KEYS[1], version)
end
if version ~= ARGV[1] or KEYS[2] == nil then
  return {-1, 0, 0, version}
end
local key = KEYS[2]
local limit = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local cost = 1
"""
    + _HIT_BODY
)


class RedisRateCounter:
    def __init__(self, client: redis.Redis) -> None:
        self._script = client.register_script(_HIT_SCRIPT)

    def hit(self, key: str, *, limit: int, window: int = 60, cost: int = 1) -> Decision:
        allowed, remaining, retry, _ = self._script(keys=[f"sesame:rl:{key}"], args=[limit, window, cost])
        return Decision(bool(allowed), limit, int(remaining), int(retry))


class LocalRateCounter:
    """The embedded default (no Redis): the same algorithm in process memory, for a single web process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, dict[int, int]] = defaultdict(dict)

    def hit(self, key: str, *, limit: int, window: int = 60, cost: int = 1) -> Decision:
        now = int(time.time())
        with self._lock:
            buckets = self._buckets[key]
            for second in [s for s in buckets if s <= now - window]:
                del buckets[second]
            used = sum(buckets.values())
            if used + cost > limit:
                retry = _retry_after(list(buckets.items()), now=now, window=window, excess=used + cost - limit)
                return Decision(False, limit, max(0, limit - used), retry)
            buckets[now] = buckets.get(now, 0) + cost
            return Decision(True, limit, limit - used - cost, 0)


@cache
def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)


def shared_redis() -> redis.Redis | None:
    """This deployment's Redis, or None in the embedded default (no REDIS_URL)."""
    return redis_client(settings.REDIS_URL) if settings.REDIS_URL else None


@cache
def _versioned_script(redis_url: str) -> Any:
    return redis_client(redis_url).register_script(_VERSIONED_HIT_SCRIPT)


def versioned_hit(
    version_key: str, key: str | None, *, expected: str, fresh: str, limit: int, window: int = 60
) -> tuple[str, Decision | None]:
    """The version at `version_key` (set to `fresh` when missing) and, when it equals `expected` and a `key` is
    given, the rate-limit decision for one request against `key`; otherwise no request is counted."""
    keys = [version_key] if key is None else [version_key, f"sesame:rl:{key}"]
    allowed, remaining, retry, version = _versioned_script(settings.REDIS_URL)(
        keys=keys, args=[expected, fresh, limit, window]
    )
    version = version.decode() if isinstance(version, bytes) else str(version)
    if allowed == -1:
        return version, None
    return version, Decision(bool(allowed), limit, int(remaining), int(retry))


@cache
def _counter_for(redis_url: str) -> RateCounter:
    return RedisRateCounter(redis_client(redis_url)) if redis_url else LocalRateCounter()


def rate_counter() -> RateCounter:
    return _counter_for(settings.REDIS_URL)
