"""Users of a GANPLAY_AUTH=users server for tests, made the way an operator makes them: through ``ganplay users``
(its ``main``, in this process: the same code as the console script, without a second interpreter's start-up)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from server.cli import main


def users_cli(data_dir: Path, *args: str) -> str:
    """``ganplay users ARGS --data-dir DATA_DIR``; its standard output. Fails the test on a non-zero exit."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["users", *args, "--data-dir", str(data_dir)])
    assert code == 0, f"ganplay users {' '.join(args)}: exit {code}: {err.getvalue()}"
    return out.getvalue()


def add_user(data_dir: Path, name: str, admin: bool = False) -> str:
    """A new user's token (the last line ``ganplay users add`` prints)."""
    return users_cli(data_dir, "add", name, *(["--admin"] if admin else [])).strip().splitlines()[-1]


def revoke_user(data_dir: Path, name: str) -> None:
    users_cli(data_dir, "revoke", name)


def bearer(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}
