"""Helpers shared by the tests: the project's paths, real `flask` commands, the web UI through Flask's test client
(CSRF stays on, as in production), query counting, and the marker for checks one backend suffices for."""

import os
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, select

from app.extensions import db
from tests.conftest import sqlite_urls
from tests.factories import PASSWORD, make_user

ROOT = Path(__file__).resolve().parents[1]

# Input checks that fail before any query and pure rules behave alike on every backend, and each PostgreSQL test
# costs fresh databases: such tests run once, on SQLite (the service and audit suites otherwise run on both).
once_on_sqlite = pytest.mark.sqlite_only


def run_flask(databases, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run a real `flask --app wsgi` command on the SQLite files in a folder (also its instance folder) or on
    a dict of database URLs."""
    if isinstance(databases, dict):
        env_databases = dict(databases)
    else:
        env_databases = {**sqlite_urls(databases), "SORRISO_INSTANCE_PATH": str(databases)}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env={**os.environ, **env_databases, "SORRISO_ENV": "testing"},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
HTMX = {"HX-Request": "true"}


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page's <meta name="csrf-token">."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_META.search(html)
    assert match, f"no csrf-token meta tag on {path}"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD, next_path: str = ""):
    """Post the login form as a browser would; returns the response (not followed)."""
    token = csrf_token(client, "/login")
    return client.post(
        "/login", data={"username": username, "password": password, "next": next_path, "csrf_token": token}
    )


def login_as(client, role: str = "receptionist", **overrides):
    """Create a user with `role`, log the client in as them and return the user."""
    user = make_user(role, **overrides)
    response = login(client, user.username)
    assert response.status_code == 302 and response.location == "/", response.get_data(as_text=True)
    return user


def post_form(client, path: str, data: dict | None = None, token_page: str = "/", **kwargs):
    """POST a form with a valid CSRF token field, as the page's own form would."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, token_page)}, **kwargs)


@contextmanager
def count_queries(selects_only: bool = False):
    """Collect the SQL statements (or only the SELECTs) sent to every engine inside the block: a list to len()."""
    statements = []

    def record(_conn, _cursor, statement, *_args):
        if not selects_only or statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    engines = list(db.engines.values())
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


def audit_events(**where) -> list:
    """Audit events in history.db matching column values, oldest first (ends the test's read snapshot first)."""
    from app.models.history import AuditEvent

    db.session.rollback()
    query = select(AuditEvent).filter_by(**where).order_by(AuditEvent.id)
    return list(db.session.scalars(query))


def fresh(model, row_id):
    """A row re-read from the database (requests run in their own sessions)."""
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(model, row_id)
