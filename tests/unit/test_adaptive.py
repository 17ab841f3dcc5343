"""Adaptive streaming: which stream each mode gives for each request."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camgate.media.adaptive import StreamShape, choose_for_request, is_enough, reduce_request
from camgate.settings import StreamingMode

QUALITY = StreamingMode.OPTIMIZE_VIDEO_QUALITY
SERVER = StreamingMode.OPTIMIZE_SERVER_PERFORMANCE
BANDWIDTH = StreamingMode.OPTIMIZE_LOW_BANDWIDTH

HD = StreamShape("hd", 1920, 1080)
MID = StreamShape("mid", 1280, 720)
LOW = StreamShape("low", 640, 360)
#: A camera's streams in the usual order: the main (highest) one first.
LADDER = [HD, MID, LOW]


def choose(
    request: tuple[int, int],
    mode: StreamingMode = QUALITY,
    *,
    streams: list[StreamShape] = LADDER,
    adaptive: bool = True,
    zoomed: bool = False,
    default_index: int = 0,
) -> str:
    return choose_for_request(
        streams,
        *request,
        mode,
        adaptive=adaptive,
        zoomed=zoomed,
        default_index=default_index,
    ).stream_id


# Every mode × a grid of requests that crosses each rung's boundary (w, h, quality, server).
CASES = [
    ((320, 180), "low", "low"),
    ((640, 360), "low", "low"),
    ((641, 361), "mid", "low"),
    ((640, 480), "low", "low"),  # 16:9 fitted into 4:3: width 640 suffices
    ((480, 360), "low", "low"),
    ((800, 200), "low", "low"),  # a wide strip: height 360 suffices
    ((1280, 720), "mid", "low"),
    ((1282, 722), "hd", "mid"),
    ((1280, 960), "mid", "low"),
    ((1920, 1080), "hd", "mid"),
    ((2562, 1442), "hd", "hd"),  # reduced to 1281×721: only the highest is enough
    ((3840, 2160), "hd", "hd"),  # nothing is enough: the highest
    ((1, 1), "low", "low"),
]


@pytest.mark.parametrize(("request_size", "quality", "server"), CASES)
def test_every_mode_for_every_request(
    request_size: tuple[int, int], quality: str, server: str
) -> None:
    assert choose(request_size, QUALITY) == quality
    assert choose(request_size, SERVER) == server
    assert choose(request_size, BANDWIDTH) == "low"
    for mode in StreamingMode:
        assert choose(request_size, mode, zoomed=True) == "hd"
        assert choose(request_size, mode, adaptive=False) == "hd"
        assert choose(request_size, mode, adaptive=False, default_index=2) == "low"
        assert choose(request_size, mode, adaptive=False, zoomed=True, default_index=1) == "mid"


def test_order_of_the_streams_does_not_matter_but_ties_go_to_the_first() -> None:
    streams = [LOW, HD, MID]
    assert choose((1000, 600), streams=streams) == "mid"
    assert choose((1, 1), BANDWIDTH, streams=streams) == "low"
    assert choose((1, 1), streams=streams, zoomed=True) == "hd"
    twins = [StreamShape("a", 640, 360), StreamShape("b", 640, 360), StreamShape("c", 360, 640)]
    for mode in StreamingMode:
        assert choose((100, 100), mode, streams=twins) == "a"
        assert choose((100, 100), mode, streams=twins, zoomed=True) == "a"
    assert choose((10_000, 10_000), streams=twins) == "a"


def test_portrait_streams() -> None:
    corridor = StreamShape("corridor", 1080, 1920)
    streams = [corridor, StreamShape("small", 360, 640)]
    assert choose((360, 640), streams=streams) == "small"
    assert choose((400, 700), streams=streams) == "corridor"
    assert choose((400, 700), SERVER, streams=streams) == "small"


def test_a_single_stream_is_always_chosen() -> None:
    for mode in StreamingMode:
        for zoomed in (False, True):
            assert choose((5000, 5000), mode, streams=[LOW], zoomed=zoomed) == "low"


def test_no_stream_is_an_error() -> None:
    with pytest.raises(ValueError):
        choose((640, 360), streams=[])


def test_reduce_request_halves_each_side() -> None:
    assert reduce_request(1920, 1080) == (960, 540)
    assert reduce_request(641, 1) == (321, 1)


sizes = st.integers(1, 4000)
shapes = st.lists(st.builds(StreamShape, st.text(max_size=3), sizes, sizes), min_size=1, max_size=6)


@given(shapes, sizes, sizes)
def test_quality_gives_the_lowest_stream_that_is_enough(
    streams: list[StreamShape], w: int, h: int
) -> None:
    chosen = choose_for_request(streams, w, h, QUALITY, adaptive=True, zoomed=False)
    enough = [s for s in streams if s.width >= w or s.height >= h]
    if enough:
        assert is_enough(chosen, w, h)
        assert chosen.pixels == min(s.pixels for s in enough)
        assert chosen is next(s for s in enough if s.pixels == chosen.pixels)
    else:
        assert chosen is max(streams, key=lambda s: s.pixels)


@given(shapes, sizes, sizes)
def test_server_performance_never_gives_more_than_quality(
    streams: list[StreamShape], w: int, h: int
) -> None:
    quality = choose_for_request(streams, w, h, QUALITY, adaptive=True, zoomed=False)
    server = choose_for_request(streams, w, h, SERVER, adaptive=True, zoomed=False)
    low = choose_for_request(streams, w, h, BANDWIDTH, adaptive=True, zoomed=False)
    zoom = choose_for_request(streams, w, h, SERVER, adaptive=True, zoomed=True)
    assert low.pixels <= server.pixels <= quality.pixels <= zoom.pixels
    assert zoom.pixels == max(s.pixels for s in streams)
    assert low.pixels == min(s.pixels for s in streams)


@given(shapes, sizes, sizes, sizes, sizes)
def test_a_bigger_request_never_gets_a_smaller_stream(
    streams: list[StreamShape], w: int, h: int, dw: int, dh: int
) -> None:
    for mode in (QUALITY, SERVER):
        small = choose_for_request(streams, w, h, mode, adaptive=True, zoomed=False)
        big = choose_for_request(streams, w + dw, h + dh, mode, adaptive=True, zoomed=False)
        assert big.pixels >= small.pixels
