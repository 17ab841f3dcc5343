"""The settings tree keeps the manual's defaults and ranges."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from camgate.media.export import AVI_ENCODERS
from camgate.settings import AviCodec, SettingsTree, merge_patch


def test_manual_defaults() -> None:
    tree = SettingsTree()
    assert tree.connectivity.http_port == 8081
    assert tree.connectivity.https_port == 8082
    assert tree.connectivity.client_timeout_s == 30
    assert tree.general.log_retention_days == 3
    features = tree.general.features
    assert features.web_client and features.all_cameras_view and features.bookmarks
    assert features.actions and features.incoming_audio and features.push_to_talk
    assert not features.deny_builtin_administrator
    assert tree.performance.direct_streaming and tree.performance.adaptive_streaming
    assert tree.performance.streaming_mode == "optimize_video_quality"
    assert tree.performance.hardware_decoding == "auto"
    inv = tree.investigations
    assert inv.size_limit_mb == 2000 and inv.retention_days == 7
    assert inv.export_formats.model_dump() == {"avi": False, "native": False, "mkv": False}
    assert inv.avi_audio_bitrate == 160_000
    code = tree.two_step_verification.code
    assert (code.reconnection_timeout_min, code.expiry_min, code.attempts, code.length) == (
        3,
        5,
        3,
        6,
    )
    assert tree.two_step_verification.smtp.port == 25


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"two_step_verification": {"code": {"length": 7}}}, "less than or equal to 6"),
        ({"two_step_verification": {"code": {"reconnection_timeout_min": 31}}}, "30"),
        ({"two_step_verification": {"code": {"expiry_min": 0}}}, "1"),
        ({"connectivity": {"http_port": 8082}}, "must differ"),
        ({"performance": {"level2": {"enabled": True, "max_fps": 30}}}, "level 2 max FPS"),
        (
            {
                "performance": {
                    "level2": {"enabled": True, "max_resolution": {"width": 1920, "height": 1080}}
                }
            },
            "level 2 max resolution",
        ),
        ({"general": {"unknown": 1}}, "Extra inputs"),
    ],
)
def test_out_of_range_values_are_refused(patch: dict[str, object], message: str) -> None:
    document = merge_patch(SettingsTree().model_dump(mode="json"), patch)
    with pytest.raises(ValidationError) as caught:
        SettingsTree.model_validate(document)
    assert message in str(caught.value)


def test_level3_must_be_lower_than_level2() -> None:
    document = merge_patch(
        SettingsTree().model_dump(mode="json"),
        {
            "performance": {
                "level2": {"enabled": True, "max_fps": 10},
                "level3": {"enabled": True, "max_fps": 10},
            }
        },
    )
    with pytest.raises(ValidationError, match="level 3 max FPS"):
        SettingsTree.model_validate(document)


def test_merge_patch_rfc7396() -> None:
    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": None, "e": 4}, "f": [1]}) == {
        "a": 1,
        "b": {"d": 3, "e": 4},
        "f": [1],
    }


def test_the_avi_codecs_of_the_settings_are_those_the_exporter_knows() -> None:
    assert [codec.value for codec in AviCodec] == list(AVI_ENCODERS)
