"""The camera catalogue as the protocol shows it: a tree of folders, views and cameras. Pure.

```
Folder  1926418b-… (the well-known root)          named after the server
├─ Folder  "All cameras"                           while the "All cameras" view is offered
│  └─ View  bb16cc8f-… (the well-known view)  "All cameras"
│     └─ Camera …                                  every camera the user may view
├─ Folder  "Shared views"  └─ View … └─ Camera …   camgate's shared views
└─ Folder  "Private views" └─ View … └─ Camera …   the user's own views
```

The web client library's samples take the cameras at ``items[0].Items[0].Items[0].Items``: the
root, its first folder, that folder's first view. Empty folders are left out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence

from camgate.identity.models import Permission, User
from camgate.protocols.xpmobile.messages import Item, yes
from camgate.views.models import ALL_CAMERAS_VIEW_ID, View

#: Well-known ids that the protocol's clients use (their samples hard-code them).
ROOT_FOLDER_ID = "1926418b-893e-4ad6-a258-fb4a9ab57453"
ALL_CAMERAS_VIEW_GUID = "bb16cc8f-a2c5-44f8-9d20-6e9ac57806f5"
#: camgate's own folders (fixed, so that clients may remember them).
ALL_CAMERAS_FOLDER_ID = "60a0aa9a-f08e-494b-9a57-d016b188d1e4"
SHARED_VIEWS_FOLDER_ID = "232b9ba4-e933-41eb-a26f-34fc9bcf629e"
PRIVATE_VIEWS_FOLDER_ID = "57646bfb-cfc4-47eb-8f38-223cc3594e3e"
#: What the "All cameras" feature toggle turns off.
ALL_CAMERAS_IDS = frozenset({ALL_CAMERAS_FOLDER_ID, ALL_CAMERAS_VIEW_GUID})

FOLDER = "Folder"
VIEW = "View"
CAMERA = "Camera"


def capabilities(user: User) -> tuple[tuple[str, str], ...]:
    """What the user may do with any camera of their role (GetCapabilities, and the cameras'
    ``<Properties>`` in the tree). camgate has no PTZ."""
    return (
        ("Live", yes(user.may(Permission.LIVE))),
        ("Playback", yes(user.may(Permission.PLAYBACK))),
        ("PTZ", "No"),
        ("Preset", "No"),
    )


def _view_item(
    view: View, cameras: Mapping[str, str], properties: tuple[tuple[str, str], ...]
) -> Item:
    view_id = ALL_CAMERAS_VIEW_GUID if view.id == ALL_CAMERAS_VIEW_ID else view.id
    shown = tuple(
        Item(CAMERA, camera_id, cameras[camera_id], properties)
        for camera_id in view.camera_ids
        if camera_id in cameras
    )
    return Item(VIEW, view_id, view.name, items=shown)


def build_tree(
    server_name: str, views: Sequence[View], cameras: Mapping[str, str], user: User
) -> Item:
    """The root folder. ``views`` as the view service shows them to ``user`` (the "All cameras"
    view first while it is offered, without the cameras the user may not view); ``cameras``
    maps the ids of the cameras the user may view to their names."""
    properties = capabilities(user)
    folders: list[Item] = []
    builtin = [v for v in views if v.id == ALL_CAMERAS_VIEW_ID]
    shared = [v for v in views if v.id != ALL_CAMERAS_VIEW_ID and v.shared]
    private = [v for v in views if v.id != ALL_CAMERAS_VIEW_ID and not v.shared]
    for folder_id, name, members in (
        (ALL_CAMERAS_FOLDER_ID, "All cameras", builtin),
        (SHARED_VIEWS_FOLDER_ID, "Shared views", shared),
        (PRIVATE_VIEWS_FOLDER_ID, "Private views", private),
    ):
        if members:
            items = tuple(_view_item(view, cameras, properties) for view in members)
            folders.append(Item(FOLDER, folder_id, name, items=items))
    return Item(FOLDER, ROOT_FOLDER_ID, server_name, items=tuple(folders))


def walk(item: Item) -> Iterator[Item]:
    yield item
    for child in item.items:
        yield from walk(child)


def find(root: Item, item_id: str) -> Item | None:
    """The folder or view ``item_id`` (a GUID as camgate writes it), None when there is none."""
    return next((i for i in walk(root) if i.id == item_id and i.type != CAMERA), None)


def digests(root: Item) -> dict[str, str]:
    """A digest per kind of item (Folder, View, Camera): what a client that fetched the tree
    would see change. Cameras count once each, however many views hold them."""
    parts: dict[str, set[str]] = {FOLDER: set(), VIEW: set(), CAMERA: set()}
    for item in walk(root):
        children = ",".join(child.id for child in item.items)
        properties = ",".join(f"{k}={v}" for k, v in item.properties)
        parts[item.type].add(f"{item.id}\0{item.name}\0{children}\0{properties}")
    return {
        kind: hashlib.sha256("\n".join(sorted(found)).encode()).hexdigest()
        for kind, found in parts.items()
    }
