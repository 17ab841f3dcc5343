"""Writes docs/ref/settings.md from the settings model, so the reference cannot drift.

Usage: python -m tools.settings_ref [--check]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from camgate.settings import Resolution, SettingsTree

TARGET = Path(__file__).resolve().parents[1] / "docs" / "ref" / "settings.md"
HEADER = """# Settings reference

`GET /api/v1/settings` returns this tree; `PATCH` changes it (JSON merge patch). Defaults are
the manual's; where the manual is silent, ADR 0006 says what was chosen and why.

Generated from `camgate.settings` by `python -m tools.settings_ref` (a test checks it is current).
"""


def _limits(field: Any) -> str:
    found = []
    for meta in field.metadata:
        for attr in ("ge", "le", "gt", "min_length", "max_length"):
            if getattr(meta, attr, None) is not None:
                found.append(f"{attr} {getattr(meta, attr)}")
    return ", ".join(found)


def _default(value: Any) -> str:
    if isinstance(value, BaseModel):
        return json.dumps(value.model_dump(mode="json"))
    if hasattr(value, "get_secret_value"):
        return '"" (secret)'
    return json.dumps(getattr(value, "value", value))


def _rows(model: BaseModel, prefix: str) -> list[str]:
    rows = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel) and not isinstance(value, Resolution):
            rows += _rows(value, f"{prefix}{name}.")
            continue
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{prefix}{name}` | `{_default(value)}` | {_limits(field)} | {meaning} |")
    return rows


def render() -> str:
    tree = SettingsTree()
    parts = [HEADER]
    for section in type(tree).model_fields:
        parts.append(
            f"\n## {section}\n\n| setting | default | range | meaning |\n|---|---|---|---|"
        )
        parts += _rows(getattr(tree, section), "")
    return "\n".join(parts) + "\n"


def main() -> None:
    text = render()
    if "--check" in sys.argv:
        if TARGET.read_text() != text:
            sys.exit(f"{TARGET} is out of date: run python -m tools.settings_ref")
        return
    TARGET.write_text(text)


if __name__ == "__main__":
    main()
