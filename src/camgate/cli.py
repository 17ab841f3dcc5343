"""The ``camgate`` command: the manual's Mobile Server Manager, for a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import getpass
import logging
import os
import secrets
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvloop
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from camgate.admin.service import changes
from camgate.audit.models import CLI_ADDRESS, Actor
from camgate.audit.service import AuditLog
from camgate.cameras.models import Camera, Credentials
from camgate.cameras.service import CameraService
from camgate.context import Core, open_core
from camgate.core import logfiles, tls
from camgate.core.clock import SystemClock
from camgate.core.errors import CamgateError, ErrorKind
from camgate.identity.models import DirectoryGroup, Permission, Role, User
from camgate.identity.service import UNSET, user_changes
from camgate.identity.twostep import TwoStepMethod
from camgate.investigations import protection, verifier
from camgate.investigations.folder import FolderChange, OldInvestigations, change_folder
from camgate.investigations.keys import SIGNING_KEY_FILE, ServerSealer
from camgate.investigations.signing import SigningKey
from camgate.recording.check import UNREPAIRABLE, Problem
from camgate.recording.models import RecordingConfig
from camgate.recording.service import RecordingService, RecordingsLock
from camgate.settings import LoginMethod, ServerSettings, recordings_dir
from camgate.status.schema import STATUS_FILE, read_status_file
from camgate.status.service import SAMPLE_S

T = TypeVar("T")

app = typer.Typer(
    help="camgate: the mobile server of a video surveillance system.", no_args_is_help=True
)
user_app = typer.Typer(help="Users: add, list, remove, change passwords.", no_args_is_help=True)
camera_app = typer.Typer(help="Cameras: add, list, remove, recording.", no_args_is_help=True)
role_app = typer.Typer(
    help="Roles: which cameras they may view, what else they may do.", no_args_is_help=True
)
app.add_typer(user_app, name="user")
app.add_typer(camera_app, name="camera")
app.add_typer(role_app, name="role")
cert_app = typer.Typer(
    help="The HTTPS certificate: show it, install a real one.", no_args_is_help=True
)
app.add_typer(cert_app, name="cert")
group_app = typer.Typer(
    help="Directory groups: the role and two-step verification of their members.",
    no_args_is_help=True,
)
app.add_typer(group_app, name="group")

out = Console()
err = Console(stderr=True)

DEMO_CAMERAS = ("Front door", "Parking lot", "Lobby")
DEMO_STREAMS = ["synthetic:1080p", "synthetic:720p", "synthetic:360p"]
DEMO_ADMIN = "admin"
#: A demo records its small stream and keeps little: it runs on someone's laptop.
DEMO_RECORDING = RecordingConfig(
    enabled=True, stream_position=2, retention_days=1, retention_gb=1.0
)


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "camgate"


class State:
    data_dir: Path = _default_data_dir()


state = State()


@app.callback()
def main_options(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", envvar="CAMGATE_DATA_DIR", help="Everything camgate writes lives here."
        ),
    ] = None,
) -> None:
    if data_dir is not None:
        state.data_dir = data_dir.expanduser().resolve()


def _run(work: Callable[[Core], Awaitable[T]]) -> T:
    async def main() -> T:
        async with open_core(state.data_dir, SystemClock()) as core:
            return await work(core)

    try:
        return asyncio.run(main())
    except CamgateError as error:
        err.print(f"[red]error:[/red] {error.detail}")
        raise typer.Exit(2 if error.kind is ErrorKind.INVALID else 1) from error


def _read_secret(prompt: str, from_stdin: bool, *, confirm: bool = False) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Again: ") != first:
        err.print("[red]error:[/red] the two entries differ")
        raise typer.Exit(2)
    return first


# --- users ---------------------------------------------------------------------------------------


@user_app.command("add")
def user_add(
    name: str,
    role: Annotated[
        str, typer.Option(help="administrator, operator, or another role's name")
    ] = "operator",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a user (the password is asked for, never given on the command line)."""
    password = _read_secret("Password: ", password_stdin, confirm=True)

    async def work(core: Core) -> User:
        user = await core.identity.add_user(name, password, role)
        await _audit(core, "user.add", user.id, user=user.username, role=user.role.name)
        return user

    user = _run(work)
    out.print(f"added user {user.username} ({user.role.name})")


async def _audit(core: Core, action: str, target: str, **details: Any) -> None:
    """Records a change made from the command line (the address says so)."""
    await AuditLog(core.sessions, core.clock).record(_cli_actor(), action, target, **details)


@user_app.command("list")
def user_list() -> None:
    """List the users and their roles."""
    users = _run(lambda core: core.identity.users())
    table = Table("user", "role", "administrator", "e-mail", "two-step verification")
    for user in users:
        table.add_row(
            user.username,
            user.role.name,
            "yes" if user.is_admin else "no",
            user.email,
            _two_step_text(user),
        )
    out.print(table)


def _two_step_text(user: User) -> str:
    method = user.two_step.value if user.two_step else "as the groups say"
    return f"{method} (app added)" if user.totp_enrolled else method


#: ``camgate user set --two-step groups``: no method of the user's own.
_AS_GROUPS = "groups"


@user_app.command("set")
def user_set(
    name: str,
    email: Annotated[
        str | None, typer.Option(help='Where e-mailed codes go ("" removes the address).')
    ] = None,
    two_step: Annotated[
        str | None,
        typer.Option(
            "--two-step",
            help="no_login, none, email, totp, or groups (as the user's directory groups say).",
        ),
    ] = None,
) -> None:
    """Set a user's e-mail address and two-step verification method."""
    method: object = UNSET
    if two_step is not None:
        choices = [m.value for m in TwoStepMethod] + [_AS_GROUPS]
        if two_step not in choices:
            err.print(f"[red]error:[/red] --two-step is one of {', '.join(choices)}")
            raise typer.Exit(2)
        method = None if two_step == _AS_GROUPS else TwoStepMethod(two_step)

    async def work(core: Core) -> User:
        before, after = await core.identity.update_user(name, email=email, two_step=method)
        if changes := user_changes(before, after):
            await _audit(core, "user.update", after.id, user=after.username, **changes)
        return after

    user = _run(work)
    out.print(f"{user.username}: e-mail {user.email or '(none)'}, {_two_step_text(user)}")


@user_app.command("forget-app")
def user_forget_app(name: str) -> None:
    """Forget a user's authenticator app (a lost phone): they add it again at their next
    login."""

    async def work(core: Core) -> None:
        await core.identity.reset_totp(name)
        await _audit(core, "user.totp_reset", name)

    _run(work)
    out.print(f"forgot the authenticator app of {name}")


@user_app.command("remove")
def user_remove(name: str) -> None:
    """Remove a user and end their sessions."""

    async def work(core: Core) -> None:
        await core.identity.remove_user(name)
        await _audit(core, "user.remove", name)

    _run(work)
    out.print(f"removed user {name}")


@user_app.command("passwd")
def user_passwd(
    name: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Set a user's password (ends their sessions)."""
    password = _read_secret("New password: ", password_stdin, confirm=True)

    async def work(core: Core) -> None:
        await core.identity.set_password(name, password)
        await _audit(core, "user.password", name)  # that it changed, never the password

    _run(work)
    out.print(f"changed the password of {name}")


# --- directory logins ------------------------------------------------------------------------


@app.command("login-method")
def login_method(
    method: Annotated[LoginMethod | None, typer.Argument(help="Leave out to show it.")] = None,
) -> None:
    """Show or set who checks passwords: automatic (the directory, then camgate's own users),
    directory, or basic (camgate's own users). Also the way back in when a directory login
    locked every administrator out."""

    async def work(core: Core) -> LoginMethod:
        before = core.settings.public()
        if method is not None:
            await core.settings.patch({"general": {"login_method": method.value}})
        if changed := changes(before, core.settings.public()):
            await _audit(core, "settings.change", "settings", **changed)
        return core.settings.tree.general.login_method

    out.print(f"login method: {_run(work).value}")


@group_app.command("list")
def group_list() -> None:
    """List the directory groups given a role or a method."""
    groups = _run(lambda core: core.identity.groups())
    table = Table("group", "role", "two-step verification")
    for group in groups:
        table.add_row(group.name, group.role or "(none)", group.two_step.value)
    out.print(table)


@group_app.command("set")
def group_set(
    name: str,
    role: Annotated[
        str | None, typer.Option(help="The role its members log in with (none: no role).")
    ] = None,
    two_step: Annotated[
        TwoStepMethod, typer.Option("--two-step", help="For members without their own method.")
    ] = TwoStepMethod.NONE,
) -> None:
    """Give a directory group a role and a two-step verification method (at its members'
    next login)."""

    async def work(core: Core) -> DirectoryGroup:
        before, after = await core.identity.set_group(name, role=role, two_step=two_step)
        if before != after:
            await _audit(
                core,
                "group.set",
                after.name,
                old=None if before is None else {"role": before.role, "two_step": before.two_step},
                new={"role": after.role, "two_step": after.two_step},
            )
        return after

    group = _run(work)
    out.print(f"group {group.name}: role {group.role or '(none)'}, {group.two_step.value}")


@group_app.command("remove")
def group_remove(name: str) -> None:
    """Forget a directory group: its members get no role from it any more."""

    async def work(core: Core) -> None:
        await core.identity.remove_group(name)
        await _audit(core, "group.remove", name)

    _run(work)
    out.print(f"removed group {name}")


@app.command("directory-check")
def directory_check() -> None:
    """Test the directory settings: connect, search as the service account, list the groups."""

    async def work(core: Core) -> list[str]:
        await core.identity.check_directory()
        return await core.identity.directory_group_names()

    names = _run(work)
    out.print(f"the directory answers; {len(names)} group(s): {', '.join(names)}")


# --- cameras -------------------------------------------------------------------------------------


def _cameras(core: Core) -> CameraService:
    return CameraService(core.sessions, core.clock, core.key)


@camera_app.command("add")
def camera_add(
    name: str,
    url: Annotated[
        list[str],
        typer.Option(
            "--url",
            help="rtsp://host/path, a file or synthetic:720p; repeat for more streams, main first.",
        ),
    ],
    username: Annotated[
        str | None, typer.Option(help="The camera's user name; its password is asked for.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the camera password from standard input.")
    ] = False,
) -> None:
    """Add a camera with one or more streams."""
    credentials = None
    if username:
        credentials = Credentials(
            username, _read_secret(f"Password for {username}: ", password_stdin)
        )

    async def work(core: Core) -> Camera:
        camera = await _cameras(core).add(name, url, credentials)
        streams = [stream.url for stream in camera.streams]
        await _audit(core, "camera.add", camera.id, name=camera.name, streams=streams)
        return camera

    camera = _run(work)
    out.print(f"added camera {camera.name} ({camera.id}) with {len(camera.streams)} stream(s)")
    if camera.has_credentials and credentials is None:
        out.print("the credentials in the URL were moved out of it and stored sealed")


@camera_app.command("list")
def camera_list() -> None:
    """List the cameras and their stream URLs (never their credentials)."""
    cameras = _run(lambda core: _cameras(core).list())
    table = Table("id", "name", "streams", "credentials")
    for camera in cameras:
        table.add_row(
            camera.id,
            camera.name,
            "\n".join(s.url for s in camera.streams),
            "yes" if camera.has_credentials else "no",
        )
    out.print(table)


@camera_app.command("remove")
def camera_remove(camera: Annotated[str, typer.Argument(help="The camera's name or id.")]) -> None:
    """Remove a camera."""

    async def work(core: Core) -> str:
        service = _cameras(core)
        found = await service.resolve(camera)
        await service.remove(found.id)
        await _audit(core, "camera.remove", found.id, name=found.name)
        return found.name

    out.print(f"removed camera {_run(work)}")


@camera_app.command("recording")
def camera_recording(
    camera: Annotated[str, typer.Argument(help="The camera's name or id.")],
    record: Annotated[
        bool | None, typer.Option("--record/--no-record", help="Record the camera, or not.")
    ] = None,
    stream: Annotated[
        int | None, typer.Option(min=0, help="The position of the recorded stream (0: first).")
    ] = None,
    days: Annotated[
        int | None, typer.Option(min=0, help="Keep recordings this many days (0: no age limit).")
    ] = None,
    gb: Annotated[
        float | None, typer.Option(min=0, help="Keep at most this many GB (0: no size limit).")
    ] = None,
    audio: Annotated[
        bool | None,
        typer.Option("--audio/--no-audio", help="Record the camera's sound when it sends some."),
    ] = None,
) -> None:
    """Show a camera's recording settings, and change those given (the rest stay)."""

    async def work(core: Core) -> tuple[str, RecordingConfig]:
        found = await _cameras(core).resolve(camera)
        with ThreadPoolExecutor(1) as executor:
            service = _recordings(core, executor)
            config = await service.config(found.id)
            changed = _changed_recording(config, record, stream, days, gb, audio)
            if changed != config:
                config = await service.set_config(found.id, changed)
                await _audit(core, "camera.recording", found.id, **dataclasses.asdict(config))
        return found.name, config

    name, config = _run(work)
    days_kept = f"{config.retention_days} days" if config.retention_days else "no age limit"
    size_kept = f"{config.retention_gb:g} GB" if config.retention_gb else "no size limit"
    out.print(
        f"{name}: recording {'on' if config.enabled else 'off'}, stream {config.stream_position}, "
        f"{days_kept}, {size_kept}, audio {'on' if config.audio else 'off'}"
    )


def _changed_recording(
    config: RecordingConfig,
    record: bool | None,
    stream: int | None,
    days: int | None,
    gb: float | None,
    audio: bool | None,
) -> RecordingConfig:
    """``config`` with what was given on the command line (0 days or GB: no such limit)."""
    return RecordingConfig(
        enabled=config.enabled if record is None else record,
        stream_position=config.stream_position if stream is None else stream,
        retention_days=config.retention_days if days is None else days or None,
        retention_gb=config.retention_gb if gb is None else gb or None,
        audio=config.audio if audio is None else audio,
    )


# --- roles ---------------------------------------------------------------------------------------


@role_app.command("list")
def role_list() -> None:
    """List the roles and the cameras they may view."""

    async def work(core: Core) -> list[tuple[str, str, str]]:
        names = {c.id: c.name for c in await _cameras(core).list()}
        rows = []
        for role in await core.identity.roles():
            cameras = (
                "all"
                if role.all_cameras
                else ", ".join(sorted(names.get(i, i) for i in role.camera_ids))
            )
            permissions = "all" if role.administrator else ", ".join(sorted(role.permissions))
            rows.append((role.name, cameras or "none", permissions or "none"))
        return rows

    table = Table("role", "cameras", "permissions")
    for row in _run(work):
        table.add_row(*row)
    out.print(table)


@role_app.command("add")
def role_add(
    name: str,
    all_cameras: Annotated[
        bool, typer.Option("--all-cameras", help="Every camera, also those added later.")
    ] = False,
) -> None:
    """Add a role: the default permissions (all but export and administration), and no
    cameras unless --all-cameras (then: camgate role cameras)."""

    async def work(core: Core) -> Role:
        role = await core.identity.add_role(name, all_cameras=all_cameras)
        permissions = sorted(role.permissions)
        await _audit(
            core,
            "role.add",
            role.id,
            role=role.name,
            all_cameras=all_cameras,
            permissions=permissions,
        )
        return role

    role = _run(work)
    out.print(f"added role {role.name}: may {', '.join(sorted(role.permissions))}")


@role_app.command("remove")
def role_remove(name: str) -> None:
    """Delete a role that no user has any more (never a built-in one)."""

    async def work(core: Core) -> None:
        role = await core.identity.remove_role(name)
        await _audit(core, "role.remove", role.id, role=role.name)

    _run(work)
    out.print(f"removed role {name}")


@role_app.command("cameras")
def role_cameras(
    role: str,
    cameras: Annotated[
        list[str] | None, typer.Argument(help="Camera names or ids; none to clear.")
    ] = None,
) -> None:
    """Set exactly which cameras a role may view."""

    async def work(core: Core) -> int:
        service = _cameras(core)
        ids = {(await service.resolve(c)).id for c in cameras or []}
        before, after = await core.identity.set_role_cameras(role, ids)
        if before.camera_ids != after.camera_ids:
            old, new = sorted(before.camera_ids), sorted(after.camera_ids)
            await _audit(core, "role.cameras", after.id, role=after.name, old=old, new=new)
        return len(ids)

    out.print(f"role {role} may view {_run(work)} camera(s)")


@role_app.command("permissions")
def role_permissions(
    role: str,
    permissions: Annotated[
        list[Permission] | None,
        typer.Argument(help="The role's permissions, exactly (none: none, unless --add/--remove)."),
    ] = None,
    add: Annotated[
        list[Permission] | None, typer.Option("--add", help="Grant this one too (repeatable).")
    ] = None,
    remove: Annotated[
        list[Permission] | None,
        typer.Option("--remove", help="Take this one away (repeatable)."),
    ] = None,
) -> None:
    """Set what a role may do with its cameras: live, playback, export, bookmarks_view,
    bookmarks_create, bookmarks_edit, actions, incoming_audio, push_to_talk, video_push,
    administration. Either exactly (the list) or by change (--add, --remove)."""

    async def work(core: Core) -> str:
        if permissions and (add or remove):
            raise CamgateError(
                ErrorKind.INVALID, "give either the list of permissions or --add/--remove"
            )
        wanted = frozenset(permissions or [])
        if add or remove:
            found = next((r for r in await core.identity.roles() if r.name == role), None)
            held = found.permissions if found is not None else frozenset()
            wanted = (held | set(add or [])) - set(remove or [])
        before, after = await core.identity.set_role_permissions(role, wanted)
        if before.permissions != after.permissions:
            await _audit(
                core,
                "role.permissions",
                after.id,
                role=after.name,
                old=sorted(before.permissions),
                new=sorted(after.permissions),
            )
        return ", ".join(sorted(after.permissions)) or "nothing (it sees its cameras' names only)"

    out.print(f"role {role} may: {_run(work)}")


def _cli_actor() -> Actor:
    """Who acts through the command: the account that runs it."""
    return Actor(getpass.getuser(), CLI_ADDRESS)


# --- status --------------------------------------------------------------------------------------

_SPARKS = "▁▂▃▄▅▆▇█"


def _sparkline(values: list[float], width: int = 60) -> str:
    """The CPU history as a line of bars, newest on the right (0–100 %)."""
    step = max(1, len(values) // width)
    points = [max(values[i : i + step]) for i in range(0, len(values), step)][-width:]
    return "".join(_SPARKS[min(len(_SPARKS) - 1, int(v / 100 * len(_SPARKS)))] for v in points)


@app.command()
def status() -> None:
    """The running server's status: since when, CPU and its history, bandwidth, who watches."""
    path = state.data_dir / STATUS_FILE
    found = read_status_file(path)
    age = time.time() - path.stat().st_mtime if found is not None else 0.0
    if found is None or age > 3 * SAMPLE_S:
        err.print(f"camgate is not running with the data folder {state.data_dir}")
        raise typer.Exit(1)
    out.print(f"Server active since  {found.active_since.astimezone():%Y-%m-%d %H:%M:%S}")
    out.print(f"CPU usage            {found.cpu_percent:.0f} %")
    history = [point.percent for point in found.cpu_history]
    out.print(f"CPU, last hour       {_sparkline(history)}")
    out.print(f"External bandwidth   {found.bandwidth_out_kbps:.0f} kbit/s")
    out.print(f"Limitation level     {found.level}")
    out.print(f"Hardware decoding    {found.hardware_decoding}")
    out.print(f"Sessions timed out   {found.sessions_timed_out}")
    table = Table(
        "user",
        "state",
        "video kB/s",
        "audio kB/s",
        "transcoded video",
        "direct video",
        "transcoded audio",
        title="Active users",
    )
    for user in found.users:
        table.add_row(
            user.user,
            user.state,
            f"{user.video_kBps:.1f}",
            f"{user.audio_kBps:.1f}",
            str(user.transcoded_video_streams),
            str(user.direct_video_streams),
            str(user.transcoded_audio_streams),
        )
    out.print(table)
    if found.lockouts:
        locked = Table("locked out", "name", "seconds left", title="Lockouts (failed logins)")
        for lockout in found.lockouts:
            locked.add_row(lockout.kind, lockout.name, str(lockout.seconds_left))
        out.print(locked)


# --- recordings ----------------------------------------------------------------------------------


def _recordings(core: Core, executor: Executor) -> RecordingService:
    return RecordingService(
        core.sessions,
        core.clock,
        recordings_dir(core.data_dir),
        settings=lambda: core.settings.tree.recording,
        executor=executor,
    )


@app.command()
def check(
    repair: Annotated[
        bool, typer.Option("--repair", help="Fix what is found (camgate must be stopped).")
    ] = False,
) -> None:
    """Verify the recordings against the index: what a crash or a manual deletion left."""
    lock = RecordingsLock(recordings_dir(state.data_dir))
    running = not lock.acquire()
    if running and repair:
        err.print("[red]error:[/red] camgate is running: stop it before check --repair")
        raise typer.Exit(1)

    async def work(core: Core) -> tuple[list[Problem], list[Problem]]:
        with ThreadPoolExecutor(1) as executor:
            service = _recordings(core, executor)
            # Partials are being written while the server runs: only a stopped server's count.
            found = await service.check(repair=repair, partials=not running)
            left = await service.check(repair=False, partials=not running) if repair else found
        return found, left

    try:
        found, left = _run(work)
    finally:
        lock.release()
    if running:
        out.print("camgate is running: segments being written are not checked")
    if not found:
        out.print("the recordings match the index")
        return
    table = Table("problem", "file", "detail", "repaired" if repair else "")
    remaining = {(p.kind, p.path) for p in left}
    for problem in found:
        fixed = "no" if (problem.kind, problem.path) in remaining else "yes"
        table.add_row(problem.kind.value, problem.path, problem.detail, fixed if repair else "")
    out.print(table)
    left = [p for p in left if p.kind not in UNREPAIRABLE]
    if left:
        hint = "" if repair else " (camgate check --repair fixes what it can)"
        out.print(f"{len(left)} problem(s){hint}")
        raise typer.Exit(1)


# --- investigations ------------------------------------------------------------------------------

PASSWORD_WARNING = (
    "Keep this password safe. You need it to read the investigations after a system recovery or "
    "on another server; without it they cannot be read, by anyone, camgate included."
)
OFF_WARNING = (
    "I choose not to use a mobile server data protection password, and I understand that "
    "investigations will not be encrypted."
)


def _folder(core: Core) -> Path:
    return core.settings.tree.investigations.folder_in(core.data_dir)


async def _protection_state(core: Core) -> str | None:
    return await asyncio.to_thread(protection.state, _folder(core))


@app.command("password")
def data_password(
    off: Annotated[
        bool, typer.Option("--off", help="Use no data protection password (see the warning).")
    ] = False,
    from_stdin: Annotated[
        bool,
        typer.Option(
            "--stdin",
            help="Read the passwords from standard input, one per line: the current one first "
            "(when one is set), then the new one.",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="With --off: accept the warning.")] = False,
) -> None:
    """Set or change the data protection password that encrypts the investigations."""
    current = _run(_protection_state)
    old = None
    if current == "password":
        old = _read_secret("Current data protection password: ", from_stdin)
    new = None
    if off:
        err.print(OFF_WARNING)
        if not yes and not from_stdin and input("Type yes to agree: ").strip().lower() != "yes":
            raise typer.Exit(1)
    else:
        err.print(PASSWORD_WARNING)
        new = _read_secret("New data protection password: ", from_stdin, confirm=True)

    async def work(core: Core) -> str:
        folder = _folder(core)
        sealer = ServerSealer(core.key)
        try:
            if current is None:
                await asyncio.to_thread(protection.create, folder, new, sealer)
            else:
                await asyncio.to_thread(protection.change, folder, old, new, sealer)
        except protection.KeyringError as error:
            raise CamgateError(ErrorKind.INVALID, str(error)) from error
        state = "off" if new is None else "password"
        await _audit(core, "protection.change", str(folder), old=current, new=state)
        return state

    state = _run(work)
    out.print(
        "investigations are encrypted under the new data protection password"
        if state == "password"
        else "data protection password: off"
    )


@app.command("investigations-folder")
def investigations_folder(
    new: Annotated[Path, typer.Argument(help="The new investigations folder.")],
    old: Annotated[
        OldInvestigations,
        typer.Option(
            "--old",
            help="The investigations already there: move them, delete them, or keep them where "
            "they are (no longer shown).",
        ),
    ],
) -> None:
    """Change where investigations are kept (with the server stopped)."""

    async def work(core: Core) -> FolderChange:
        lock = RecordingsLock(recordings_dir(core.data_dir))
        if not await asyncio.to_thread(lock.acquire):
            raise CamgateError(
                ErrorKind.CONFLICT, "camgate is running: stop it before changing the folder"
            )
        try:
            return await change_folder(core, new, old, _cli_actor())
        finally:
            lock.release()

    change = _run(work)
    done = {"move": "moved", "delete": "deleted", "keep": "left in"}[old.value]
    out.print(
        f"investigations folder: {change.new} ({change.investigations} investigation(s) "
        f"{done} {change.old if old is OldInvestigations.KEEP else ''})".replace(" )", ")")
    )


@app.command()
def verify(
    export: Annotated[Path, typer.Argument(help="A native export (.zip).", exists=True)],
    password: Annotated[
        bool, typer.Option("--password", help="Ask for the export's password and decrypt.")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the export's password from stdin.")
    ] = False,
    fingerprint: Annotated[
        str | None,
        typer.Option(help="The signer's expected fingerprint (default: this server's key)."),
    ] = None,
) -> None:
    """Check a native export: every file's hash, the signature, cameras and time ranges."""
    secret = (
        _read_secret("Export password: ", password_stdin) if password or password_stdin else None
    )
    signing_key = state.data_dir / SIGNING_KEY_FILE
    expected = fingerprint
    if expected is None and signing_key.exists():
        expected = SigningKey.load_or_create(signing_key).fingerprint
    report = verifier.verify(export, password=secret, fingerprint=expected)
    out.print(verifier.describe(report), markup=False, highlight=False, emoji=False, soft_wrap=True)
    raise typer.Exit(0 if report.ok else 1)


# --- the HTTPS certificate ---------------------------------------------------------------------


def _tls_folder() -> Path:
    return state.data_dir / "tls"


def _print_certificate(info: tls.CertificateInfo) -> None:
    now = datetime.datetime.now(datetime.UTC)
    self_signed = " (self-signed)" if info.self_signed else ""
    for line in (
        f"subject:     {info.subject}",
        f"issuer:      {info.issuer}{self_signed}",
        f"names:       {', '.join(info.names) or '(none)'}",
        f"valid until: {info.not_after:%Y-%m-%d %H:%M} UTC ({info.days_left(now):.0f} days left)",
        f"SHA-256:     {info.fingerprint}",
    ):
        # Plain: names and fingerprints hold what Rich would read as markup or emoji (":ab:").
        out.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)
    if warning := info.expiry_warning(now):
        err.print(f"warning: {warning}", markup=False, emoji=False, soft_wrap=True)


@cert_app.command("show")
def cert_show() -> None:
    """Print the served certificate: subject, names, expiry and fingerprint."""
    cert_path, _key = tls.ensure_self_signed(_tls_folder())
    _print_certificate(tls.describe(cert_path.read_bytes()))


@cert_app.command("install")
def cert_install(
    certificate: Annotated[
        Path, typer.Argument(help="PEM certificate (the chain may follow it).", exists=True)
    ],
    key: Annotated[Path, typer.Argument(help="Its PEM private key, unencrypted.", exists=True)],
    host: Annotated[
        str | None,
        typer.Option(help="The name clients use to reach the server (default: this host's)."),
    ] = None,
) -> None:
    """Serve a real certificate over HTTPS (checked first); takes effect at the next start."""
    cert_pem, key_pem = certificate.read_bytes(), key.read_bytes()
    name = host or socket.getfqdn()
    try:
        info = tls.check_pair(cert_pem, key_pem, name, datetime.datetime.now(datetime.UTC))
    except tls.CertificateProblem as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    tls.install(_tls_folder(), cert_pem, key_pem)
    _print_certificate(info)
    out.print("installed: restart camgate to serve it")


# --- logs --------------------------------------------------------------------------------------


def _log_folder() -> Path:
    async def configured(core: Core) -> str:
        return core.settings.tree.general.log_folder

    return logfiles.log_folder(state.data_dir, _run(configured))


@app.command()
def logs(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Print new lines as they come.")
    ] = False,
    folder: Annotated[
        bool, typer.Option("--folder", help="Print the log folder and stop.")
    ] = False,
) -> None:
    """Print today's log file (the server writes one a day, kept for the log retention)."""
    where = _log_folder()
    if folder:
        out.print(str(where), markup=False, highlight=False, soft_wrap=True)
        return
    path = where / logfiles.LOG_FILE
    if not path.exists():
        err.print(f"no log file yet in {where} (camgate has not run with this data folder)")
        raise typer.Exit(1)
    with contextlib.suppress(KeyboardInterrupt):
        for line in _lines(path, follow):
            sys.stdout.write(line)
            sys.stdout.flush()


def _lines(path: Path, follow: bool) -> Iterator[str]:
    """The file's lines; with ``follow``, then each new one, across the daily rotation."""
    source = path.open(encoding="utf-8", errors="replace")
    try:
        while True:
            line = source.readline()
            if line:
                yield line
                continue
            if not follow:
                return
            time.sleep(0.5)
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_ino != os.fstat(source.fileno()).st_ino:  # rotated at midnight
                    source.close()
                    source = path.open(encoding="utf-8", errors="replace")
    finally:
        source.close()


# --- serving -------------------------------------------------------------------------------------


def _samples_folder(folder: Path | None) -> Path | None:
    """``--xpmobile-samples``, checked before anything starts."""
    from camgate.protocols.xpmobile.samples import SamplesFolderError, checked_folder

    if folder is None:
        return None
    try:
        return checked_folder(folder)
    except SamplesFolderError as error:
        err.print(f"[red]error:[/red] --xpmobile-samples: {escape(str(error))}", soft_wrap=True)
        raise typer.Exit(2) from error


def _print_samples(url: str, folder: Path, pages: list[str]) -> None:
    from camgate.protocols.xpmobile.samples import PATH

    base = url.rstrip("/") + PATH + "/"
    # Unwrapped, whatever the terminal's width: URLs are copied from here.
    out.print(f"XProtect Mobile web client library ({escape(str(folder))}): {base}", soft_wrap=True)
    for page in pages:
        out.print(f"  sample: {base}{page}", soft_wrap=True)


def _serve(
    settings: ServerSettings, banner: Callable[[str], None], samples: Path | None = None
) -> None:
    from camgate.app import create_app
    from camgate.protocols.xpmobile.samples import pages
    from camgate.server import Listeners, serve

    async def ports(core: Core) -> tuple[int, int, int]:
        connectivity = core.settings.tree.connectivity
        retention = core.settings.tree.general.log_retention_days
        return connectivity.http_port, connectivity.https_port, retention

    logging.basicConfig(level=logging.INFO, format=logfiles.FORMAT)
    http_port, https_port, retention_days = _run(ports)
    files = logfiles.install(_log_folder(), retention_days)
    listeners = Listeners(
        settings.host,
        settings.http_port if settings.http_port is not None else http_port,
        settings.https_port if settings.https_port is not None else https_port,
    )
    app = create_app(settings, xpmobile_samples_dir=samples)
    # Looked up here: the banner is printed on the event loop.
    sample_pages = pages(samples) if samples is not None else []

    def ready() -> None:
        # Before the banner: the demo's ends with how to stop it.
        if samples is not None:
            _print_samples(listeners.url(), samples, sample_pages)
        banner(listeners.url())

    # uvloop: the loop that every viewer's writes go through (measured in bench/RESULTS.md).
    with (
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        try:
            runner.run(serve(app, settings, listeners, on_ready=ready))
        except OSError as error:
            err.print(f"[red]error:[/red] cannot listen on {settings.host}: {error.strerror}")
            raise typer.Exit(1) from error
        finally:
            files.stop()


HostOption = Annotated[str, typer.Option(help="The address to listen on.")]
HttpPort = Annotated[
    int | None, typer.Option("--http-port", help="HTTP port (default 8081, from the settings).")
]
HttpsPort = Annotated[
    int | None, typer.Option("--https-port", help="HTTPS port (default 8082); 0 turns HTTPS off.")
]


SegmentSeconds = Annotated[
    int,
    typer.Option(
        "--segment-seconds",
        min=2,
        max=600,
        help="Length of recording segments; retention deletes whole segments.",
    ),
]
XpMobileSamples = Annotated[
    Path | None,
    typer.Option(
        "--xpmobile-samples",
        metavar="DIR",
        help=(
            "Serve this checkout of the XProtect Mobile web client library (mipsdkmobile-web) "
            "read-only at /XProtectMobile/sdk/, so that its sample pages run against camgate."
        ),
    ),
]


@app.command()
def serve(
    host: HostOption = "0.0.0.0",
    http_port: HttpPort = None,
    https_port: HttpsPort = None,
    segment_seconds: SegmentSeconds = 60,
    xpmobile_samples: XpMobileSamples = None,
) -> None:
    """Run the server."""
    samples = _samples_folder(xpmobile_samples)
    settings = ServerSettings(
        data_dir=state.data_dir,
        host=host,
        http_port=http_port,
        https_port=https_port,
        segment_s=segment_seconds,
    )
    _serve(settings, lambda url: out.print(f"camgate is running: {url}"), samples)


async def _prepare_demo(core: Core) -> str | None:
    """Demo cameras and the demo administrator; the password when it was just made."""
    service = _cameras(core)
    existing = {camera.name for camera in await service.list()}
    with ThreadPoolExecutor(1) as executor:
        recordings = _recordings(core, executor)
        for name in DEMO_CAMERAS:
            if name not in existing:
                camera = await service.add(name, DEMO_STREAMS)
                await recordings.set_config(camera.id, DEMO_RECORDING)
    folder = _folder(core)
    if await asyncio.to_thread(protection.state, folder) is None:
        # A demo declines the data protection password, and says so in its banner.
        await asyncio.to_thread(protection.create, folder, None, ServerSealer(core.key))
        await core.settings.patch(
            {"investigations": {"export_formats": {"mkv": True, "avi": True, "native": True}}}
        )
    password_file = core.data_dir / "demo-admin-password"
    if any(user.username == DEMO_ADMIN for user in await core.identity.users()):
        return password_file.read_text().strip() if password_file.exists() else None
    password = secrets.token_urlsafe(12)
    await core.identity.add_user(DEMO_ADMIN, password, "administrator")
    fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(password + "\n")
    return password


@app.command()
def demo(
    host: HostOption = "127.0.0.1",
    http_port: HttpPort = None,
    https_port: HttpsPort = None,
    xpmobile_samples: XpMobileSamples = None,
) -> None:
    """Run the server with three built-in synthetic demo cameras."""
    samples = _samples_folder(xpmobile_samples)
    password = _run(_prepare_demo)
    encrypted = _run(_protection_state) == "password"
    settings = ServerSettings(
        data_dir=state.data_dir, host=host, http_port=http_port, https_port=https_port
    )

    def banner(url: str) -> None:
        out.print(f"\ncamgate demo is running: [bold]{url}[/bold]")
        if password:
            out.print(f"log in as [bold]{DEMO_ADMIN}[/bold] with password [bold]{password}[/bold]")
        else:
            out.print(
                f"log in as [bold]{DEMO_ADMIN}[/bold] (password changed with 'camgate user passwd')"
            )
        if not encrypted:
            out.print(
                "investigations are not encrypted in the demo (no data protection password; "
                "'camgate password' sets one)"
            )
        out.print(f"data folder: {state.data_dir}   stop with Ctrl+C\n")

    _serve(settings, banner, samples)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
