"""Security defaults (README, "HTTP API"): a token on every mutating call and every websocket when one is configured
(``auth=token``), or a user's own token on every call and websocket (``auth=users``); a Host check on every request
(DNS rebinding), an origin check on websockets and on every mutating call (cross-site forgery), dataset file paths
only under the operator's data root, and per-client (or per-user) quotas. The server binds to loopback unless told
otherwise."""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, WebSocket
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from models.config import ConfigError, RunConfig, file_path_fields, parse_config
from server.access import OPEN, Caller
from server.settings import Settings
from server.users import authenticate

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CLOSE_UNAUTHORISED = 4401
CLOSE_BAD_ORIGIN = 4403
CLOSE_FORBIDDEN = 4403  # after the handshake: the user may not watch this run (watch=owners)
OPEN_PATHS = frozenset({"/api/health"})  # answered without a user token: a liveness probe for load balancers
WRONG_TOKEN = "missing or wrong token"
WRONG_USER_TOKEN = "missing, wrong or revoked token"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
UNSPECIFIED_ADDRESSES = frozenset({"", "0.0.0.0", "::", "[::]"})


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


async def caller_of(app: Any, token: str | None) -> Caller | None:
    """The user a token belongs to (``auth=users``; None when missing, wrong or revoked), or ``OPEN`` without
    users. Looked up in the threadpool: it reads the database."""
    settings: Settings = app.state.settings
    if settings.auth != "users":
        return OPEN
    user = await run_in_threadpool(_authenticate, app, token)
    return None if user is None else Caller(user.name, user.admin, user.id)


def _authenticate(app: Any, token: str | None) -> Any:
    with app.state.jobs.sessions() as session:
        return authenticate(session, token)


def _unauthorised(reason: str) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"field": "authorization", "reason": reason}]},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


class TokenMiddleware(BaseHTTPMiddleware):
    """``auth=token``: every mutating REST call under /api needs the shared token; reads stay open. ``auth=users``:
    every call under /api (reads too, but not ``OPEN_PATHS``) needs a user's token, and the route finds the user
    in ``request.state.caller`` (``server/api/deps.py``)."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        settings: Settings = request.app.state.settings
        path = request.url.path
        if not path.startswith("/api/"):
            return await call_next(request)
        token = presented_token(request.headers, request.query_params)
        if settings.auth == "users" and path not in OPEN_PATHS:
            caller = await caller_of(request.app, token)
            if caller is None:
                return _unauthorised(WRONG_USER_TOKEN)
            request.state.caller = caller
        elif settings.auth == "token" and request.method not in SAFE_METHODS and not token_ok(settings, token):
            return _unauthorised(WRONG_TOKEN)
        return await call_next(request)


# ----------------------------------------------------------------------------------------- Host and Origin


def split_host(value: str) -> tuple[str, str | None] | None:
    """A Host header (or an allowed-hosts entry) as (lower-case name, port or None); None when it names no host."""
    value = value.strip().lower()
    if value.startswith("["):  # an IPv6 literal keeps its brackets, as in a Host header
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[: end + 1], value[end + 1 :]
    else:
        name = value.partition(":")[0]
        rest = value[len(name) :]
    port = rest[1:] if rest.startswith(":") else None
    if rest and not (port and port.isascii() and port.isdigit()):
        return None
    name = name.rstrip(".")  # "localhost." is localhost
    return (name, port) if name else None


def allowed_hosts(settings: Settings) -> list[tuple[str, str | None]]:
    """The names this server answers to: loopback, the bind address when it names one, and GANPLAY_ALLOWED_HOSTS."""
    bind = settings.host.strip()
    if ":" in bind and not bind.startswith("["):
        bind = f"[{bind}]"  # a bare IPv6 bind address, as a Host header writes it
    entries = [*LOOPBACK_HOSTS, *([] if bind.lower() in UNSPECIFIED_ADDRESSES else [bind]), *settings.allowed_hosts]
    return [parsed for parsed in map(split_host, entries) if parsed is not None]


def host_ok(settings: Settings, host: str | None) -> bool:
    """Whether ``host`` (the request's Host header) is one this server answers to. A page whose own name an attacker
    rebinds to this server's address (DNS rebinding) is same-origin with it as far as the browser knows, so the
    origin checks pass; only its Host header gives it away."""
    if "*" in settings.allowed_hosts:
        return True
    parsed = split_host(host) if host else None
    if parsed is None:
        return False
    name, port = parsed
    return any(
        name == allowed and (allowed_port is None or port == allowed_port)
        for allowed, allowed_port in allowed_hosts(settings)
    )


def origin_allowed(settings: Settings, origin: str, host: str | None) -> bool:
    """A browser's Origin is acceptable when it is this server's own (same host and port as the request's Host)
    or one of ``allowed_origins``; "null" (sandboxed frames, file pages) never is."""
    if origin in settings.allowed_origins:
        return True
    if not host:
        return False
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:  # e.g. "http://[::1" (an unclosed IPv6 literal)
        return False
    return netloc.lower() == host.strip().lower()


def origin_ok(settings: Settings, ws: WebSocket) -> bool:
    """A browser page from another site may not drive runs here: its Origin must be this host or allowed."""
    origin = ws.headers.get("origin")
    if origin is None:  # not a browser; the token (if any) decides
        return True
    return origin_allowed(settings, origin, ws.headers.get("host"))


def cross_site_reason(settings: Settings, headers: Headers) -> str | None:
    """Why a mutating request is one a foreign page could have forged, or None. A page may send "simple" requests
    (form posts, multipart uploads, bodies without a JSON content type) to any site without asking first, so a
    mutating call from a browser must show it comes from this server's own page: its Origin (sent by browsers on
    every non-GET request) must be ours or allowed; without an Origin, Sec-Fetch-Site must not say cross-site (an
    allowed origin's page is cross-site too: its Origin vouches for it). Clients that are not browsers send neither
    header and are left to the token."""
    origin = headers.get("origin")
    if origin is not None:
        if origin_allowed(settings, origin, headers.get("host")):
            return None
        return f"cross-site request refused: origin {origin!r} is not this server's (see GANPLAY_ALLOWED_ORIGINS)"
    if headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
        return "cross-site request refused (Sec-Fetch-Site: cross-site)"
    return None


class HostAndSiteMiddleware:
    """Outermost guard: every request and websocket must name an allowed Host (else 400, or a 400 at the websocket
    handshake), and every mutating request must not come from a foreign page (else 403). Pure ASGI, so that
    websockets pass through it too and nothing of a refused request's body is read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        settings: Settings = scope["app"].state.settings
        headers = Headers(scope=scope)
        host = headers.get("host")
        if not host_ok(settings, host):
            bad_host = f"host {host!r} is not a name this server answers to (see GANPLAY_ALLOWED_HOSTS)"
            await _refuse(scope, receive, send, 400, "host", bad_host)
            return
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            forged = cross_site_reason(settings, headers)
            if forged is not None:
                await _refuse(scope, receive, send, 403, "origin", forged)
                return
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, field: str, reason: str) -> None:
    """``status`` with ``{"detail": [{field, reason}]}``; on a websocket, the same answer instead of the handshake
    (or, where the server cannot send one, a close before accepting, which the client sees as 403)."""
    body = json.dumps({"detail": [{"field": field, "reason": reason}]}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        short = reason.encode()[:120].decode(errors="ignore")  # a close reason holds at most 123 bytes
        await send({"type": "websocket.close", "code": 4000 + status, "reason": short})


async def admit_websocket(ws: WebSocket) -> Caller | None:
    """The caller, when the websocket comes with the token (``auth=token``) or a user's token (``auth=users``)
    and from an acceptable origin; else None, the socket closed.

    A foreign origin is refused at the handshake (HTTP 403): another site's page learns nothing. A missing or wrong
    token is accepted and closed at once with 4401 and a reason, sending nothing else, because a browser sees
    close codes but not handshake statuses, and our own page must be able to say "token needed" rather than retry.
    """
    settings: Settings = ws.app.state.settings
    if not origin_ok(settings, ws):
        await ws.close(CLOSE_BAD_ORIGIN, "origin not allowed")
        return None
    await ws.accept()
    token = presented_token(ws.headers, ws.query_params)
    if not token_ok(settings, token):
        await ws.close(CLOSE_UNAUTHORISED, WRONG_TOKEN)
        return None
    caller = await caller_of(ws.app, token)
    if caller is None:
        await ws.close(CLOSE_UNAUTHORISED, WRONG_USER_TOKEN)
    return caller


def request_caller(request: Request) -> Caller:
    """The caller the token middleware found (``auth=users``), else ``OPEN``."""
    caller = getattr(request.state, "caller", None)
    return caller if isinstance(caller, Caller) else OPEN


def client_id(request: Request) -> str:
    """Who a run, a sweep or an upload counts against for quotas: the user with ``auth=users``, else the caller's
    address."""
    return request_caller(request).quota_key or (request.client.host if request.client else "unknown")


# ----------------------------------------------------------------------------------------- dataset file paths

FILE_PATHS = frozenset(file_path_fields())  # every config field naming a file: dataset.path (npz, fashion_mnist)


def path_refused(settings: Settings, field: str) -> ConfigError:
    """The one answer for every refused path, whatever the file: whether a path outside exists, is a directory or
    is readable must not be learnable from the API."""
    if settings.data_root is None:
        reason = (
            "file paths are not accepted over the API (GANPLAY_DATA_ROOT is unset); "
            "upload the file (POST /api/datasets) and train on kind 'upload'"
        )
    else:
        reason = "must name a file under the server's data root (GANPLAY_DATA_ROOT)"
    return ConfigError([{"field": field, "reason": reason}])


def confined_path(settings: Settings, value: Any, field: str) -> str:
    """``value`` as an absolute path with every symlink and ``..`` resolved, when that lies under
    ``settings.data_root`` (a relative path is taken relative to the root); else ``path_refused``. The resolved
    path is what the run keeps, so the worker reads the very file checked here, wherever its working directory."""
    if settings.data_root is None or not isinstance(value, str):
        raise path_refused(settings, field)
    try:
        root = os.path.realpath(settings.data_root)
        resolved = os.path.realpath(os.path.join(root, value))
        inside = os.path.commonpath([root, resolved]) == root
    except (OSError, ValueError):  # e.g. a NUL byte in the path
        inside = False
    if not inside:
        raise path_refused(settings, field)
    return str(Path(resolved))


def confine_config_paths(config: RunConfig, settings: Settings) -> RunConfig:
    """The config with every file path it names (``FILE_PATHS``) confined to the data root, for a run created over
    the API; the CLI builds configs without this, so it reads any file its user can. A path left unset (a built-in
    such as fashion_mnist from the server's own install) needs no check."""
    return parse_config(_confine_at(settings, config.model_dump(mode="json"), ""))


def file_paths_in(config: dict[str, Any]) -> dict[str, Any]:
    """The value of each file-path field in a stored config (``None`` where it has none)."""
    out: dict[str, Any] = {}
    for field in FILE_PATHS:
        node: Any = config
        for name in field.split("."):
            node = node.get(name) if isinstance(node, dict) else None
        out[field] = node
    return out


def confine_override_paths(settings: Settings, overrides: dict[str, Any], inherited: dict[str, Any]) -> dict[str, Any]:
    """Fork overrides with every file path they set confined (in any form a patch takes: nested, dotted, a whole
    block), checked before the fork reads its parent's checkpoint. ``inherited`` maps each file-path field to the
    parent's own value, kept by a fork that does not replace it: it must lie under the root as well."""
    for field, value in inherited.items():
        if value is not None:
            confined_path(settings, value, field)
    return _confine_at(settings, overrides, "")


def _confine_at(settings: Settings, node: Any, prefix: str) -> Any:
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if path in FILE_PATHS:
            out[key] = None if value is None else confined_path(settings, value, path)
        else:
            out[key] = _confine_at(settings, value, path)
    return out


# ----------------------------------------------------------------------------------------- bodies


async def nested_too_deeply(request: Request, exc: Exception) -> JSONResponse:
    """A body nested deeper than the interpreter's stack (``[[[[…``) reached code that recurses per level: a
    client error, not a crash."""
    log.warning("%s %s: body nested too deeply (%s)", request.method, request.url.path, exc)
    return JSONResponse({"detail": [{"field": "body", "reason": "nested too deeply"}]}, status_code=400)
