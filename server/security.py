"""Security defaults (README, "HTTP API"): a token on every mutating call and every websocket when one is configured, a
websocket origin check, and per-client run quotas. The server binds to loopback unless told otherwise."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import urlsplit

from fastapi import Request, WebSocket
from fastapi.responses import JSONResponse
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from server.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CLOSE_UNAUTHORISED = 4401
CLOSE_BAD_ORIGIN = 4403


def presented_token(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """``Authorization: Bearer …``, or ``?token=…`` (browsers cannot set headers on a websocket)."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return query.get("token")


def token_ok(settings: Settings, token: str | None) -> bool:
    if not settings.token:
        return True
    return token is not None and hmac.compare_digest(token.encode(), settings.token.encode())


class TokenMiddleware(BaseHTTPMiddleware):
    """Every mutating REST call under /api needs the token when one is set; reads stay open."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        settings: Settings = request.app.state.settings
        if (
            settings.token
            and request.method not in SAFE_METHODS
            and request.url.path.startswith("/api/")
            and not token_ok(settings, presented_token(request.headers, request.query_params))
        ):
            return JSONResponse(
                {"detail": [{"field": "authorization", "reason": "missing or wrong token"}]},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await call_next(request)


def origin_ok(settings: Settings, ws: WebSocket) -> bool:
    """A browser page from another site may not drive runs here: its Origin must be this host or allowed."""
    origin = ws.headers.get("origin")
    if origin is None:  # not a browser; the token (if any) decides
        return True
    if origin in settings.allowed_origins:
        return True
    return urlsplit(origin).netloc == ws.headers.get("host")


async def admit_websocket(ws: WebSocket) -> bool:
    """Admit the websocket only with the token (when set) and from an acceptable origin.

    A foreign origin is refused at the handshake (HTTP 403): another site's page learns nothing. A missing or wrong
    token is accepted and closed at once with 4401 and a reason, sending nothing else, because a browser sees
    close codes but not handshake statuses, and our own page must be able to say "token needed" rather than retry.
    """
    settings: Settings = ws.app.state.settings
    if not origin_ok(settings, ws):
        await ws.close(CLOSE_BAD_ORIGIN, "origin not allowed")
        return False
    await ws.accept()
    if not token_ok(settings, presented_token(ws.headers, ws.query_params)):
        await ws.close(CLOSE_UNAUTHORISED, "missing or wrong token")
        return False
    return True


def client_id(request: Request) -> str:
    """Who a run counts against for quotas: the caller's address."""
    return request.client.host if request.client else "unknown"
