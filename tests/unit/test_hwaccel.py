"""Hardware decoding without a device: the choice of kinds, the memo of failures, the fallback.

PyAV contexts are replaced by :class:`FakeContext` (the ``opener`` seam), so these tests run the
decision and the probation logic alone; tests/component/test_hwaccel_decode.py decodes for real.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import av
import pytest
from hypothesis import given
from hypothesis import strategies as st

from camgate.media.hwaccel import (
    FAILED_MEMORY,
    PREFERENCE,
    PROBATION_PACKETS,
    SOFTWARE,
    FailedDevices,
    HardwareDecoders,
    HardwareUnavailable,
    candidates,
)

KINDS = st.sampled_from([*PREFERENCE, "drm", "amf", "vulkan", "opencl"])


def broken() -> av.FFmpegError:
    return av.error.InvalidDataError(1094995529, "Invalid data found when processing input")


@dataclass
class FakeContext:
    """A decoder context: one frame per packet (its packet, as a stand-in), failing on demand."""

    kind: str
    #: Packets (by position, from 0) whose decode raises.
    fail_at: set[int] = field(default_factory=set)
    #: Packets that give no picture.
    silent: bool = False
    packets: list[object] = field(default_factory=list)
    flushes: int = 0

    def decode(self, packet: object = None) -> list[object]:
        if packet is None:
            return []
        self.packets.append(packet)
        if len(self.packets) - 1 in self.fail_at:
            raise broken()
        return [] if self.silent else [(self.kind, packet)]

    def flush_buffers(self) -> None:
        self.flushes += 1


@dataclass
class Devices:
    """The ``opener`` seam: hands out fake contexts and records what was opened."""

    unavailable: dict[str, Exception] = field(default_factory=dict)
    hardware: Callable[[str], FakeContext] = lambda kind: FakeContext(kind)
    software_fails_at: set[int] = field(default_factory=set)
    opened: list[str] = field(default_factory=list)
    contexts: list[FakeContext] = field(default_factory=list)

    def __call__(self, codec: str, kind: str, extradata: bytes, threads: int | None) -> FakeContext:
        self.opened.append(kind)
        if kind in self.unavailable:
            raise self.unavailable[kind]
        if kind == SOFTWARE:
            context = FakeContext(SOFTWARE, fail_at=set(self.software_fails_at))
        else:
            context = self.hardware(kind)
        self.contexts.append(context)
        return context


def decoders(devices: Devices, offered: Sequence[str] = ("cuda", "vaapi")) -> HardwareDecoders:
    return HardwareDecoders(devices=lambda codec: offered, opener=devices)


# --- the decision ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefer", "offered", "failed", "expected"),
    [
        (False, PREFERENCE, (), (SOFTWARE,)),
        (False, (), (), (SOFTWARE,)),
        (True, (), (), (SOFTWARE,)),
        (True, ("cuda",), (), ("cuda", SOFTWARE)),
        (True, ("qsv", "vaapi", "cuda"), (), ("cuda", "vaapi", "qsv", SOFTWARE)),
        (True, ("qsv", "vaapi", "cuda"), ("cuda",), ("vaapi", "qsv", SOFTWARE)),
        (True, ("cuda",), ("cuda",), (SOFTWARE,)),
        (True, ("videotoolbox", "d3d11va"), (), ("d3d11va", "videotoolbox", SOFTWARE)),
        (True, ("drm", "amf", "vulkan"), (), (SOFTWARE,)),  # built in, but no decoding back end
        (True, ("cuda",), ("vaapi",), ("cuda", SOFTWARE)),  # a failure elsewhere changes nothing
    ],
)
def test_candidates(
    prefer: bool, offered: Sequence[str], failed: Sequence[str], expected: tuple[str, ...]
) -> None:
    assert candidates(prefer, offered, failed) == expected


@given(st.booleans(), st.sets(KINDS), st.sets(KINDS))
def test_candidates_are_the_usable_devices_in_preference_order_then_software(
    prefer: bool, offered: set[str], failed: set[str]
) -> None:
    chosen = candidates(prefer, offered, failed)
    assert chosen[-1] == SOFTWARE
    hardware = chosen[:-1]
    if not prefer:
        assert hardware == ()
    else:
        assert set(hardware) == (offered - failed) & set(PREFERENCE)
    assert list(hardware) == sorted(hardware, key=PREFERENCE.index)


# --- the memo ----------------------------------------------------------------------------------


def test_failures_are_remembered_per_codec() -> None:
    failed = FailedDevices()
    failed.add("h264", "cuda")
    failed.add("hevc", "vaapi")
    failed.add("h264", "cuda")
    assert failed.of("h264") == {"cuda"}
    assert failed.of("hevc") == {"vaapi"}
    assert failed.of("mjpeg") == frozenset()


def test_the_memo_is_bounded_and_forgets_the_oldest_first() -> None:
    failed = FailedDevices(limit=3)
    for codec in ("a", "b", "c"):
        failed.add(codec, "cuda")
    failed.add("a", "cuda")  # remembered again: now the newest
    failed.add("d", "cuda")
    assert [codec for codec in "abcd" if failed.of(codec)] == ["a", "c", "d"]


def test_the_memo_stays_bounded_under_threads() -> None:
    failed = FailedDevices()
    start = threading.Barrier(4)

    def add(worker: int) -> None:
        start.wait()
        for index in range(500):
            failed.add(f"codec{worker}-{index}", PREFERENCE[index % len(PREFERENCE)])
            failed.of(f"codec{worker}-{index}")

    threads = [threading.Thread(target=add, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    remembered = [(w, i) for w in range(4) for i in range(500) if failed.of(f"codec{w}-{i}")]
    assert len(remembered) == FAILED_MEMORY


# --- opening -----------------------------------------------------------------------------------


def test_off_never_tries_hardware() -> None:
    devices = Devices()
    pool = decoders(devices, offered=PREFERENCE)
    decoder = pool.open("h264", b"", prefer_hardware=False)
    assert decoder.kind == SOFTWARE
    assert devices.opened == [SOFTWARE]
    assert pool.in_use() == SOFTWARE


def test_auto_opens_the_best_device() -> None:
    devices = Devices()
    pool = decoders(devices, offered=("vaapi", "cuda"))
    decoder = pool.open("h264", b"", prefer_hardware=True)
    assert decoder.kind == "cuda"
    assert devices.opened == ["cuda"]
    assert pool.in_use() == "cuda"


@pytest.mark.parametrize(
    "error", [av.error.PermissionError(1, "Operation not permitted"), HardwareUnavailable("no")]
)
def test_a_device_that_cannot_open_is_skipped_and_remembered(error: Exception) -> None:
    devices = Devices(unavailable={"cuda": error})
    pool = decoders(devices)
    assert pool.open("h264", b"", prefer_hardware=True).kind == "vaapi"
    assert pool.failed.of("h264") == {"cuda"}
    assert pool.open("h264", b"", prefer_hardware=True).kind == "vaapi"
    assert devices.opened == ["cuda", "vaapi", "vaapi"]  # cuda was not tried again
    pool.open("hevc", b"", prefer_hardware=True)
    assert devices.opened[-2:] == ["cuda", "vaapi"]  # remembered for h264 only


def test_with_every_device_failing_it_decodes_in_software() -> None:
    unavailable: dict[str, Exception] = {"cuda": broken(), "vaapi": HardwareUnavailable("no")}
    devices = Devices(unavailable=unavailable)
    pool = decoders(devices)
    assert pool.open("h264", b"", prefer_hardware=True).kind == SOFTWARE
    assert devices.opened == ["cuda", "vaapi", SOFTWARE]
    assert pool.failed.of("h264") == {"cuda", "vaapi"}


def test_a_software_decoder_that_cannot_open_is_an_error() -> None:
    devices = Devices(unavailable={SOFTWARE: broken()})
    with pytest.raises(av.FFmpegError):
        decoders(devices).open("h264", b"", prefer_hardware=False)


# --- what is in use ----------------------------------------------------------------------------


def test_in_use_counts_the_open_decoders() -> None:
    pool = decoders(Devices())
    assert pool.in_use() == SOFTWARE  # nothing opened yet
    hardware = [pool.open("h264", b"", prefer_hardware=True) for _ in range(2)]
    software = pool.open("h264", b"", prefer_hardware=False)
    assert pool.in_use() == "cuda+software"
    software.close()
    hardware[0].close()
    assert pool.in_use() == "cuda"
    hardware[1].close()
    hardware[1].close()  # closing twice counts once
    assert pool.in_use() == "software"  # none open: the last one opened was in software
    again = pool.open("h264", b"", prefer_hardware=True)
    again.close()
    assert pool.in_use() == "cuda"


def test_closing_flushes_the_context() -> None:
    devices = Devices()
    decoder = decoders(devices).open("h264", b"", prefer_hardware=False)
    decoder.close()
    assert devices.contexts[0].flushes == 1


# --- probation ---------------------------------------------------------------------------------


def test_a_device_failing_on_the_first_packet_hands_over_to_software() -> None:
    devices = Devices(hardware=lambda kind: FakeContext(kind, fail_at={0}))
    pool = decoders(devices)
    decoder = pool.open("h264", b"", prefer_hardware=True)
    assert pool.in_use() == "cuda"
    assert decoder.decode("key") == [(SOFTWARE, "key")]
    assert decoder.kind == SOFTWARE
    assert pool.in_use() == SOFTWARE
    assert pool.failed.of("h264") == {"cuda"}
    assert devices.contexts[0].flushes == 1  # the device's context is flushed before it goes
    assert decoder.decode("next") == [(SOFTWARE, "next")]
    assert pool.open("h264", b"", prefer_hardware=True).kind == "vaapi"


def test_packets_taken_before_the_failure_are_decoded_again_in_software() -> None:
    devices = Devices(hardware=lambda kind: FakeContext(kind, fail_at={2}, silent=True))
    decoder = decoders(devices).open("h264", b"", prefer_hardware=True)
    assert decoder.decode("a") == []
    assert decoder.decode("b") == []
    assert decoder.decode("c") == [(SOFTWARE, "a"), (SOFTWARE, "b"), (SOFTWARE, "c")]


def test_a_failure_while_draining_hands_over_too() -> None:
    class FailsDraining(FakeContext):
        def decode(self, packet: object = None) -> list[object]:
            if packet is None:
                raise broken()
            return super().decode(packet)

    devices = Devices(hardware=lambda kind: FailsDraining(kind, silent=True))
    pool = decoders(devices)
    decoder = pool.open("h264", b"", prefer_hardware=True)
    assert decoder.decode("key") == []
    assert decoder.decode(None) == [(SOFTWARE, "key")]
    assert pool.failed.of("h264") == {"cuda"}


def test_a_proven_device_keeps_its_errors() -> None:
    devices = Devices(hardware=lambda kind: FakeContext(kind, fail_at={1}))
    pool = decoders(devices)
    decoder = pool.open("h264", b"", prefer_hardware=True)
    assert decoder.decode("key") == [("cuda", "key")]
    with pytest.raises(av.FFmpegError):
        decoder.decode("broken")  # a broken packet, as in software: the caller skips ahead
    assert decoder.kind == "cuda"
    assert pool.failed.of("h264") == frozenset()


def test_a_packet_software_cannot_decode_either_does_not_blame_the_device() -> None:
    devices = Devices(hardware=lambda kind: FakeContext(kind, fail_at={0}), software_fails_at={0})
    pool = decoders(devices)
    decoder = pool.open("h264", b"", prefer_hardware=True)
    with pytest.raises(av.FFmpegError):
        decoder.decode("broken")
    assert decoder.kind == SOFTWARE
    assert pool.failed.of("h264") == frozenset()
    assert pool.open("h264", b"", prefer_hardware=True).kind == "cuda"


def test_a_device_silent_for_too_long_counts_as_failed() -> None:
    devices = Devices(hardware=lambda kind: FakeContext(kind, silent=True))
    pool = decoders(devices)
    decoder = pool.open("h264", b"", prefer_hardware=True)
    for index in range(PROBATION_PACKETS):
        assert decoder.decode(index) == []
    frames = decoder.decode(PROBATION_PACKETS)
    assert frames == [(SOFTWARE, index) for index in range(PROBATION_PACKETS + 1)]
    assert pool.failed.of("h264") == {"cuda"}


def test_a_flush_forgets_the_held_packets() -> None:
    devices = Devices(hardware=lambda kind: FakeContext(kind, fail_at={1}, silent=True))
    decoder = decoders(devices).open("h264", b"", prefer_hardware=True)
    decoder.decode("old")
    decoder.flush_buffers()
    assert decoder.decode("key") == [(SOFTWARE, "key")]
