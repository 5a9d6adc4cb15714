"""The error bodies every API route may answer with, declared once so the OpenAPI schema tells clients the truth."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel


class ErrorOut(BaseModel):
    """``detail`` is a sentence (400, 403 for an owner's action, 404, 409, 429, 503) or a list naming each field
    and the reason (401, 403 for a cross-site request, 413, 415, 422; a request FastAPI itself refuses lists
    pydantic's ``loc``/``msg``/``type`` entries instead)."""

    detail: str | list[dict[str, Any]]


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The body is not valid JSON"),
    401: _error("Missing or wrong token (when the server has one), or a revoked user's"),
    403: _error("Not this run's or sweep's owner or an admin, or watching is restricted to owners"),
    404: _error("No such run (or action)"),
    409: _error("Not valid in the run's current status, or its checkpoint is unreadable"),
    422: _error("Invalid request: each field and the reason"),
    429: _error("Over the client's (or user's) run or sweep quota"),
    503: _error("The database is unavailable or busy; retry"),
}


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """A locked, full or unreachable database is a moment's trouble, not a bug: 503 with Retry-After, not 500."""
    reason = (str(exc).strip().splitlines() or [""])[0][:200]
    return JSONResponse(
        {"detail": f"the database is unavailable or busy; retry shortly ({reason})"},
        status_code=503,
        headers={"Retry-After": "5"},
    )
