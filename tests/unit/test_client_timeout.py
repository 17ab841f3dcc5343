"""The client timeout (U3): what counts as a sign of life, and what ends with a silent session."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from camgate.identity.liveness import Liveness
from camgate.live.timeout import ClientTimeout
from camgate.live.viewers import Delivery, Viewer, ViewerRegistry
from tests.support.clock import FakeClock

TIMEOUT_S = 30.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry() -> ViewerRegistry:
    return ViewerRegistry()


@pytest.fixture
def liveness() -> Liveness:
    return Liveness()


@pytest.fixture
def timeout(clock: FakeClock, registry: ViewerRegistry, liveness: Liveness) -> ClientTimeout:
    async def no_login(_session_id: str) -> None:
        raise AssertionError("expire() does not touch logins")

    return ClientTimeout(liveness, registry, clock, timeout_s=lambda: TIMEOUT_S, end_login=no_login)


def watch(registry: ViewerRegistry, session_id: str) -> Iterator[Viewer]:
    with registry.watching(
        session_id=session_id,
        username="bob",
        camera_id="c",
        stream_id="s",
        delivery=Delivery.DIRECT,
        protocol="websocket",
        now=0.0,
    ) as viewer:
        yield viewer


def test_liveness_keeps_the_latest_sign_and_finds_the_silent() -> None:
    liveness = Liveness()
    liveness.seen("a", "alice", 10.0)
    liveness.seen("b", "bob", 10.0)
    liveness.seen("a", "alice", 35.0)
    liveness.seen("a", "alice", 20.0)  # an older reading does not move it back
    assert liveness.silent(41.0, 30.0) == ["b"]
    assert liveness.silent(40.0, 30.0) == []  # exactly the timeout is not longer than it
    liveness.seen_again(["b", "unknown"], 41.0)
    assert liveness.silent(41.0, 30.0) == [] and dict(liveness.sessions()) == {
        "a": "alice",
        "b": "bob",
    }
    liveness.forget("a")
    assert dict(liveness.sessions()) == {"b": "bob"}


def test_a_silent_session_ends_with_its_streams(
    clock: FakeClock, registry: ViewerRegistry, liveness: Liveness, timeout: ClientTimeout
) -> None:
    liveness.seen("quiet", "bob", clock.monotonic())
    liveness.seen("talking", "alice", clock.monotonic())
    streams = watch(registry, "quiet")
    viewer = next(streams)
    clock.t += TIMEOUT_S
    liveness.seen("talking", "alice", clock.monotonic())
    assert timeout.expire() == []
    clock.t += 1
    assert timeout.expire() == ["quiet"]
    assert viewer.ended.is_set()
    assert dict(liveness.sessions()) == {"talking": "alice"}
    assert liveness.timed_out == 1
    assert timeout.expire() == []  # ended once


def test_video_taken_by_the_client_is_a_sign_of_life(
    clock: FakeClock, registry: ViewerRegistry, liveness: Liveness, timeout: ClientTimeout
) -> None:
    liveness.seen("player", "bob", clock.monotonic())
    streams = watch(registry, "player")
    viewer = next(streams)
    for _ in range(5):  # a player (VLC with a media URL) that never sends anything
        clock.t += TIMEOUT_S / 2
        viewer.sent(1000)
        assert timeout.expire() == []
    # The client vanished: its connection takes nothing more.
    clock.t += TIMEOUT_S / 2
    assert timeout.expire() == []
    clock.t += TIMEOUT_S / 2 + 1
    assert timeout.expire() == ["player"] and viewer.ended.is_set()


def test_the_login_is_ended_and_retried_until_the_database_takes_it(
    clock: FakeClock, registry: ViewerRegistry, liveness: Liveness
) -> None:
    attempts: list[str] = []
    ended = asyncio.Event()

    async def end_login(session_id: str) -> None:
        attempts.append(session_id)
        if len(attempts) == 1:
            raise RuntimeError("database is locked")
        ended.set()

    timeout = ClientTimeout(
        liveness, registry, clock, timeout_s=lambda: TIMEOUT_S, end_login=end_login
    )
    liveness.seen("quiet", "bob", clock.monotonic())
    clock.t += TIMEOUT_S + 1

    async def three_checks() -> None:
        task = asyncio.create_task(timeout.run())
        await asyncio.wait_for(ended.wait(), 5)
        await asyncio.sleep(1.2)  # a third check would end it a third time
        task.cancel()

    asyncio.run(three_checks())
    assert attempts == ["quiet", "quiet"]
