"""Every fallback case of the manual, and their order."""

from __future__ import annotations

import itertools

import pytest

from camgate.live.fallback import FallbackReason, fallback_reason

H264 = frozenset({"h264"})
BOTH = frozenset({"h264", "hevc"})
DIRECT = {
    "direct_enabled": True,
    "has_privacy_masks": False,
    "stream_codec": "h264",
    "client_codecs": H264,
    "stream_fps": 30.0,
}


def test_direct_when_nothing_stands_in_the_way() -> None:
    assert fallback_reason(**DIRECT) is None  # type: ignore[arg-type]
    assert fallback_reason(**{**DIRECT, "stream_codec": "hevc", "client_codecs": BOTH}) is None  # type: ignore[arg-type]
    assert fallback_reason(**{**DIRECT, "stream_fps": 0.0}) is None  # type: ignore[arg-type]  # not known yet


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"has_privacy_masks": True}, FallbackReason.PRIVACY_MASK),
        ({"direct_enabled": False}, FallbackReason.DIRECT_DISABLED),
        ({"stream_codec": "hevc"}, FallbackReason.CODEC_UNSUPPORTED),
        ({"stream_fps": 1.0}, FallbackReason.LOW_FRAME_RATE),
        ({"client_reason": FallbackReason.NOT_STARTED}, FallbackReason.NOT_STARTED),
        ({"client_reason": FallbackReason.CONNECTION_LOST}, FallbackReason.CONNECTION_LOST),
        ({"client_reason": FallbackReason.REQUESTED}, FallbackReason.REQUESTED),
    ],
)
def test_each_case(change: dict[str, object], reason: FallbackReason) -> None:
    assert fallback_reason(**{**DIRECT, **change}) is reason  # type: ignore[arg-type]


def test_a_client_cannot_claim_a_server_side_reason() -> None:
    claimed = {**DIRECT, "client_reason": FallbackReason.PRIVACY_MASK}
    assert fallback_reason(**claimed) is None  # type: ignore[arg-type]


def test_privacy_masks_win_over_every_other_case() -> None:
    others = [
        {"direct_enabled": False},
        {"stream_codec": "hevc"},
        {"stream_fps": 1.0},
        {"client_reason": FallbackReason.NOT_STARTED},
    ]
    for size in range(len(others) + 1):
        for combo in itertools.combinations(others, size):
            case = {**DIRECT, "has_privacy_masks": True}
            for change in combo:
                case.update(change)
            assert fallback_reason(**case) is FallbackReason.PRIVACY_MASK  # type: ignore[arg-type]
