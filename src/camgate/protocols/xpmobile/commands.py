"""The command table: each command of the protocol mapped to the services that camgate's REST
API uses (identity, cameras, views, live, audit), with the same rules: permissions through
``User.may`` and ``Services.can_view``, the feature toggles of the settings.

A command that is not in the table answers NotImplemented (1). Commands on a logged-in
connection spend one of its CHAP challenges when the client asked for them (19 for a wrong
one), then authenticate its camgate session, as every REST request does, and count as the
session's sign of life (the client timeout); a session that ended answers 12.
"""

from __future__ import annotations

import base64
import logging
import uuid
from typing import NoReturn

from camgate.api.deps import Services
from camgate.audit.models import Actor
from camgate.core.errors import CamgateError, ErrorKind
from camgate.identity.models import Permission, Principal
from camgate.identity.service import Login, SecondStep
from camgate.identity.twostep import TICKET_S, TwoStepMethod
from camgate.live import service as live
from camgate.live.access import viewable_camera
from camgate.protocols.xpmobile import (
    bookmarks,
    catalogue,
    controllers,
    evidence,
    features,
    investigations,
    recordings,
)
from camgate.protocols.xpmobile import live as live_video
from camgate.protocols.xpmobile.call import Call, Command, Needs, viewable
from camgate.protocols.xpmobile.chap import (
    MAX_PER_REQUEST,
    MAX_UNSPENT,
    ChallengeError,
    Challenges,
)
from camgate.protocols.xpmobile.connections import Connection, Stage
from camgate.protocols.xpmobile.crypto import (
    PRIMES,
    CryptoError,
    KeyPair,
    Padding,
    decode_public_key,
    encode_public_key,
    session_key,
)
from camgate.protocols.xpmobile.errors import (
    CommandError,
    ErrorCode,
    refusal,
    wrong_connection,
)
from camgate.protocols.xpmobile.messages import Item, Reply, yes

log = logging.getLogger(__name__)

#: ``ServerProductCode`` of Connect.
PRODUCT_CODE = "camgate"
#: What Connect assumes when the client does not say (the protocol's defaults).
DEFAULT_PRIME_BITS = 1024
DEFAULT_PADDING = Padding.PKCS7
#: Logged-in connections whose session ended are forgotten this often.
SWEEP_S = 5.0
#: As the REST API bounds them (identity.api.LoginRequest, CodeRequest).
MAX_USERNAME = 100
MAX_PASSWORD = 1024
MAX_CODE = 20
#: ``SecondStepAuthenticationProvider`` of each verification method.
PROVIDERS = {TwoStepMethod.EMAIL: "Email", TwoStepMethod.TOTP: "Authenticator"}
_SERVER_ID = uuid.UUID("5f7c3a52-35f5-4b5e-9a37-4c8d2f0e6b11")


def server_id(svc: Services) -> str:
    """``ServerId``: stable for one data folder."""
    return str(uuid.uuid5(_SERVER_ID, str(svc.server.data_dir)))


def _timeouts(svc: Services) -> dict[str, float]:
    return {
        "connected_s": float(svc.settings.tree.connectivity.client_timeout_s),
        "awaiting_s": TICKET_S,
    }


# --- the session ---------------------------------------------------------------------------


async def connect(call: Call) -> Reply:
    public_key = call.param("PublicKey")
    bits = call.number("PrimeLength", 0, 1 << 16, DEFAULT_PRIME_BITS)
    if bits not in PRIMES:
        raise CommandError(ErrorCode.WRONG_INPUT_PARAMETER, "PrimeLength must be 1024 or 2048")
    try:
        padding = Padding((call.request.get("EncryptionPadding") or DEFAULT_PADDING).upper())
    except ValueError:
        raise CommandError(
            ErrorCode.WRONG_INPUT_PARAMETER, "EncryptionPadding must be PKCS7 or ISO10126"
        ) from None
    processing = (call.request.get("ProcessingMessage") or "Yes").casefold() != "no"
    pair = KeyPair.generate(bits)
    try:
        key = session_key(pair.shared_secret(decode_public_key(public_key, pair.prime)))
    except CryptoError as error:
        raise CommandError(ErrorCode.INCORRECT_PUBLIC_KEY, str(error)) from None
    svc = call.svc
    connection = call.table.open(key, padding, processing, svc.clock.monotonic())
    call.connection = connection
    return Reply(
        params=(
            ("ConnectionId", connection.id),
            ("ServerId", server_id(svc)),
            ("Timeout", str(svc.settings.tree.connectivity.client_timeout_s)),
            ("PublicKey", encode_public_key(pair.public)),
            ("WebSocketSupport", "Yes"),
            ("SecurityEnabled", "Yes"),
            ("CHAPSupported", "Yes"),
            ("ServerProductCode", PRODUCT_CODE),
        )
    )


async def log_in(call: Call) -> Reply:
    connection = call.current
    if connection.stage is Stage.LOGGED_IN:
        raise CommandError(ErrorCode.NOT_ALLOWED_IN_THIS_STATE, "already logged in")
    login_type = call.request.get("LoginType") or "Basic"
    if login_type not in ("Basic", "ActiveDirectory"):
        # External identity providers (LoginType External): camgate has none.
        raise CommandError(ErrorCode.FEATURE_IS_DISABLED, f"LoginType {login_type} is not offered")
    username = call.secret("Username", MAX_USERNAME)
    password = call.secret("Password", MAX_PASSWORD)
    wanted = call.whole("NumChallenges", 0, MAX_PER_REQUEST, 0)
    connection.restart()  # a new LogIn drops a second step that was under way
    connection.wanted_challenges = wanted
    svc = call.svc
    # The session list shows it: the protocol, the client's kind (WebClient…), its User-Agent.
    kind = " ".join(filter(None, ("XProtect Mobile", call.request.get("ClientType"))))
    client = f"{kind}: {call.user_agent}" if call.user_agent else kind
    try:
        # The login method setting decides who checks the password; LoginType does not.
        result = await svc.identity.login(username, password, address=call.address, client=client)
    except CamgateError as error:
        # As the REST route: only real attempts are recorded, not refusals by the rate limit.
        if error.kind is ErrorKind.UNAUTHORIZED:
            log.warning("failed login as %r from %s (XProtect Mobile)", username, call.address)
            await svc.audit.record(Actor(username, call.address), "login.failed", username)
        raise refusal(error, {ErrorKind.UNAUTHORIZED: ErrorCode.INVALID_CREDENTIALS}) from None
    if isinstance(result, SecondStep):
        _second_step(call, result, username)
    return await _logged_in(call, result)


def _second_step(call: Call, step: SecondStep, username: str) -> NoReturn:
    """Answers 34: the connection waits for the code."""
    if step.enrolment is not None:
        # Adding camgate to an authenticator app needs its QR code: the web client shows it.
        raise CommandError(
            ErrorCode.INSUFFICIENT_USER_RIGHTS,
            "add camgate to your authenticator app in camgate's web client first",
        )
    log.info(
        "password of %s right from %s (XProtect Mobile); waiting for the %s code",
        username,
        call.address,
        step.method,
    )
    fresh = call.svc.clock.monotonic() + step.code_expires_in_s
    call.current.await_code(step.ticket, step.method, fresh)
    raise CommandError(
        ErrorCode.SECOND_STEP_AUTHENTICATION_REQUIRED,
        "a verification code is needed",
        params=[("SecondStepAuthenticationProvider", PROVIDERS.get(step.method, "Email"))],
    )


async def _logged_in(call: Call, login: Login) -> Reply:
    """Records the login as every login is recorded (``Services.logged_in``); then the
    connection holds the session, and the challenges LogIn asked for."""
    svc, user, connection = call.svc, login.user, call.current
    session_id = await svc.logged_in(login, call.address, protocol="XProtect Mobile")
    call.table.logged_in(connection, login.token, session_id, user.username)
    flags = features.login_flags(svc.settings.tree, user, SERVED)
    if connection.wanted_challenges or connection.challenges is not None:
        challenges = connection.challenges = connection.challenges or Challenges()
        challenges.limit = MAX_UNSPENT
        issued = challenges.issue(connection.wanted_challenges, svc.clock.monotonic())
        flags += [("Challenge", challenge) for challenge in issued]
    return Reply(params=flags)


def _awaiting(call: Call) -> Connection:
    connection = call.current
    if connection.stage is not Stage.AWAITING_CODE:
        raise CommandError(
            ErrorCode.NOT_ALLOWED_IN_THIS_STATE, "no login is waiting for a verification code"
        )
    return connection


async def request_code(call: Call) -> Reply:
    """RequestSecondStepAuthenticationPin. LogIn has e-mailed a code already (camgate's login
    sends it with the password step), so the first request after LogIn, while that code is
    new and untried, sends nothing more; every later one e-mails a new code. Authenticator
    apps make their codes themselves."""
    connection = _awaiting(call)
    svc = call.svc
    now = svc.clock.monotonic()
    if connection.method is not TwoStepMethod.EMAIL or now < connection.fresh_code_until:
        connection.fresh_code_until = 0.0
        return Reply()
    try:
        await svc.identity.new_code(connection.ticket)
    except CamgateError as error:
        if error.kind is ErrorKind.UNAUTHORIZED:  # the login expired: LogIn again
            connection.restart()
            raise CommandError(
                ErrorCode.SECOND_STEP_AUTHENTICATION_CODE_EXPIRED, error.detail
            ) from None
        raise refusal(error) from None
    return Reply()


async def verify_code(call: Call) -> Reply:
    connection = _awaiting(call)
    code = call.param("SecondStepAuthenticationPin")
    if len(code) > MAX_CODE:
        raise CommandError(ErrorCode.INPUT_PARAMETER_TOO_LONG, "the code is too long")
    connection.fresh_code_until = 0.0
    svc = call.svc
    try:
        login = await svc.identity.verify_code(connection.ticket, code)
    except CamgateError as error:
        if error.kind is not ErrorKind.UNAUTHORIZED:
            raise refusal(error) from None
        log.warning("wrong verification code from %s (XProtect Mobile)", call.address)
        await svc.audit.record(Actor("", call.address), "login.failed", "verification code")
        reason = error.extra.get("reason")
        attempts_left = error.extra.get("attempts_left", 0)
        if reason == "wrong" and isinstance(attempts_left, int) and attempts_left > 0:
            raise CommandError(
                ErrorCode.SECOND_STEP_AUTHENTICATION_CODE_ERROR, error.detail
            ) from None
        if reason is None or connection.method is TwoStepMethod.TOTP:
            # The whole login expired, or an app's code had no attempts left: LogIn again.
            connection.restart()
        raise CommandError(
            ErrorCode.SECOND_STEP_AUTHENTICATION_CODE_EXPIRED, error.detail
        ) from None
    return await _logged_in(call, login)


async def live_message(call: Call) -> Reply:
    """The keep-alive. Arriving was the sign of life; the answer tells a client that fetched
    the catalogue whether it changed since."""
    changed: set[str] = set()
    connection = call.current
    if call.principal is not None and connection.catalogue is not None:
        now = catalogue.digests(await _tree(call))
        changed = {kind for kind, digest in now.items() if connection.catalogue.get(kind) != digest}
        connection.catalogue = now
    return Reply(
        params=(
            ("FolderDefinitionsChanged", yes(catalogue.FOLDER in changed)),
            ("ViewDefinitionsChanged", yes(catalogue.VIEW in changed)),
            ("CameraDefinitionsChanged", yes(catalogue.CAMERA in changed)),
        )
    )


async def disconnect(call: Call) -> Reply:
    """Ends the connection, and its camgate session as a logout does
    (``Services.logged_out``)."""
    connection = call.current
    call.table.drop(connection.id)
    if connection.stage is Stage.LOGGED_IN:
        await call.svc.logged_out(connection.session_id)
        log.info("logout of %s (XProtect Mobile)", connection.username)
    return Reply()


async def request_challenges(call: Call) -> Reply:
    """RequestChallenges: more challenges (``NumChallenges``, fewer when the connection holds
    nearly as many unspent as it may), after forgetting the unspent ones when ``Reset=Yes``.
    The reference client asks right after Connect; a connection that logged in without
    challenges goes on without them."""
    connection = call.current
    if connection.challenges is None:
        if connection.stage is Stage.LOGGED_IN:
            raise CommandError(
                ErrorCode.NOT_ALLOWED_IN_THIS_STATE,
                "this connection logged in without challenges: it goes on without them",
            )
        connection.challenges = Challenges(limit=MAX_PER_REQUEST)
    count = call.whole("NumChallenges", 1, MAX_PER_REQUEST, MAX_PER_REQUEST)
    reset = (call.request.get("Reset") or "No").casefold() == "yes"
    issued = connection.challenges.issue(count, call.svc.clock.monotonic(), reset=reset)
    return Reply(params=tuple(("Challenge", challenge) for challenge in issued))


# --- the catalogue -------------------------------------------------------------------------


async def _tree(call: Call) -> Item:
    """The catalogue as the view service shows it to the user (the same calls as the REST
    API's ``/views`` and ``/cameras``)."""
    svc, user = call.svc, call.user_principal.user
    cameras = await svc.cameras.list()
    views = await svc.views.visible(user, [camera.id for camera in cameras])
    names = {camera.id: camera.name for camera in cameras if svc.can_view(user, camera.id)}
    return catalogue.build_tree(svc.settings.tree.general.server_name, views, names, user)


async def _fetched_tree(call: Call) -> Item:
    tree = await _tree(call)
    call.current.catalogue = catalogue.digests(tree)
    return tree


async def get_views(call: Call) -> Reply:
    view_id = call.guid("ViewId")
    if (
        view_id in catalogue.ALL_CAMERAS_IDS
        and not call.svc.settings.tree.general.features.all_cameras_view
    ):
        raise CommandError(ErrorCode.FEATURE_IS_DISABLED, 'the "All cameras" view is turned off')
    found = catalogue.find(await _fetched_tree(call), view_id)
    if found is None:
        raise CommandError(ErrorCode.UNKNOWN_ITEM_ID, "no such folder or view")
    return Reply(sub_items=found.items)


async def get_all_views_and_cameras(call: Call) -> Reply:
    return Reply(items=(await _fetched_tree(call),))


async def get_capabilities(call: Call) -> Reply:
    await viewable(call)
    return Reply(params=catalogue.capabilities(call.user_principal.user))


async def get_thumbnail(call: Call) -> Reply:
    """A live picture, as ``GET /cameras/{id}/snapshot.jpg`` makes it (the same function: the
    latest keyframe, scaled within the limitation level, privacy masks filled)."""
    principal = call.user_principal
    if not principal.user.may(Permission.LIVE):  # before the camera is looked up (ADR 0013)
        raise CommandError(ErrorCode.INSUFFICIENT_USER_RIGHTS, "your role may not watch live video")
    camera_id = call.guid("CameraId")
    width, height = call.dest_size()
    quality = call.compression()
    svc = call.svc
    try:
        camera = await viewable_camera(svc, principal, camera_id)
        chosen = live.target(svc, principal, camera, None, None)
        picture = await live.snapshot(svc, chosen, width, height, quality)
    except CamgateError as error:
        raise refusal(error, {ErrorKind.NOT_FOUND: ErrorCode.UNKNOWN_CAMERA_ID}) from None
    return Reply(thumbnail=base64.b64encode(picture).decode("ascii"))


COMMANDS: dict[str, Command] = {
    "Connect": Command(connect, Needs.NOTHING),
    "LogIn": Command(log_in, Needs.CONNECTION),
    "RequestSecondStepAuthenticationPin": Command(request_code, Needs.CONNECTION),
    "VerifySecondStepAuthenticationPin": Command(verify_code, Needs.CONNECTION),
    "LiveMessage": Command(live_message, Needs.CONNECTION),
    "Disconnect": Command(disconnect, Needs.CONNECTION),
    "RequestChallenges": Command(request_challenges, Needs.CONNECTION),
    "GetViews": Command(get_views, Needs.SESSION),
    "GetAllViewsAndCameras": Command(get_all_views_and_cameras, Needs.SESSION),
    "GetCapabilities": Command(get_capabilities, Needs.SESSION),
    "GetThumbnail": Command(get_thumbnail, Needs.SESSION),
    **recordings.COMMANDS,
    **bookmarks.COMMANDS,
    **evidence.COMMANDS,
    **investigations.COMMANDS,
    **live_video.COMMANDS,
    **controllers.COMMANDS,
}
#: What this adapter serves: the login flags follow it (features.py).
SERVED = frozenset(COMMANDS) | live_video.CAPABILITIES


def _spend_challenge(call: Call, connection: Connection, challenges: Challenges) -> None:
    """The request's challenge and answer, checked before anything else is done for it."""
    challenge = call.request.get("Challenge") or ""
    answer = call.request.get("ChalAnswer") or ""
    try:
        if not challenge or not answer:
            raise ChallengeError("Challenge and ChalAnswer are missing")
        challenges.spend(challenge, answer, connection.key, call.svc.clock.monotonic())
    except ChallengeError as error:
        log.warning(
            "refused %s on %s's connection from %s (XProtect Mobile): %s",
            call.request.name,
            connection.username,
            call.address,
            error,
        )
        raise CommandError(
            ErrorCode.SECURITY_ERROR, f"this connection signs its requests: {error}"
        ) from None


async def _session(call: Call, connection: Connection) -> Principal:
    """The connection's camgate session, authenticated as a REST request is, and heard from."""
    svc = call.svc
    try:
        principal = await svc.identity.authenticate(connection.token)
    except CamgateError as error:
        if error.kind is ErrorKind.UNAUTHORIZED:
            call.table.drop(connection.id)
            raise wrong_connection() from None
        raise refusal(error) from None
    return svc.heard_from(principal)


async def execute(call: Call) -> Reply:
    """Runs the request's command; raises :class:`CommandError` for a refusal."""
    command = COMMANDS.get(call.request.name)
    if command is None:
        raise CommandError(ErrorCode.NOT_IMPLEMENTED, f"{call.request.name} is not implemented")
    svc, table = call.svc, call.table
    now = svc.clock.monotonic()
    timeouts = _timeouts(svc)
    if now - table.swept_at >= SWEEP_S:
        table.sweep(now, live=svc.liveness.sessions(), **timeouts)
    if command.needs is not Needs.NOTHING:
        connection_id = call.request.connection_id
        connection = table.get(connection_id, now, **timeouts) if connection_id else None
        if connection is None:
            raise wrong_connection()
        call.connection = connection
        if connection.stage is Stage.LOGGED_IN:
            if connection.challenges is not None:
                _spend_challenge(call, connection, connection.challenges)
            call.principal = await _session(call, connection)
        elif command.needs is Needs.SESSION:
            raise CommandError(ErrorCode.NOT_ALLOWED_IN_THIS_STATE, "log in first")
    return await command.handler(call)
