"""The overflow policy of every live buffer (ADR 0003)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from camgate.media.fanout import Closed, Drop, FanOut, Notice


@dataclass(frozen=True)
class Item:
    n: int
    is_keyframe: bool


def gop(start: int, length: int) -> list[Item]:
    return [Item(start + i, i == 0) for i in range(length)]


def drain(subscription) -> list[object]:  # type: ignore[no-untyped-def]
    items = []
    while (item := subscription.get_nowait()) is not None:
        items.append(item)
    return items


def test_late_joiner_starts_at_the_cached_keyframe() -> None:
    fanout: FanOut[Item] = FanOut(subscriber_capacity=10, gop_limit=10)
    for item in gop(0, 3) + gop(3, 3):
        fanout.publish(item)
    subscription = fanout.subscribe()
    assert [i.n for i in drain(subscription)] == [3, 4, 5]


def test_joiner_without_a_cached_gop_waits_for_a_keyframe_without_a_drop_notice() -> None:
    fanout: FanOut[Item] = FanOut(subscriber_capacity=10, gop_limit=10)
    subscription = fanout.subscribe()
    fanout.publish(Item(0, False))
    fanout.publish(Item(1, True))
    assert drain(subscription) == [Item(1, True)]


def test_a_stalled_subscriber_skips_to_the_next_keyframe_and_is_told() -> None:
    fanout: FanOut[Item] = FanOut(subscriber_capacity=4, gop_limit=4)
    subscription = fanout.subscribe()
    items = gop(0, 4) + gop(4, 4) + gop(8, 4)
    for item in items:
        fanout.publish(item)
        assert (
            len(subscription) <= 4 + 1
        )  # bounded (+1: the drop notice): never grows with a stalled reader
    received = drain(subscription)
    drop = received[0]
    assert isinstance(drop, Drop)
    frames = [i for i in received[1:] if isinstance(i, Item)]
    assert frames[0].is_keyframe
    assert [i.n for i in frames] == [8, 9, 10, 11]
    assert drop.frames + len(frames) == len(items)
    assert subscription.dropped_total == drop.frames


def test_a_fast_subscriber_loses_nothing() -> None:
    fanout: FanOut[Item] = FanOut(subscriber_capacity=4, gop_limit=4)
    subscription = fanout.subscribe()
    seen = []
    for item in gop(0, 4) * 5:
        fanout.publish(item)
        seen += drain(subscription)
    assert len(seen) == 20
    assert not any(isinstance(i, Drop) for i in seen)


def test_gop_longer_than_the_cache_makes_new_subscribers_wait() -> None:
    fanout: FanOut[Item] = FanOut(subscriber_capacity=4, gop_limit=3)
    for item in gop(0, 5):
        fanout.publish(item)
    assert fanout.gop == ()
    subscription = fanout.subscribe()
    fanout.publish(Item(5, False))
    fanout.publish(Item(6, True))
    assert drain(subscription) == [Item(6, True)]


def test_notices_are_delivered_in_order_and_survive_overflow() -> None:
    fanout: FanOut[Item] = FanOut(subscriber_capacity=2, gop_limit=2)
    subscription = fanout.subscribe()
    fanout.publish(Item(0, True))
    fanout.notify(Notice("offline", "gone"))
    fanout.publish(Item(1, False))
    fanout.publish(Item(2, False))  # overflow: items go, the notice stays
    fanout.publish(Item(3, True))
    received = drain(subscription)
    assert received[0] == Notice("offline", "gone")
    assert isinstance(received[1], Drop)
    assert received[-1] == Item(3, True)


async def test_get_raises_closed_after_close() -> None:
    fanout: FanOut[Item] = FanOut(subscriber_capacity=2, gop_limit=2)
    subscription = fanout.subscribe()
    fanout.close()
    with pytest.raises(Closed):
        await subscription.get()
    assert fanout.subscriber_count == 0


def test_gop_cache_must_fit_a_queue() -> None:
    with pytest.raises(ValueError):
        FanOut(subscriber_capacity=2, gop_limit=3)
