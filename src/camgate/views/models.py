"""View values."""

from __future__ import annotations

from dataclasses import dataclass

#: The built-in view of every camera a user may see (the manual's "All cameras" view).
ALL_CAMERAS_VIEW_ID = "all-cameras"
MAX_CAMERAS = 64
MAX_COLUMNS = 6


@dataclass(frozen=True, slots=True)
class View:
    id: str
    name: str
    owner_id: str | None
    shared: bool
    #: 0 lets the client choose (the built-in view adapts to the screen).
    columns: int
    camera_ids: tuple[str, ...]

    @property
    def builtin(self) -> bool:
        return self.id == ALL_CAMERAS_VIEW_ID
