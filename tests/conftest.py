"""Shared fixtures: apps on real SQLite files in tmp_path (migrated by the real migrations), PostgreSQL."""

import os
import shutil
import uuid

import pytest
from flask_migrate import upgrade

from app import create_app
from app.db import BIND_KEYS
from app.extensions import db

REQUIRE_POSTGRES = os.environ.get("SORRISO_REQUIRE_POSTGRES") == "1"
PG_ADMIN_URL = os.environ.get("SORRISO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def sqlite_urls(folder) -> dict:
    """Config overrides pointing the three binds at files in one folder."""
    return {f"{bind.upper()}_DATABASE_URL": f"sqlite:///{folder / f'{bind}.db'}" for bind in BIND_KEYS}


def build_app(folder, **overrides):
    """A testing app whose three databases are files in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    return create_app("testing", {**sqlite_urls(folder), **overrides})


def dispose(app) -> None:
    """Close every pooled connection so files can be copied, compared or removed."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory):
    """Three databases migrated to head once per session; tests get copies."""
    folder = tmp_path_factory.mktemp("template")
    app = build_app(folder)
    with app.app_context():
        upgrade()
    dispose(app)
    return folder


@pytest.fixture
def db_dir(tmp_path, migrated_template):
    """A fresh copy of the migrated databases for one test."""
    folder = tmp_path / "instance"
    folder.mkdir()
    for bind in BIND_KEYS:
        shutil.copy(migrated_template / f"{bind}.db", folder / f"{bind}.db")
    return folder


@pytest.fixture
def app(db_dir):
    """A migrated testing app on real SQLite files, with an app context pushed."""
    app = build_app(db_dir)
    with app.app_context():
        yield app
        db.session.remove()
    dispose(app)


@pytest.fixture
def client(app):
    """Flask's test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Click runner for `flask` commands."""
    return app.test_cli_runner()


def _pg_admin():
    import psycopg

    url = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(url, autocommit=True, connect_timeout=3)


@pytest.fixture
def pg_urls():
    """Three throw-away PostgreSQL databases; fails instead of skipping when SORRISO_REQUIRE_POSTGRES=1."""
    try:
        admin = _pg_admin()
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server"
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (SORRISO_REQUIRE_POSTGRES=1) but unreachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    suffix = uuid.uuid4().hex[:10]
    names = {bind: f"sorriso_{bind}_{suffix}" for bind in BIND_KEYS}
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    with admin:
        for name in names.values():
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield {f"{bind.upper()}_DATABASE_URL": f"{base}/{name}" for bind, name in names.items()}
        finally:
            for name in names.values():
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
