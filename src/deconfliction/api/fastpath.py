"""POST /api/v1/reports without the framework's per-request work.

Sensors post one report at a time, many times a second; routing, dependency
resolution and response-model validation cost more than the report itself. This ASGI
layer answers exactly that request with the same checks, errors and body as the
route it shadows (which stays in the app for the OpenAPI document).
"""

from __future__ import annotations

import asyncio

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from ..service.core import Service
from ..service.errors import ServiceError

PATH = "/api/v1/reports"

INLINE_BODY = 16 * 1024
"""Bodies up to this size are validated on the event loop; larger ones on a worker."""


class ReportsFastPath:
    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        authorization: str | None = None
        content_type = "application/json"
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-type":
                content_type = value.decode("latin-1")
        try:
            principal = self.service.authenticate(authorization)
            body = await _body(receive)
            if len(body) > INLINE_BODY:
                answer = await run_in_threadpool(
                    self.service.submit_reports, principal, body, content_type
                )
            else:
                answer = self.service.submit_reports(principal, body, content_type)
            # waiting for the commit holds no worker thread
            result = await asyncio.wrap_future(answer)
        except ServiceError as error:
            extra = [(b"www-authenticate", b"Bearer")] if error.status == 401 else []
            await _answer(send, error.status, orjson.dumps(error.body()), extra)
            return
        await _answer(send, 200, orjson.dumps(result.model_dump(mode="json")), [])


async def _body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


async def _answer(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
