"""Lanes and send buckets, on Redis and in process memory: one holder per lane, fair turns, and never more than
the rate in any window however many feeders take turns."""

import threading
import time

import pytest

from config.delivery.lanes import LOOKAHEAD_MS, LocalLanes, RedisLanes, window_for


@pytest.fixture(params=["redis", "local"])
def store(request, settings):
    return RedisLanes(settings.REDIS_URL) if request.param == "redis" else LocalLanes()


def test_a_taken_lane_is_not_given_to_another_feeder_until_released(store):
    store.set_rate("email:a", 100)
    store.kick({"email:a": 0})
    first = store.take()
    assert first.lane == "email:a" and first.free == 100
    assert store.take().lane == ""  # held by the first feeder
    store.release(first, consumed=1, drained=False)
    again = store.take()
    assert again.lane == "email:a" and again.free == 99


def test_a_drained_lane_is_removed_but_work_announced_meanwhile_keeps_it(store):
    store.set_rate("email:b", 10)
    store.kick({"email:b": 0})
    taken = store.take()
    store.kick({"email:b": 0})  # a message committed while the feeder claimed
    store.release(taken, consumed=0, drained=True)
    assert not store.idle()
    taken = store.take()
    assert taken.lane == "email:b"
    store.release(taken, consumed=0, drained=True)
    assert store.idle()


def test_lanes_take_turns_in_the_order_they_became_ready(store):
    for lane in ("email:first", "email:second", "email:third"):
        store.set_rate(lane, 100)
        store.kick({lane: 0})
        time.sleep(0.002)
    order = []
    for _ in range(3):
        taken = store.take()
        order.append(taken.lane)
        store.release(taken, consumed=1, drained=False)  # still has work: back of the line
    assert order == ["email:first", "email:second", "email:third"]
    assert store.take().lane == "email:first"


def test_a_held_lane_waits_and_tells_the_feeder_how_long(store):
    store.set_rate("email:c", 10)
    store.kick({"email:c": 0})
    store.hold("email:c", 300)
    taken = store.take()
    assert taken.lane == "" and 200 <= taken.wait_ms <= 300
    time.sleep(0.32)
    assert store.take().lane == "email:c"


def test_reserved_units_count_until_stamped_then_leave_the_window_a_second_after_the_stamp(store, settings):
    settings.SESAME_RATE_GUARD_MS = 0
    store.set_rate("email:d", 2)
    store.kick({"email:d": 0})
    taken = store.take()
    units = store.release(taken, consumed=2, drained=False).units
    assert len(units) == 2
    parked = store.take()
    assert parked.lane == "" and parked.wait_ms > 20_000  # reserved, not yet sent: no room, no busy loop
    time.sleep(0.2)
    store.stamp("email:d", units)  # the provider is called now
    waiting = store.take()
    assert waiting.lane == "" and 900 - LOOKAHEAD_MS <= waiting.wait_ms <= 1010 - LOOKAHEAD_MS
    time.sleep(waiting.wait_ms / 1000 + 0.01)
    assert store.take().free == 2


def test_feeders_taking_turns_never_exceed_the_rate_in_any_window(store):
    rate = 40
    store.set_rate("email:e", rate)
    grants: list[tuple[float, int]] = []
    lock = threading.Lock()
    stop = time.monotonic() + 2.5

    def feeder() -> None:
        while time.monotonic() < stop:
            store.kick({"email:e": 0})
            taken = store.take()
            if not taken.lane:
                time.sleep(0.005)
                continue
            count = min(taken.free, 3)
            reserved = store.release(taken, consumed=count, drained=False)
            # Building the message takes a varying while; the provider is never called before the room is there.
            time.sleep(max(reserved.wait_ms / 1000, 0.01 * (len(grants) % 4)))
            with lock:
                grants.append((time.monotonic(), count))
            store.stamp("email:e", reserved.units)

    threads = [threading.Thread(target=feeder) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # A unit is stamped right after `time.monotonic()` is read here: allow that sliver.
    busiest = max(sum(n for t, n in grants if start <= t < start + 0.99) for start, _ in grants)
    assert busiest <= rate
    assert sum(n for _, n in grants) >= 2 * rate  # the budget is used, not just respected


def test_connections_do_not_share_a_bucket(store):
    for lane in ("email:f", "email:g"):
        store.set_rate(lane, 1)
        store.kick({lane: 0})
        taken = store.take()
        assert taken.free == 1
        store.release(taken, consumed=1, drained=False)


def test_rates_below_one_per_second_grant_one_unit_per_interval(settings):
    settings.SESAME_RATE_GUARD_MS = 0
    assert window_for(0.5) == (1, 2000)
    assert window_for(14.9) == (14, 1000)


def test_room_freeing_within_the_lookahead_is_handed_out_with_the_moment_it_frees(store, settings):
    settings.SESAME_RATE_GUARD_MS = 0
    store.set_rate("email:h", 2)
    store.kick({"email:h": 0})
    first = store.take()
    store.stamp("email:h", store.release(first, consumed=2, drained=False).units)
    time.sleep(1.0 - LOOKAHEAD_MS / 1000 / 2)  # the two units leave the window in about LOOKAHEAD_MS / 2
    early = store.take()
    assert early.lane == "email:h" and early.free == 2
    reserved = store.release(early, consumed=2, drained=False)
    assert 0 < reserved.wait_ms <= LOOKAHEAD_MS  # the sender waits until the room is really there


def test_a_block_of_units_waits_only_for_the_units_whose_room_is_still_freeing(store, settings):
    settings.SESAME_RATE_GUARD_MS = 0
    store.set_rate("email:i", 3)
    store.kick({"email:i": 0})
    first = store.take()
    store.stamp("email:i", store.release(first, consumed=1, drained=False).units)
    time.sleep(1.0 - LOOKAHEAD_MS / 1000 / 2)  # two units have room; the third frees in about LOOKAHEAD_MS / 2
    taken = store.take()
    assert taken.lane == "email:i" and taken.free == 3
    reserved = store.release(taken, consumed=3, drained=False)
    assert len(reserved.units) == 3
    assert reserved.waits_ms[:2] == [0, 0]  # the first two go at once
    assert 0 < reserved.waits_ms[2] <= LOOKAHEAD_MS  # the third, when the unit it replaces leaves the window
