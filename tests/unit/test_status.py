from __future__ import annotations

from camgate.live.viewers import Delivery, ViewerRegistry
from camgate.status.service import StatusService
from tests.support.clock import FakeClock


def test_status_counts_streams_and_rates_per_session() -> None:
    clock = FakeClock()
    registry = ViewerRegistry()
    cpu = iter([0.0, 42.0, 55.0])
    service = StatusService(
        clock,
        registry,
        cpu_percent=lambda: next(cpu),
        level=lambda: 2,
        hardware_decoding=lambda: "cuda",
    )

    def watch(session: str, user: str, delivery: Delivery):  # type: ignore[no-untyped-def]
        return registry.watching(
            session_id=session,
            username=user,
            camera_id="c",
            stream_id="s",
            delivery=delivery,
            protocol="websocket",
            now=clock.now(),
        )

    with (
        watch("s1", "bob", Delivery.DIRECT) as a,
        watch("s1", "bob", Delivery.DIRECT) as b,
        watch("s1", "bob", Delivery.TRANSCODED) as c,
        watch("s2", "alice", Delivery.DIRECT) as d,
    ):
        clock.t += 5
        a.sent(50_000)
        b.sent(25_000)
        c.sent(25_000)
        d.sent(10_000)
        service.sample()
        status = service.status()
    assert status.cpu_percent == 42.0
    assert status.level == 2 and status.hardware_decoding == "cuda"
    assert status.bandwidth_out_kbps == round(110_000 * 8 / 5 / 1000, 1)
    alice, bob = status.users
    assert (bob.user, bob.direct_video_streams, bob.transcoded_video_streams) == ("bob", 2, 1)
    assert bob.video_kBps == 20.0  # 100 kB over 5 s
    assert (alice.user, alice.direct_video_streams, alice.video_kBps) == ("alice", 1, 2.0)
    assert bob.state == "Logged in"
    # Streams that closed leave the table; the history keeps its readings.
    clock.t += 5
    service.sample()
    later = service.status()
    assert later.users == ()
    assert [s.percent for s in later.cpu_history] == [42.0, 55.0]
