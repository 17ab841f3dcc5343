from __future__ import annotations

import pytest

from camgate.core.errors import CamgateError, ErrorKind
from camgate.live.select import Candidate, choose_stream, parse_codecs

STREAMS = [
    Candidate("a", 0, "h264", 1920, 1080),
    Candidate("b", 1, "h264", 1280, 720),
    Candidate("c", 2, "h264", 640, 360),
]


def test_default_is_the_highest_resolution() -> None:
    assert choose_stream(STREAMS[::-1], None, parse_codecs(None)).stream_id == "a"


def test_requested_stream_wins() -> None:
    assert choose_stream(STREAMS, "c", parse_codecs(None)).stream_id == "c"


def test_unknown_stream_is_not_found() -> None:
    with pytest.raises(CamgateError) as caught:
        choose_stream(STREAMS, "zzz", parse_codecs(None))
    assert caught.value.kind is ErrorKind.NOT_FOUND


def test_hevc_only_for_clients_that_declare_it() -> None:
    streams = [Candidate("h", 0, "hevc", 3840, 2160), *STREAMS]
    assert choose_stream(streams, None, parse_codecs(None)).stream_id == "a"
    assert choose_stream(streams, None, parse_codecs("h264,hevc")).stream_id == "h"
    with pytest.raises(CamgateError):
        choose_stream(streams, "h", parse_codecs("h264"))


def test_not_yet_connected_streams_fall_back_to_configured_order() -> None:
    streams = [Candidate("x", 1, "", 0, 0), Candidate("y", 0, "", 0, 0)]
    assert choose_stream(streams, None, parse_codecs(None)).stream_id == "y"


def test_codec_aliases() -> None:
    assert parse_codecs("avc1, H265") == frozenset({"h264", "hevc"})
