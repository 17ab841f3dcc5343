"""``POST /XProtectMobile/Communication``: the protocol's command channel over HTTP.

Reads one bounded request message, runs its command (commands.py) and answers the response
message. A command that takes long is preceded by ``Processing`` messages for the connections
that asked for them (Connect's ``ProcessingMessage``), which keeps proxies and clients waiting.
Outside ``/api/``: not part of camgate's REST API and not in its OpenAPI document.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from camgate.api.deps import Services, services
from camgate.protocols.xpmobile import commands
from camgate.protocols.xpmobile.call import Call
from camgate.protocols.xpmobile.channel import Channel
from camgate.protocols.xpmobile.channel import channel as channel_of
from camgate.protocols.xpmobile.errors import CommandError, ErrorCode
from camgate.protocols.xpmobile.messages import (
    Message,
    Reply,
    parse_request,
    render_processing,
    render_response,
)

log = logging.getLogger(__name__)

PATH = "/XProtectMobile/Communication"
#: The largest request body read (a LogIn with the longest password is under 8 KiB).
MAX_BODY = 64 * 1024
#: A command not answered within this gets a ``Processing`` message first, then one more
#: every ``PROCESSING_EVERY_S`` (for connections that want them).
PROCESSING_AFTER_S = 1.0
PROCESSING_EVERY_S = 5.0
MEDIA_TYPE = "text/xml; charset=utf-8"

router = APIRouter(tags=["xpmobile"], include_in_schema=False)


class _TooLarge(Exception):
    pass


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _refused(error: CommandError, status: int) -> Response:
    return Response(render_response("", 0, None, error), status, media_type=MEDIA_TYPE)


async def _answer(svc: Services, channel: Channel, message: Message, request: Request) -> bytes:
    """The response message; never raises (a failure of camgate is answered and logged)."""
    call = Call(
        svc,
        channel.connections,
        channel.streams,
        message,
        address=request.client.host if request.client else "unknown",
        user_agent=request.headers.get("user-agent", "")[:200],
    )
    outcome: Reply | CommandError
    try:
        outcome = await commands.execute(call)
    except CommandError as error:
        outcome = error
    except Exception:
        log.exception("the XProtect Mobile command %s failed", message.name)
        outcome = CommandError(
            ErrorCode.SURVEILLANCE_SERVER_DOWN, "the server failed to process the command"
        )
    connection_id = call.connection.id if call.connection else message.connection_id
    return render_response(message.name, message.sequence_id, connection_id, outcome)


async def _with_processing(task: asyncio.Task[bytes], message: Message) -> AsyncIterator[bytes]:
    interim = render_processing(message.name, message.sequence_id, message.connection_id)
    yield interim
    while not task.done():
        await asyncio.wait({task}, timeout=PROCESSING_EVERY_S)
        if not task.done():
            yield interim
    yield task.result()


@router.post(PATH)
async def communication(request: Request) -> Response:
    svc = services(request)
    try:
        body = await _body(request)
    except _TooLarge:
        too_long = CommandError(
            ErrorCode.INPUT_PARAMETER_TOO_LONG, f"the request is larger than {MAX_BODY} bytes"
        )
        return _refused(too_long, 413)
    try:
        message = parse_request(body)
    except CommandError as error:
        return _refused(error, 400)
    channel = channel_of(request)
    task = asyncio.create_task(_answer(svc, channel, message, request))
    channel.running.add(task)
    task.add_done_callback(channel.running.discard)
    wants = message.connection_id and channel.connections.wants_processing(message.connection_id)
    if wants:
        done, _ = await asyncio.wait({task}, timeout=PROCESSING_AFTER_S)
        if not done:
            return StreamingResponse(_with_processing(task, message), media_type=MEDIA_TYPE)
    # Shielded: a client that goes away does not cut a login or a logout in half.
    return Response(await asyncio.shield(task), media_type=MEDIA_TYPE)
