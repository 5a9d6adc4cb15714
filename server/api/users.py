"""GET /api/me: who the caller is and what the server's access rules are, so the page can say "signed in as …"
and ask for a token when it has none. What the caller may do to a given run comes with that run (``can_control``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from server.api.deps import CallerDep
from server.api.errors import ERRORS

router = APIRouter(prefix="/api", tags=["users"], responses=ERRORS)


class MeOut(BaseModel):
    auth: Literal["none", "token", "users"] = Field(description="The server's GANPLAY_AUTH.")
    watch: Literal["everyone", "owners"] = Field(description="Who may watch a run: GANPLAY_WATCH.")
    name: str | None = Field(description="The signed-in user; null without users.")
    admin: bool = Field(description="An admin (instructor) steers, deletes and shares any run; true without users.")


@router.get("/me")
def me(request: Request, caller: CallerDep) -> MeOut:
    settings = request.app.state.settings
    return MeOut(auth=settings.auth, watch=settings.watch, name=caller.name, admin=caller.admin)
