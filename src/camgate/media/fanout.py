"""Fan-out of one stream's items to many subscribers, with a GOP cache and bounded queues.

Overflow policy (ADR 0003): a subscriber's queue holds at most ``capacity`` items. When an item
arrives at a full queue, everything queued is discarded and the subscriber skips items until the
next keyframe; before that keyframe it receives one :class:`Drop` telling how many frames it lost.
So memory never grows with a stalled subscriber, and what it receives always decodes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

#: Notices kept for a subscriber that does not read.
MAX_NOTICES = 16


class Keyed(Protocol):
    @property
    def is_keyframe(self) -> bool: ...


T = TypeVar("T", bound=Keyed)


@dataclass(frozen=True, slots=True)
class Drop:
    """The subscriber was too slow: ``frames`` were skipped; the next item is a keyframe."""

    frames: int


@dataclass(frozen=True, slots=True)
class Notice:
    """Something about the stream itself (online, offline), delivered in order with the items."""

    status: str
    detail: str = ""


class Closed(Exception):
    """The subscription ended: the stream went away or the subscriber was closed."""


class Subscription(Generic[T]):
    """One subscriber's bounded queue. Filled on the event loop, read with :meth:`get`."""

    def __init__(self, fanout: FanOut[T], capacity: int) -> None:
        self._fanout = fanout
        self._capacity = capacity
        self._queue: deque[T | Drop | Notice] = deque()
        #: Frames in the queue; notices do not count against the capacity.
        self._frames = 0
        self._ready = asyncio.Event()
        self._skipping = False
        self._skipped = 0
        #: Whether skipped frames count as lost (not while waiting for the first keyframe).
        self._reporting = True
        self._closed = False
        #: Frames this subscriber lost to overflow, over its whole life.
        self.dropped_total = 0

    def offer(self, item: T) -> None:
        if self._closed:
            return
        if self._skipping:
            if not item.is_keyframe:
                self._lose(1)
                return
            if self._skipped:
                self._queue.append(Drop(self._skipped))
            self._skipping = False
            self._skipped = 0
        elif self._frames >= self._capacity:
            self._overflow()
            self.offer(item)
            return
        self._queue.append(item)
        self._frames += 1
        self._ready.set()

    def _lose(self, frames: int) -> None:
        if self._reporting:
            self._skipped += frames
            self.dropped_total += frames

    def _overflow(self) -> None:
        """Discard the queue (keeping notices) and skip to the next keyframe."""
        lost = 0
        for queued in self._queue:
            # The count of a Drop not yet delivered carries over into the next one.
            if isinstance(queued, Drop):
                self._skipped += queued.frames
            elif not isinstance(queued, Notice):
                lost += 1
        self._queue = deque(q for q in self._queue if isinstance(q, Notice))
        self._frames = 0
        self._skipping = True
        self._reporting = True
        self._lose(lost)

    def start_skipping(self) -> None:
        """Begin at the next keyframe (nothing is cached); what passes before is not a loss."""
        self._skipping = True
        self._reporting = False

    def notify(self, notice: Notice) -> None:
        if self._closed:
            return
        if len(self._queue) - self._frames >= MAX_NOTICES:
            # A flapping camera and a stalled viewer: only the latest notices matter.
            oldest = next(q for q in self._queue if isinstance(q, Notice))
            self._queue.remove(oldest)
        self._queue.append(notice)
        self._ready.set()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._fanout.unsubscribe(self)
            self._ready.set()

    def __len__(self) -> int:
        return len(self._queue)

    def get_nowait(self) -> T | Drop | Notice | None:
        if self._queue:
            item = self._queue.popleft()
            if not isinstance(item, Drop | Notice):
                self._frames -= 1
            return item
        if self._closed:
            raise Closed
        self._ready.clear()
        return None

    async def get(self) -> T | Drop | Notice:
        """The next item; raises :class:`Closed` once the subscription has ended."""
        while True:
            item = self.get_nowait()
            if item is not None:
                return item
            await self._ready.wait()

    def __enter__(self) -> Subscription[T]:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class FanOut(Generic[T]):
    """Publishes each item once to every subscriber; new ones start at the cached keyframe."""

    def __init__(self, *, subscriber_capacity: int, gop_limit: int) -> None:
        if gop_limit > subscriber_capacity:
            raise ValueError("the GOP cache must fit a subscriber's queue")
        self._capacity = subscriber_capacity
        self._gop_limit = gop_limit
        self._gop: list[T] = []
        self._subscribers: set[Subscription[T]] = set()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @property
    def gop(self) -> tuple[T, ...]:
        """The items since the latest keyframe (empty until one arrives)."""
        return tuple(self._gop)

    def publish(self, item: T) -> None:
        if item.is_keyframe:
            self._gop = [item]
        elif self._gop:
            if len(self._gop) < self._gop_limit:
                self._gop.append(item)
            else:
                # A GOP longer than the cache: new subscribers wait for the next keyframe.
                self._gop = []
        for subscriber in tuple(self._subscribers):
            subscriber.offer(item)

    def notify(self, notice: Notice) -> None:
        for subscriber in tuple(self._subscribers):
            subscriber.notify(notice)

    def reset(self) -> None:
        """Forget the cached GOP (the source restarted: what is cached no longer continues)."""
        self._gop = []

    def subscribe(self) -> Subscription[T]:
        subscription = Subscription(self, self._capacity)
        if self._gop:
            for item in self._gop:
                subscription.offer(item)
        else:
            subscription.start_skipping()
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription[T]) -> None:
        self._subscribers.discard(subscription)

    def close(self) -> None:
        for subscriber in tuple(self._subscribers):
            subscriber.close()
