from __future__ import annotations

from tools.settings_ref import TARGET, render


def test_settings_reference_is_current() -> None:
    assert TARGET.read_text() == render(), "run: python -m tools.settings_ref"
