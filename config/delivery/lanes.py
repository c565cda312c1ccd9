"""Lanes: which (channel, connection) pairs have due work, when each may next be served, and its send bucket.

A lane is `<channel>:<connection id>`. All lanes live in one sorted set scored by the time (ms) each may next be
served. A feeder takes the lane with the lowest score that has come due and, in the same atomic step, moves its
score a lease into the future: while it holds the lease no other feeder, on any host, can take that lane, so one
connection's claims are serialised (exact priority order) while different connections are served in parallel.
The feeder then claims what the lane's send bucket allows and releases the lane: rescheduled at the moment its
bucket has room again, or removed when it had nothing left. Lanes earn a turn in the order they became ready, so
a tenant's backlog never holds another tenant back, and an idle connection has no entry at all.

The send bucket is a log of grants (one member per rate unit) over a sliding window. The lease holder reserves
units for what it claims (so "how much room is there" and "take it" cannot race); each reservation is scored in
the future, so it counts against the window until it is used. A sender stamps its units with the current time
as its request leaves: the log then holds the moments the provider was called, and no window of a second ever
holds more than the capacity, however long messages waited to be built. Room that frees within LOOKAHEAD_MS is
reserved already, with the moment it frees, which the sender waits for. A reservation whose sender
died is released after PENDING_MS. Capacity per window: rates of 1/s and more grant floor(rate) per second
(the window is SESAME_RATE_GUARD_MS longer than a second, for the time from stamp to provider); lower rates grant
one unit per 1/rate seconds.

New work rings a doorbell (a short Redis list) that idle feeders block on, so an accepted message is picked up at
once. Everything here can be rebuilt: if Redis is emptied, beat's tick re-adds every lane with due work.
"""

import math
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from django.conf import settings

from accounts.ratelimit import redis_client

LEASE_MS = 10_000  # a feeder that died holding a lane gives it up after this long
PENDING_MS = 30_000  # a reservation no sender stamped (its process died) stops counting after this long
# Room that frees up within this many ms is handed out already, with the moment it frees: the sender waits for
# that moment (usually it has passed by the time the message is built), so no room goes unused while the next
# message is claimed and built.
LOOKAHEAD_MS = 20
_DOORBELL_MAX = 64
_REDIS_TIMER_SLACK = 0.11
# A full bucket wakes its lane once 1/50 of its capacity is free again (20 ms of sending), not for each unit: one
# claim then takes a block of messages, so a fast connection needs fewer claims per second. At 500/s, blocks of
# ten cut the worker's and PostgreSQL's CPU per email by a quarter against blocks of two or three (bench/README.md).
_BATCH_SHARE = 50


def window_for(rate: float) -> tuple[int, int]:
    """(capacity, window in ms) of a send bucket for a rate in units per second."""
    guard = settings.SESAME_RATE_GUARD_MS
    if rate >= 1:
        return math.floor(rate), 1000 + guard
    return 1, math.ceil(1000 / rate) + guard


@dataclass(frozen=True)
class Taken:
    lane: str  # "" when nothing is due
    token: int  # the lease score; the release must present it
    free: int  # rate units the lane's bucket has now; -1 if its rate is not known yet
    now_ms: int  # the store's clock when the lane was taken (also the claim's notion of "now")
    wait_ms: int  # when nothing is due: ms until the next lane is (-1: no lanes at all)


@dataclass(frozen=True)
class Reserved:
    units: list[str]  # to be stamped when the provider is called
    # Per unit: the provider must not be called for it before this many ms from now. A block's units get room one
    # after another; a message waits for its own units only, not for the block's last.
    waits_ms: list[int]

    @property
    def wait_ms(self) -> int:
        """When the whole block has room."""
        return max(self.waits_ms, default=0)


class Lanes(Protocol):
    def take(self) -> Taken: ...

    def release(self, taken: Taken, *, consumed: int, drained: bool, remove: bool = False) -> Reserved:
        """Reserve `consumed` units, then reschedule the lane for when its bucket has room, or remove it (`remove`,
        or `drained` with no new work announced since it was taken)."""
        ...

    def stamp(self, lane: str, units: list[str]) -> None:
        """The provider is being called now for these reserved units."""
        ...

    def unreserve(self, lane: str, units: list[str]) -> None:
        """These reserved units will not be used (the message failed before any call): give the room back."""
        ...

    def set_rate(self, lane: str, rate: float) -> None: ...

    def free(self, lane: str) -> int: ...

    def kick(self, lanes: dict[str, int]) -> None:
        """Announce work: lane -> ms timestamp when it falls due (0 = now)."""
        ...

    def hold(self, lane: str, millis: int) -> None:
        """Serve this lane no sooner than `millis` from now (a provider's throttling)."""
        ...

    def wait_for_work(self, seconds: float) -> None: ...

    def idle(self) -> bool:
        """No lane at all: nothing due now or later."""
        ...


# Shared by the scripts: the bucket's room, and when it next has room.
_BUCKET_LUA = (
    """
local function bucket(lane, now)
  local spec = redis.call('HGET', 'sesame:lane-rates', lane)
  if not spec then return -1, now end
  local cap, win = string.match(spec, '(%d+):(%d+)')
  cap = tonumber(cap); win = tonumber(win)
  local log = 'sesame:send:' .. lane
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - win)
  local total = redis.call('ZCARD', log)
  -- Room that frees within LOOKAHEAD ms is handed out already; its senders wait for the exact moment (release).
  local used = redis.call('ZCOUNT', log, '(' .. (now + LOOKAHEAD - win), '+inf')
  local need = math.max(1, math.floor(cap / BATCH_SHARE))
  if used + need <= cap then return cap - used, now end
  local freeing = redis.call('ZRANGE', log, total + need - cap - 1, total + need - cap - 1, 'WITHSCORES')
  return 0, tonumber(freeing[2]) + win - LOOKAHEAD
end
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function hold_of(lane)
  return tonumber(redis.call('GET', 'sesame:lane-hold:' .. lane) or '0')
end
local function leased(lane)
  return redis.call('HEXISTS', 'sesame:lane-leases', lane) == 1
end
local function ring()
  redis.call('LPUSH', 'sesame:doorbell', '1')
  redis.call('LTRIM', 'sesame:doorbell', 0, DOORBELL_LAST)
end
""".replace("DOORBELL_LAST", str(_DOORBELL_MAX - 1))
    .replace("BATCH_SHARE", str(_BATCH_SHARE))
    .replace("LOOKAHEAD", str(LOOKAHEAD_MS))
)

_TAKE = (
    _BUCKET_LUA
    + """
local now = clock()
local lease = tonumber(ARGV[1])
for _ = 1, 32 do
  local due = redis.call('ZRANGEBYSCORE', 'sesame:lanes', '-inf', now, 'LIMIT', 0, 1)
  if #due == 0 then
    local nxt = redis.call('ZRANGE', 'sesame:lanes', 0, 0, 'WITHSCORES')
    if #nxt == 0 then return {'', 0, 0, now, -1} end
    return {'', 0, 0, now, tonumber(nxt[2]) - now}
  end
  local lane = due[1]
  local at = hold_of(lane)
  local free = 0
  if at <= now then
    free, at = bucket(lane, now)
  end
  if at <= now then
    redis.call('ZADD', 'sesame:lanes', now + lease, lane)
    redis.call('HSET', 'sesame:lane-leases', lane, now + lease)
    redis.call('DEL', 'sesame:lane-dirty:' .. lane)
    return {lane, now + lease, free, now, 0}
  end
  redis.call('ZADD', 'sesame:lanes', at, lane)
end
return {'', 0, 0, now, 0}
"""
)

_RELEASE = (
    _BUCKET_LUA
    + """
local lane, token, consumed = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local drained, remove = ARGV[4] == '1', ARGV[5] == '1'
local now = clock()
local seq = 0
local answer = {0}
if consumed > 0 then
  local log = 'sesame:send:' .. lane
  local spec = redis.call('HGET', 'sesame:lane-rates', lane)
  for i = 1, consumed do answer[i + 1] = 0 end
  if spec then
    -- The moment each of these units has room: when the entry it replaces leaves the window. Unit i replaces
    -- the entry at index card - cap + i - 1 (oldest first); below 0 there is room already.
    local cap, win = string.match(spec, '(%d+):(%d+)')
    cap = tonumber(cap); win = tonumber(win)
    redis.call('ZREMRANGEBYSCORE', log, '-inf', now - win)
    local card = redis.call('ZCARD', log)
    local over = card + consumed - cap
    if over > 0 then
      local from = math.max(0, card - cap)
      local rows = redis.call('ZRANGE', log, from, over - 1, 'WITHSCORES')
      for j = 1, #rows / 2 do
        local i = from + j - card + cap
        answer[i + 1] = math.max(0, tonumber(rows[2 * j]) + win - now)
      end
    end
  end
  seq = redis.call('INCRBY', 'sesame:send-seq', consumed)
  for i = 1, consumed do
    redis.call('ZADD', log, now + PENDING, seq - i)
  end
  redis.call('PEXPIRE', log, PENDING + 60000)
  answer[1] = seq
end
local score = redis.call('ZSCORE', 'sesame:lanes', lane)
if not score or tonumber(score) ~= token then return answer end
redis.call('HDEL', 'sesame:lane-leases', lane)
local dirty = redis.call('DEL', 'sesame:lane-dirty:' .. lane)
if remove or (drained and dirty == 0) then
  redis.call('ZREM', 'sesame:lanes', lane)
  return answer
end
local _, at = bucket(lane, now)
local hold = hold_of(lane)
if hold > at then at = hold end
redis.call('ZADD', 'sesame:lanes', at, lane)
ring()  -- idle feeders learn the lane's next turn (they saw only the lease while it was taken)
return answer
""".replace("PENDING", str(PENDING_MS))
)

_STAMP = (
    _BUCKET_LUA
    + """
local lane, forget = ARGV[1], ARGV[2] == '1'
local now = clock()
local log = 'sesame:send:' .. lane
for i = 3, #ARGV do
  if forget then
    redis.call('ZREM', log, ARGV[i])
  else
    redis.call('ZADD', log, 'XX', now, ARGV[i])
  end
end
-- The lane may have been parked until a reservation expired: bring it forward (never while a feeder holds it).
if not leased(lane) and redis.call('ZSCORE', 'sesame:lanes', lane) then
  local _, at = bucket(lane, now)
  local hold = hold_of(lane)
  if hold > at then at = hold end
  redis.call('ZADD', 'sesame:lanes', 'XX', 'LT', at, lane)
end
return 1
"""
)

_KICK = (
    _BUCKET_LUA
    + """
local now = clock()
local rang = false
for i = 1, #ARGV, 2 do
  local lane, at = ARGV[i], tonumber(ARGV[i + 1])
  if at < now then at = now end
  redis.call('ZADD', 'sesame:lanes', 'NX', at, lane)
  redis.call('SET', 'sesame:lane-dirty:' .. lane, '1', 'PX', 60000)
  if at <= now + 1000 then rang = true end
end
if rang then ring() end
return 1
"""
)

_HOLD = (
    _BUCKET_LUA
    + """
local now = clock()
local lane, until_ms = ARGV[1], now + tonumber(ARGV[2])
if until_ms > hold_of(lane) then
  redis.call('SET', 'sesame:lane-hold:' .. lane, until_ms, 'PX', tonumber(ARGV[2]) + 1000)
end
redis.call('ZADD', 'sesame:lanes', 'GT', until_ms, lane)
return 1
"""
)

_FREE = (
    _BUCKET_LUA
    + """
local free = bucket(ARGV[1], clock())
return free
"""
)


class RedisLanes:
    def __init__(self, url: str) -> None:
        self._client = redis_client(url)
        self._take = self._client.register_script(_TAKE)
        self._release = self._client.register_script(_RELEASE)
        self._kick = self._client.register_script(_KICK)
        self._hold = self._client.register_script(_HOLD)
        self._free = self._client.register_script(_FREE)
        self._stamp = self._client.register_script(_STAMP)

    def take(self) -> Taken:
        lane, token, free, now, wait = self._take(args=[LEASE_MS])
        return Taken(
            lane=lane.decode() if isinstance(lane, bytes) else str(lane),
            token=int(token),
            free=int(free),
            now_ms=int(now),
            wait_ms=int(wait),
        )

    def release(self, taken: Taken, *, consumed: int, drained: bool, remove: bool = False) -> Reserved:
        seq, *waits = self._release(args=[taken.lane, taken.token, consumed, int(drained), int(remove)])
        return Reserved([str(int(seq) - i) for i in range(1, consumed + 1)], [int(wait) for wait in waits])

    def stamp(self, lane: str, units: list[str]) -> None:
        if units:
            self._stamp(args=[lane, 0, *units])

    def unreserve(self, lane: str, units: list[str]) -> None:
        if units:
            self._stamp(args=[lane, 1, *units])

    def set_rate(self, lane: str, rate: float) -> None:
        capacity, window = window_for(rate)
        self._client.hset("sesame:lane-rates", lane, f"{capacity}:{window}")

    def free(self, lane: str) -> int:
        return int(self._free(args=[lane]))

    def kick(self, lanes: dict[str, int]) -> None:
        if lanes:
            self._kick(args=[item for lane, at in lanes.items() for item in (lane, at)])

    def hold(self, lane: str, millis: int) -> None:
        self._hold(args=[lane, max(1, millis)])

    def wait_for_work(self, seconds: float) -> None:
        # Redis checks blocked clients' timeouts on its own cron (10 times a second by default), so a short BLPOP
        # can oversleep by up to 100 ms: block on the doorbell only for the part of the wait that allows that, and
        # sleep the rest here.
        seconds = min(seconds, 1.0)
        if seconds > _REDIS_TIMER_SLACK:
            self._client.blpop(["sesame:doorbell"], timeout=seconds - _REDIS_TIMER_SLACK)
        else:
            time.sleep(seconds)

    def idle(self) -> bool:
        return int(self._client.zcard("sesame:lanes")) == 0


class LocalLanes:
    """The embedded default (no Redis): the same rules in process memory, for the one worker process `up` runs."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._scores: dict[str, int] = {}
        self._dirty: set[str] = set()
        self._holds: dict[str, int] = {}
        self._rates: dict[str, tuple[int, int]] = {}
        self._logs: dict[str, dict[str, int]] = {}  # lane -> unit -> ms (reserved units: in the future)
        self._leased: set[str] = set()
        self._seq = 0

    @staticmethod
    def _now() -> int:
        return int(time.time() * 1000)

    def _bucket(self, lane: str, now: int) -> tuple[int, int]:
        spec = self._rates.get(lane)
        if spec is None:
            return -1, now
        capacity, window = spec
        log = {unit: at for unit, at in self._logs.get(lane, {}).items() if at > now - window}
        self._logs[lane] = log
        stamps = sorted(log.values())
        used = sum(1 for at in stamps if at > now + LOOKAHEAD_MS - window)
        need = max(1, capacity // _BATCH_SHARE)
        if used + need <= capacity:
            return capacity - used, now
        return 0, stamps[len(stamps) + need - capacity - 1] + window - LOOKAHEAD_MS

    def take(self) -> Taken:
        with self._lock:
            now = self._now()
            for lane, score in sorted(self._scores.items(), key=lambda item: item[1]):
                if score > now:
                    return Taken("", 0, 0, now, score - now)
                free, at = 0, self._holds.get(lane, 0)
                if at <= now:
                    free, at = self._bucket(lane, now)
                if at <= now:
                    self._scores[lane] = now + LEASE_MS
                    self._leased.add(lane)
                    self._dirty.discard(lane)
                    return Taken(lane, now + LEASE_MS, free, now, 0)
                self._scores[lane] = at
            wait = min(self._scores.values(), default=-1)
            return Taken("", 0, 0, now, -1 if wait < 0 else max(0, wait - now))

    def release(self, taken: Taken, *, consumed: int, drained: bool, remove: bool = False) -> Reserved:
        with self._lock:
            now = self._now()
            waits = [0] * consumed
            spec = self._rates.get(taken.lane)
            if consumed and spec:
                capacity, window = spec
                stamps = sorted(at for at in self._logs.get(taken.lane, {}).values() if at > now - window)
                for i in range(consumed):  # unit i replaces the entry at len(stamps) - capacity + i, oldest first
                    replaced = len(stamps) - capacity + i
                    if replaced >= 0:
                        waits[i] = max(0, stamps[replaced] + window - now)
            reserved = Reserved(self._reserve(taken.lane, consumed, now), waits)
            if self._scores.get(taken.lane) != taken.token:
                return reserved
            self._leased.discard(taken.lane)
            dirty = taken.lane in self._dirty
            self._dirty.discard(taken.lane)
            if remove or (drained and not dirty):
                del self._scores[taken.lane]
                return reserved
            _, at = self._bucket(taken.lane, now)
            self._scores[taken.lane] = max(at, self._holds.get(taken.lane, 0))
            self._lock.notify_all()
            return reserved

    def _reserve(self, lane: str, count: int, now: int) -> list[str]:
        units = [str(self._seq + i) for i in range(1, count + 1)]
        self._seq += count
        self._logs.setdefault(lane, {}).update(dict.fromkeys(units, now + PENDING_MS))
        return units

    def stamp(self, lane: str, units: list[str], *, forget: bool = False) -> None:
        with self._lock:
            now = self._now()
            log = self._logs.setdefault(lane, {})
            for unit in units:
                if forget:
                    log.pop(unit, None)
                elif unit in log:
                    log[unit] = now
            if lane not in self._leased and lane in self._scores:
                _, at = self._bucket(lane, now)
                self._scores[lane] = min(self._scores[lane], max(at, self._holds.get(lane, 0)))
                self._lock.notify_all()

    def set_rate(self, lane: str, rate: float) -> None:
        with self._lock:
            self._rates[lane] = window_for(rate)

    def free(self, lane: str) -> int:
        with self._lock:
            return self._bucket(lane, self._now())[0]

    def kick(self, lanes: dict[str, int]) -> None:
        with self._lock:
            now = self._now()
            for lane, at in lanes.items():
                self._scores.setdefault(lane, max(at, now))
                self._dirty.add(lane)
            self._lock.notify_all()

    def hold(self, lane: str, millis: int) -> None:
        with self._lock:
            until = self._now() + millis
            self._holds[lane] = max(until, self._holds.get(lane, 0))
            self._scores[lane] = max(until, self._scores.get(lane, 0))

    def unreserve(self, lane: str, units: list[str]) -> None:
        self.stamp(lane, units, forget=True)

    def wait_for_work(self, seconds: float) -> None:
        with self._lock:
            self._lock.wait(max(0.01, min(seconds, 1.0)))

    def idle(self) -> bool:
        with self._lock:
            return not self._scores


@cache
def _lanes_for(redis_url: str) -> Lanes:
    return RedisLanes(redis_url) if redis_url else LocalLanes()


def lanes() -> Lanes:
    return _lanes_for(settings.REDIS_URL)
