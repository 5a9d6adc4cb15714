"""Refuse an oversized upload while it arrives, not after: a chunked body has no Content-Length to check up front,
and Starlette's form parser would otherwise spool all of it to disk before the route could count it."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.api.datasets import MULTIPART_OVERHEAD

UPLOAD_PATHS = frozenset({"/api/datasets"})


class UploadLimitMiddleware:
    """Counts the body bytes of POSTs to the upload routes; past ``max_upload_bytes`` (plus multipart slack) it
    answers 413 at once and tells the app the client has gone, so the app stops reading and nothing is stored."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") not in UPLOAD_PATHS:
            await self.app(scope, receive, send)
            return
        max_bytes = int(scope["app"].state.settings.max_upload_bytes)
        limit = max_bytes + MULTIPART_OVERHEAD
        received, refused, started = 0, False, False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not started:
                    refused = True
                    await _send_413(send, max_bytes)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 has been sent; whatever the app says after the "disconnect" is dropped
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise  # the app's reaction to the "disconnect" we made up is no error of its own


async def _send_413(send: Send, max_bytes: int) -> None:
    body = json.dumps({"detail": [{"field": "file", "reason": f"uploads are limited to {max_bytes} bytes"}]}).encode()
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
