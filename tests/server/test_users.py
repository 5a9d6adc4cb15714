"""``ganplay users add|list|revoke`` run for real (subprocesses, as an operator runs them), what the database keeps
of a token (its hash only), the GANPLAY_AUTH setting and its backward-compatible default, and the access rules as
plain functions."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from pydantic import ValidationError

from server.access import OPEN, Caller, can_watch, control_refused, listed_owner, share_refused, watch_refused
from server.db import repository as repo
from server.db.engine import make_engine, make_session_factory
from server.db.migrate import upgrade
from server.settings import Settings
from server.users import add_user, authenticate, list_users, revoke_user
from tests.server.conftest import BACKENDS
from tests.server.test_cli import cli, explain


def users(data_dir: Path, *args: str):
    return cli("users", *args, "--data-dir", str(data_dir))


def test_users_add_prints_the_token_last_stores_only_its_hash_and_list_shows_roles(tmp_path: Path):
    added = users(tmp_path, "add", "ada", "--admin")
    assert added.returncode == 0, explain(added)
    token = added.stdout.strip().splitlines()[-1]
    assert len(token) >= 43 and " " not in token  # 32 random bytes, URL-safe base64
    other = users(tmp_path, "add", "bob").stdout.strip().splitlines()[-1]
    assert other != token
    with sqlite3.connect(tmp_path / "ganplay.db") as db:
        stored = dict(db.execute("SELECT name, token_hash FROM users").fetchall())
        dump = "\n".join(db.iterdump())
    assert stored["ada"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in dump and other not in dump  # the tokens themselves are nowhere in the database
    listed = users(tmp_path, "list")
    assert listed.returncode == 0, explain(listed)
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    assert rows["ada"][1] == "admin" and rows["bob"][1] == "user"
    assert rows["ada"][-1] == rows["bob"][-1] == "active"
    assert token not in listed.stdout


def test_users_revoke_marks_the_user_revoked_and_add_again_gives_a_new_token(tmp_path: Path):
    first = users(tmp_path, "add", "cy").stdout.strip().splitlines()[-1]
    revoked = users(tmp_path, "revoke", "cy")
    assert revoked.returncode == 0, explain(revoked)
    assert "revoked" in users(tmp_path, "list").stdout.splitlines()[1]
    again = users(tmp_path, "add", "cy")
    assert again.returncode == 0, explain(again)
    second = again.stdout.strip().splitlines()[-1]
    assert second != first
    assert users(tmp_path, "list").stdout.splitlines()[1].split()[-1] == "active"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "b b"), "user name 'b b'"),
        (("add", "-x"), "user name"),  # argparse: an option it does not know
        (("revoke", "nobody"), "no user 'nobody'"),
        (("add", "dup"), "user dup already exists"),
    ],
    ids=["bad-name", "option-like-name", "unknown-user", "taken-name"],
)
def test_users_mistakes_end_in_one_line_and_exit_2_without_a_traceback(tmp_path: Path, args: tuple, message: str):
    assert users(tmp_path, "add", "dup").returncode == 0
    result = users(tmp_path, *args)
    assert result.returncode == 2, explain(result)
    assert "Traceback" not in result.stderr
    if args != ("add", "-x"):
        assert message in result.stderr, explain(result)


def test_a_revoked_user_cannot_be_revoked_twice_and_an_unreachable_database_is_a_sentence(tmp_path: Path):
    users(tmp_path, "add", "eve")
    users(tmp_path, "revoke", "eve")
    twice = users(tmp_path, "revoke", "eve")
    assert twice.returncode == 2 and "already revoked" in twice.stderr, explain(twice)
    import os
    import subprocess
    import sys

    from tests.server.test_cli import REPO

    env = os.environ | {"PYTHONPATH": str(REPO), "GANPLAY_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:1/db"}
    gone = subprocess.run(
        [sys.executable, "-m", "server.cli", "users", "list"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert gone.returncode == 2 and "the database is unavailable" in gone.stderr and "Traceback" not in gone.stderr


# ----------------------------------------------------------------------------------------- the setting


def test_auth_defaults_to_token_when_a_token_is_set_and_to_none_otherwise():
    assert Settings(data_dir=Path("x")).auth == "none"
    assert Settings(data_dir=Path("x"), token="t").auth == "token"
    assert Settings(data_dir=Path("x"), auth="users").auth == "users"


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ({"auth": "token"}, "needs GANPLAY_TOKEN"),
        ({"auth": "users", "token": "t"}, "ignores it"),
        ({"auth": "none", "token": "t"}, "ignores it"),
        ({"watch": "owners"}, "needs GANPLAY_AUTH=users"),
    ],
)
def test_contradictory_auth_settings_are_refused_at_start_up(given: dict, reason: str):
    with pytest.raises(ValidationError, match=reason):
        Settings(data_dir=Path("x"), **given)


def test_the_environment_selects_users_and_owners_only_watching(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GANPLAY_AUTH", "users")
    monkeypatch.setenv("GANPLAY_WATCH", "owners")
    settings = Settings(data_dir=Path("x"))
    assert (settings.auth, settings.watch) == ("users", "owners")


# ----------------------------------------------------------------------------------------- the rules

ALICE, BOB, TEACHER = Caller("alice", False, 1), Caller("bob", False, 2), Caller("teacher", True, 3)


def test_only_the_owner_or_an_admin_may_control_and_an_ownerless_run_is_the_admins():
    assert control_refused(ALICE, "run r", "alice", "stop") is None
    assert control_refused(TEACHER, "run r", "alice", "stop") is None
    assert control_refused(OPEN, "run r", None, "stop") is None  # no users: as before
    assert (
        control_refused(BOB, "run r", "alice", "stop")
        == "run r belongs to alice: only its owner or an admin may stop it"
    )
    assert "made before users existed" in str(control_refused(ALICE, "run r", None, "pause"))


def test_with_owners_only_watching_a_shared_run_is_open_and_lists_show_only_ones_own():
    assert can_watch(BOB, "alice", shared=False, watch="everyone")
    assert not can_watch(BOB, "alice", shared=False, watch="owners")
    assert can_watch(BOB, "alice", shared=True, watch="owners")
    assert can_watch(TEACHER, "alice", shared=False, watch="owners")
    assert "GANPLAY_WATCH=owners" in str(watch_refused(BOB, "run r", "alice", False, "owners"))
    assert listed_owner(BOB, "owners") == "bob"
    assert listed_owner(TEACHER, "owners") is None and listed_owner(BOB, "everyone") is None
    assert share_refused(TEACHER) is None and share_refused(ALICE) is not None


# ----------------------------------------------------------------------------------------- both databases


@BACKENDS
def test_users_owners_and_sharing_on_both_databases(db_url: str):
    """Accounts, a token's lookup and revocation, the revocation poll's query, and the owner and shared filters of
    the run and sweep lists, on SQLite and PostgreSQL (the migration made the schema)."""
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        factory = make_session_factory(engine)
        with factory.begin() as session:
            token = add_user(session, "alice")
            add_user(session, "bob", admin=True)
        with factory.begin() as session:
            alice = authenticate(session, token)
            assert alice is not None and (alice.name, alice.admin) == ("alice", False)
            assert authenticate(session, token + "x") is None and authenticate(session, None) is None
            mine = repo.create_run(session, config={}, preset=None, owner="alice").id
            other = repo.create_run(session, config={}, preset=None, owner="bob").id
            repo.create_sweep(
                session, client=None, preset=None, lesson=None, base={}, axes=[], seeds=[0], n_cells=1, owner="bob"
            )
        with factory.begin() as session:
            assert [r.id for r in repo.list_runs(session, visible_to="alice")] == [mine]
            repo.set_shared(session, other, True)
        with factory.begin() as session:
            assert {r.id for r in repo.list_runs(session, visible_to="alice")} == {mine, other}
            assert [r.id for r in repo.list_runs(session, shared=True)] == [other]
            assert repo.count_runs(session, visible_to="alice", shared=False) == 1
            assert repo.count_sweeps(session, visible_to="alice") == 0 and repo.count_sweeps(session) == 1
            assert repo.active_user_ids(session, [alice.id, 999]) == {alice.id}
            revoke_user(session, "alice")
        with factory.begin() as session:
            assert authenticate(session, token) is None
            assert repo.active_user_ids(session, [alice.id]) == set()
            assert [u.name for u in list_users(session) if u.revoked_at is not None] == ["alice"]
    finally:
        engine.dispose()
