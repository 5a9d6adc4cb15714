"""User accounts for GANPLAY_AUTH=users: issue a token, revoke it, list who there is, and find a token's user.

A token is 32 random bytes from ``secrets`` (256 bits, URL-safe base64); only its SHA-256 is stored. A slow password
hash (bcrypt, argon2) exists to make guessing a *human-chosen* secret expensive; a 256-bit random token cannot be
guessed however fast each guess is, so SHA-256 loses nothing, and it lets the server find the user by the hash in a
unique index, one lookup per request, rather than trying a slow hash against every user. A stolen database yields
hashes from which no token can be recovered. The lookup compares hashes, never the token itself, so its timing says
nothing usable about a valid token; the hash found is still compared with ``hmac.compare_digest``.

Plain functions over a ``Session``, used by the CLI (``ganplay users``) and by the server's authentication.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.db import repository as repo
from server.db.tables import utcnow

TOKEN_BYTES = 32
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class UserError(ValueError):
    """A refused account change (a bad or taken name, an unknown user): the CLI prints it as one line."""


@dataclass(frozen=True)
class UserInfo:
    """A user as ``ganplay users list`` shows them; never their token (which is not stored)."""

    name: str
    admin: bool
    created_at: datetime
    revoked_at: datetime | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise UserError(f"user name {name!r}: 1–64 letters, digits, '_', '.' or '-', starting with a letter or digit")
    return name


def add_user(session: Session, name: str, admin: bool = False) -> str:
    """Create the user and return their new token (the only time it exists outside the user's hands). A revoked
    user is given a new token (and the role asked for), keeping their runs; an active one is refused. The caller
    commits."""
    check_name(name)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    user = repo.get_user(session, name)
    if user is None:
        try:
            with session.begin_nested():  # added meanwhile by another ``users add``: a sentence, not a traceback
                repo.add_user(session, name, hash_token(token), admin)
        except IntegrityError:
            raise UserError(f"user {name} already exists") from None
    elif user.revoked_at is None:
        raise UserError(f"user {name} already exists; revoke them first (ganplay users revoke {name}) for a new token")
    else:
        user.token_hash, user.admin, user.revoked_at = hash_token(token), admin, None
        session.flush()
    return token


def revoke_user(session: Session, name: str) -> None:
    """The user's token stops working at once: REST calls get 401, and their open streams close within a second
    (``server/access.py``, ``Revocations``). Their runs keep running and keep their owner. The caller commits."""
    user = repo.get_user(session, name)
    if user is None:
        raise UserError(f"no user {name!r} (ganplay users list)")
    if user.revoked_at is not None:
        raise UserError(f"user {name} is already revoked")
    user.revoked_at = utcnow()
    session.flush()


def list_users(session: Session) -> list[UserInfo]:
    return [UserInfo(u.name, u.admin, u.created_at, u.revoked_at) for u in repo.list_users(session)]


@dataclass(frozen=True)
class Authenticated:
    """A token's user: their id (to watch for revocation), name and role."""

    id: int
    name: str
    admin: bool


def authenticate(session: Session, token: str | None) -> Authenticated | None:
    """The active user whose token this is, or None (missing, unknown or revoked)."""
    if not token:
        return None
    wanted = hash_token(token)
    user = repo.user_by_token_hash(session, wanted)
    if user is None or not hmac.compare_digest(user.token_hash, wanted):
        return None
    return Authenticated(user.id, user.name, user.admin)
