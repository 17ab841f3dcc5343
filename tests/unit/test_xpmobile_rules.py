"""The XProtect Mobile adapter's pure rules: the catalogue tree, the login flags, and the bounded
table of connections."""

from __future__ import annotations

import secrets

from camgate.identity.models import Permission, Role, User
from camgate.identity.twostep import TwoStepMethod
from camgate.protocols.xpmobile import catalogue, features
from camgate.protocols.xpmobile.commands import SERVED
from camgate.protocols.xpmobile.connections import ConnectionTable, Stage
from camgate.protocols.xpmobile.crypto import Padding, SessionKey
from camgate.settings import SettingsTree
from camgate.views.models import ALL_CAMERAS_VIEW_ID, View


def _user(*permissions: Permission, cameras: frozenset[str] = frozenset()) -> User:
    role = Role("r", "operator", False, False, not cameras, cameras, frozenset(permissions))
    return User("u1", "olivia", role, 0.0, email="olivia@example.com")


CAMERAS = {"c1": "Door", "c2": "Yard"}


def _views() -> list[View]:
    return [
        View(ALL_CAMERAS_VIEW_ID, "All cameras", None, True, 0, ("c1", "c2")),
        View("v-shared", "Lobby", "admin", True, 2, ("c2",)),
        View("v-mine", "Mine", "u1", False, 2, ("c1", "gone")),
    ]


def test_the_tree_has_the_shape_the_samples_read() -> None:
    user = _user(Permission.LIVE)
    root = catalogue.build_tree("camgate", _views(), CAMERAS, user)
    assert (root.type, root.id, root.name) == ("Folder", catalogue.ROOT_FOLDER_ID, "camgate")
    # items[0].Items[0].Items[0].Items: the cameras of the "All cameras" view.
    all_folder = root.items[0]
    assert all_folder.name == "All cameras" and all_folder.type == "Folder"
    view = all_folder.items[0]
    assert (view.type, view.id) == ("View", catalogue.ALL_CAMERAS_VIEW_GUID)
    assert [(c.type, c.id, c.name) for c in view.items] == [
        ("Camera", "c1", "Door"),
        ("Camera", "c2", "Yard"),
    ]
    assert dict(view.items[0].properties) == {
        "Live": "Yes",
        "Playback": "No",
        "PTZ": "No",
        "Preset": "No",
    }
    assert [f.name for f in root.items] == ["All cameras", "Shared views", "Private views"]
    mine = catalogue.find(root, "v-mine")
    assert mine is not None and [c.id for c in mine.items] == ["c1"]  # a camera gone: left out
    assert catalogue.find(root, "c1") is None and catalogue.find(root, "nope") is None
    assert catalogue.find(root, catalogue.ROOT_FOLDER_ID) is root


def test_empty_folders_are_left_out() -> None:
    root = catalogue.build_tree("site", [], {}, _user())
    assert root.items == ()
    only_mine = catalogue.build_tree("site", _views()[2:], CAMERAS, _user())
    assert [f.id for f in only_mine.items] == [catalogue.PRIVATE_VIEWS_FOLDER_ID]


def test_digests_tell_which_kind_changed() -> None:
    user = _user(Permission.LIVE)
    before = catalogue.digests(catalogue.build_tree("s", _views(), CAMERAS, user))
    renamed = catalogue.digests(
        catalogue.build_tree("s", _views(), {**CAMERAS, "c2": "Back"}, user)
    )
    assert {k for k in before if before[k] != renamed[k]} == {"Camera"}
    fewer = catalogue.digests(catalogue.build_tree("s", _views()[:2], CAMERAS, user))
    assert {k for k in before if before[k] != fewer[k]} == {"Folder", "View"}
    rights = catalogue.digests(catalogue.build_tree("s", _views(), CAMERAS, _user()))
    assert {k for k in before if before[k] != rights[k]} == {"Camera"}


def _flags(tree: SettingsTree, user: User, served: frozenset[str]) -> dict[str, str]:
    return dict(features.login_flags(tree, user, served))


def test_login_flags_need_the_setting_the_permission_and_the_command() -> None:
    tree = SettingsTree()
    tree.investigations.export_formats.avi = True
    everything = frozenset(p for p in Permission)
    user = _user(*everything)
    served_all = SERVED | {
        "RequestStream",
        features.FRAGMENTED_MP4,
        "StartInvestigationExport",
        "RequestAudioStream",
    }
    flags = _flags(tree, user, served_all)
    assert flags["TranscodedStreamingAvailable"] == "Yes"
    assert flags["NativeStreamingAvailable"] == "Yes"
    assert flags["ExportToAvi"] == "Yes" and flags["ExportToMkv"] == "No"
    assert flags["SupportsIncomingAudio"] == "Yes"
    assert flags["Username"] == "olivia" and flags["Email"] == "olivia@example.com"
    # What the adapter does not serve is No, whatever the settings and permissions say.
    assert "RequestAudioStream" not in SERVED
    assert _flags(tree, user, SERVED)["SupportsIncomingAudio"] == "No"
    assert _flags(tree, user, frozenset())["TranscodedStreamingAvailable"] == "No"
    # Without the permission, or with the feature off: No.
    assert _flags(tree, _user(Permission.LIVE), served_all)["ExportToAvi"] == "No"
    tree.general.features.incoming_audio = False
    assert _flags(tree, user, served_all)["SupportsIncomingAudio"] == "No"
    tree.performance.direct_streaming = False
    assert _flags(tree, user, served_all)["NativeStreamingAvailable"] == "No"
    tree.general.description = "Main site"
    assert _flags(tree, user, served_all)["ServerDescription"] == "Main site"


def _key() -> SessionKey:
    shared = secrets.token_bytes(128)
    return SessionKey(shared[:16], shared[16:48], shared)


TIMEOUTS = {"connected_s": 30.0, "awaiting_s": 1800.0}


def test_connections_expire_when_silent_unless_logged_in() -> None:
    table = ConnectionTable()
    quiet = table.open(_key(), Padding.PKCS7, False, now=0.0)
    waiting = table.open(_key(), Padding.PKCS7, False, now=0.0)
    waiting.await_code("ticket", TwoStepMethod.EMAIL, 300.0)
    kept = table.open(_key(), Padding.PKCS7, True, now=0.0)
    table.logged_in(kept, "token", "sid", "olivia")
    assert table.get(quiet.id.upper(), 29.0, **TIMEOUTS) is quiet  # GUIDs in any case
    assert table.get(quiet.id, 60.0, **TIMEOUTS) is None  # 31 s of silence
    assert table.get(waiting.id, 1000.0, **TIMEOUTS) is waiting  # reading the e-mail
    assert table.get(kept.id, 1e6, **TIMEOUTS) is kept and kept.stage is Stage.LOGGED_IN
    assert table.wants_processing(kept.id) and not table.wants_processing(waiting.id)
    assert table.get("not-a-guid", 0.0, **TIMEOUTS) is None
    # The sweep: silent waiting connections, and logged-in ones whose session ended.
    assert table.sweep(1e6, live={"other"}, **TIMEOUTS) == 2
    assert len(table) == 0


def test_connections_are_bounded_and_logins_are_never_pushed_out_by_connects() -> None:
    table = ConnectionTable(max_waiting=3, max_logged_in=2)
    logged = [table.open(_key(), Padding.PKCS7, False, now=0.0) for _ in range(2)]
    for number, connection in enumerate(logged):
        table.logged_in(connection, f"t{number}", f"s{number}", "olivia")
    opened = [table.open(_key(), Padding.PKCS7, False, now=float(i)) for i in range(10)]
    assert len(table) == 5
    assert all(table.get(c.id, 10.0, **TIMEOUTS) is c for c in logged)
    assert table.get(opened[0].id, 10.0, **TIMEOUTS) is None  # the oldest went
    assert table.get(opened[-1].id, 10.0, **TIMEOUTS) is opened[-1]
    # A third login pushes out the least recently used one.
    table.get(logged[0].id, 11.0, **TIMEOUTS)
    table.logged_in(opened[-1], "t2", "s2", "olivia")
    assert table.get(logged[1].id, 12.0, **TIMEOUTS) is None
    assert table.get(logged[0].id, 12.0, **TIMEOUTS) is logged[0]
