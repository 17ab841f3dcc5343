"""Reading and changing the settings tree (validated as a whole, secrets sealed at rest)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from camgate.core.clock import Clock
from camgate.core.errors import invalid
from camgate.core.secrets import ServerKey
from camgate.db.tables import SettingsRow
from camgate.settings import SettingsTree, merge_patch

_ROW_ID = 1
#: Where the tree holds secrets: sealed in the database, masked in API answers.
_SECRET_PATHS = (
    ("two_step_verification", "smtp", "password"),
    ("directory", "bind_password"),
)
MASK = "**********"


def _get(tree: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = tree
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _set(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = tree
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def _reasons(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
        for e in error.errors()
    )


class SettingsService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, key: ServerKey
    ) -> None:
        self._db = sessions
        self._clock = clock
        self._key = key
        self._tree = SettingsTree()

    @property
    def tree(self) -> SettingsTree:
        """The settings in force (cached; the database is read at start and written on change)."""
        return self._tree

    def _plain(self, tree: SettingsTree) -> dict[str, Any]:
        document = tree.model_dump(mode="json")
        for path in _SECRET_PATHS:
            secret = _get(tree.model_dump(), path)
            _set(document, path, secret.get_secret_value() if secret is not None else "")
        return document

    async def load(self) -> SettingsTree:
        async with self._db() as db:
            row = await db.get(SettingsRow, _ROW_ID)
        if row is not None:
            document = json.loads(row.document)
            for path in _SECRET_PATHS:
                sealed = _get(document, path)
                if sealed:
                    _set(document, path, self._key.unseal(sealed, context="/".join(path)))
            self._tree = SettingsTree.model_validate(document)
        return self._tree

    def public(self) -> dict[str, Any]:
        """The tree as clients see it: secrets masked (empty when unset)."""
        document = self._plain(self._tree)
        for path in _SECRET_PATHS:
            _set(document, path, MASK if _get(document, path) else "")
        return document

    async def patch(self, patch: dict[str, Any]) -> SettingsTree:
        if not isinstance(patch, dict):
            raise invalid("a settings patch is a JSON object")
        for path in _SECRET_PATHS:
            parent = _get(patch, path[:-1])
            if isinstance(parent, dict) and parent.get(path[-1]) == MASK:
                del parent[path[-1]]  # the masked value sent back unchanged
        merged = merge_patch(self._plain(self._tree), patch)
        try:
            tree = SettingsTree.model_validate(merged)
        except ValidationError as error:
            raise invalid(_reasons(error)) from error
        if tree.investigations.folder != self._tree.investigations.folder:
            raise invalid(
                "investigations.folder: change it with 'camgate investigations-folder', which "
                "also moves, deletes or keeps the investigations already there"
            )
        await self._store(tree)
        self._tree = tree
        return tree

    async def set_investigations_folder(self, folder: str) -> SettingsTree:
        """The one way to change the folder (``camgate investigations-folder``, which moves)."""
        tree = self._tree.model_copy(deep=True)
        tree.investigations.folder = folder
        await self._store(tree)
        self._tree = tree
        return tree

    async def _store(self, tree: SettingsTree) -> None:
        document = self._plain(tree)
        for path in _SECRET_PATHS:
            secret = _get(document, path)
            _set(document, path, self._key.seal(secret, context="/".join(path)) if secret else "")
        async with self._db() as db:
            row = await db.get(SettingsRow, _ROW_ID)
            text = json.dumps(document, sort_keys=True)
            if row is None:
                db.add(SettingsRow(id=_ROW_ID, document=text, updated_at=self._clock.now()))
            else:
                row.document = text
                row.updated_at = self._clock.now()
            await db.commit()


def changes(old: Any, new: Any, path: str = "") -> dict[str, dict[str, Any]]:
    """``{"section.key": {"old": …, "new": …}}`` for every leaf that differs (the audit log's
    record of a settings change)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: dict[str, dict[str, Any]] = {}
        for key in sorted(old.keys() | new.keys()):
            found |= changes(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        return found
    return {} if old == new else {path: {"old": old, "new": new}}
