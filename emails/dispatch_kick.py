"""Waking dispatchers: de-duplicated nudges and the leases that cap dispatchers per connection."""

import threading
import time
import uuid
from functools import cache

from django.conf import settings

from accounts.ratelimit import redis_client

_KICK_DEDUPE_MS = 250


class _LocalLeases:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, tuple[str, float]] = {}

    def acquire(self, key: str, owner: str, ttl: float) -> bool:
        now = time.monotonic()
        with self._lock:
            holder = self._held.get(key)
            if holder is not None and holder[0] != owner and holder[1] > now:
                return False
            self._held[key] = (owner, now + ttl)
            return True

    def release(self, key: str, owner: str) -> None:
        with self._lock:
            if self._held.get(key, ("", 0.0))[0] == owner:
                del self._held[key]


_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] or redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class _RedisLeases:
    def __init__(self, url: str) -> None:
        client = redis_client(url)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def acquire(self, key: str, owner: str, ttl: float) -> bool:
        return bool(self._renew(keys=[f"sesame:lease:{key}"], args=[owner, int(ttl * 1000)]))

    def release(self, key: str, owner: str) -> None:
        self._release(keys=[f"sesame:lease:{key}"], args=[owner])


@cache
def _leases_for(redis_url: str) -> _LocalLeases | _RedisLeases:
    return _RedisLeases(redis_url) if redis_url else _LocalLeases()


def leases() -> _LocalLeases | _RedisLeases:
    return _leases_for(settings.REDIS_URL)


def new_owner() -> str:
    return uuid.uuid4().hex


def kick(connection_id: object) -> None:
    """Ask for a dispatcher on this connection, at most once per 250 ms however many emails arrive."""
    if not leases().acquire(f"kick:{connection_id}", new_owner(), _KICK_DEDUPE_MS / 1000):
        return
    from emails.tasks import dispatch_connection

    dispatch_connection.delay(str(connection_id))
