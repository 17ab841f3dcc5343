"""Changing the investigations folder, as the manual's "Change investigations folder" does:
move the investigations there, delete them, or leave them where they are (no longer shown)."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from camgate.audit.models import Actor
from camgate.audit.service import AuditLog
from camgate.context import Core
from camgate.core.errors import CamgateError, ErrorKind, invalid
from camgate.investigations import protection, store


class OldInvestigations(StrEnum):
    MOVE = "move"
    DELETE = "delete"
    #: The manual's "Do nothing".
    KEEP = "keep"


@dataclass(frozen=True, slots=True)
class FolderChange:
    old: Path
    new: Path
    investigations: int


async def change_folder(
    core: Core, new: Path, old_ones: OldInvestigations, actor: Actor
) -> FolderChange:
    """Points the server at ``new`` (the server must be stopped: it holds its folder)."""
    section = core.settings.tree.investigations
    old = await asyncio.to_thread(section.folder_in(core.data_dir).resolve)
    new = await asyncio.to_thread(_absolute, new)
    if new == old:
        raise invalid(f"the investigations folder already is {new}")
    if new.is_relative_to(old) or old.is_relative_to(new):
        raise invalid("the new folder may not lie inside the old one, nor the old one in it")
    await asyncio.to_thread(new.mkdir, parents=True, exist_ok=True)
    async with core.sessions() as db:
        rows = await store.rows_in(db, str(old))
        for row in rows:
            if old_ones is OldInvestigations.MOVE:
                await _move(old / row.id, new / row.id)
                row.folder = str(new)
            elif old_ones is OldInvestigations.DELETE:
                await asyncio.to_thread(shutil.rmtree, old / row.id, ignore_errors=True)
                await db.delete(row)
        await asyncio.to_thread(
            _carry_keyring, old, new, move=old_ones is not OldInvestigations.KEEP
        )
        AuditLog(core.sessions, core.clock).add(
            db,
            actor,
            "investigations.folder",
            "investigations",
            old=str(old),
            new=str(new),
            old_investigations=old_ones.value,
            investigations=[row.id for row in rows],
        )
        await db.commit()
    await core.settings.set_investigations_folder(str(new))
    return FolderChange(old, new, len(rows))


def _absolute(path: Path) -> Path:
    return path.expanduser().resolve()


async def _move(source: Path, target: Path) -> None:
    await asyncio.to_thread(_move_folder, source, target)


def _move_folder(source: Path, target: Path) -> None:
    if not source.exists():
        return  # an investigation without exports has no folder yet
    if target.exists():
        raise CamgateError(ErrorKind.CONFLICT, f"{target} already exists")
    shutil.move(source, target)


def _carry_keyring(old: Path, new: Path, *, move: bool) -> None:
    """The data key goes with the investigations: copied when the folder has none yet (the
    same password then opens both folders), removed from the old one unless it keeps some."""
    source = old / protection.KEYRING_FILE
    if not source.exists():
        return
    if not protection.exists(new):
        shutil.copy2(source, new / protection.KEYRING_FILE)
    if move:
        source.unlink()
