"""Shared fixtures: apps on real SQLite files in tmp_path (migrated by the real migrations), PostgreSQL."""

import inspect
import os
import shutil
import uuid

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from hypothesis import HealthCheck, Phase, settings

from app import create_app
from app.db import BIND_KEYS, dispose_engines, metadata_of
from app.extensions import db

REQUIRE_POSTGRES = os.environ.get("SORRISO_REQUIRE_POSTGRES") == "1"
PG_ADMIN_URL = os.environ.get("SORRISO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# Hypothesis profiles. `ci` (the default, what `make test` runs): 15 examples per case of the HTTP fuzz tests
# (one case per route and role), the same examples on every run, no shrinking, so that a failure costs no more
# time than a pass. `HYPOTHESIS_PROFILE=deep`: 300 examples per case, a new seed each run, failures shrunk
# (about 40 minutes on one core). The fuzz tests keep one app per case across its examples, hence the
# function-scoped fixture health check.
_FUZZ_CHECKS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
settings.register_profile(
    "ci",
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=_FUZZ_CHECKS,
)
settings.register_profile("deep", max_examples=300, deadline=None, suppress_health_check=_FUZZ_CHECKS)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
        dispose_engines()


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


# Suites that run a second time against PostgreSQL (SPEC 9): the services and the audit trail. Tests that
# ask for `db_dir` themselves work on raw SQLite files, and tests marked `sqlite_only` run once, on SQLite.
PG_SUITES = ("tests.services.", "tests.db.test_audit")


def pytest_generate_tests(metafunc):
    """Run the service and audit suites on both backends."""
    direct = inspect.signature(metafunc.function).parameters
    if (
        "app" in metafunc.fixturenames
        and "db_dir" not in direct
        and metafunc.definition.get_closest_marker("sqlite_only") is None
        and metafunc.module.__name__.startswith(PG_SUITES)
    ):
        metafunc.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])


@pytest.fixture
def backend():
    """The database backend of the `app` fixture: SQLite unless the suite is parametrized."""
    return "sqlite"


@pytest.fixture
def app(request, backend):
    """A migrated testing app (SQLite files in tmp_path, or PostgreSQL databases), app context pushed."""
    if backend == "postgres":
        app = create_app("testing", request.getfixturevalue("pg_migrated_urls"))
    else:
        app = build_app(request.getfixturevalue("db_dir"))
    with app.app_context():
        yield app
        db.session.remove()
    dispose(app)


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in a real server.

    The `app` fixture keeps an app context pushed; without this, requests would reuse it and share `g`
    (Flask-Login's cached user, Flask-WTF's cached CSRF token) and the test's database session.
    """

    def open(self, *args, **kwargs):
        """Run one request in a fresh app context."""
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    """Flask's test client, one fresh app context per request."""
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def runner(app):
    """Click runner for `flask` commands."""
    return app.test_cli_runner()


def _pg_admin():
    import psycopg

    url = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(url, autocommit=True, connect_timeout=3)


def _pg_admin_or_skip():
    """A connection to the PostgreSQL server; fails instead of skipping when SORRISO_REQUIRE_POSTGRES=1."""
    try:
        return _pg_admin()
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server"
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (SORRISO_REQUIRE_POSTGRES=1) but unreachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")


def _pg_databases(admin, template: dict | None = None):
    """Create three databases (optionally copies of templates); returns {bind: name}."""
    suffix = uuid.uuid4().hex[:10]
    names = {bind: f"sorriso_{bind}_{suffix}" for bind in BIND_KEYS}
    for bind, name in names.items():
        source = f' TEMPLATE "{template[bind]}"' if template else ""
        admin.execute(f'CREATE DATABASE "{name}"{source}')
    return names


def _pg_url_config(names: dict) -> dict:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return {f"{bind.upper()}_DATABASE_URL": f"{base}/{name}" for bind, name in names.items()}


def _pg_drop(admin, names: dict) -> None:
    for name in names.values():
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_urls():
    """Three empty throw-away PostgreSQL databases."""
    admin = _pg_admin_or_skip()
    with admin:
        names = _pg_databases(admin)
        try:
            yield _pg_url_config(names)
        finally:
            _pg_drop(admin, names)


@pytest.fixture(scope="session")
def pg_session_databases():
    """Three PostgreSQL databases migrated to head once per session (per xdist worker)."""
    admin = _pg_admin_or_skip()
    with admin:
        names = _pg_databases(admin)
        try:
            app = create_app("testing", _pg_url_config(names))
            with app.app_context():
                upgrade()
            dispose(app)
            yield names
        finally:
            _pg_drop(admin, names)


def _pg_empty_tables(names: dict) -> None:
    """Empty every table (but alembic_version) and restart ids; replica mode lets it past history's triggers.

    DELETE plus setval is about thirty times faster than TRUNCATE on these small tables.
    """
    import psycopg

    base = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
    for bind, name in names.items():
        tables = list(metadata_of(bind).tables.values())
        with psycopg.connect(f"{base}/{name}", autocommit=True) as conn, conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            for table in tables:
                conn.execute(f'DELETE FROM "{table.name}"')
                if "id" in table.c:
                    conn.execute(f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), 1, false)")


@pytest.fixture
def pg_migrated_urls(pg_session_databases):
    """Migrated PostgreSQL databases for one test: the session's databases, emptied first (fast)."""
    _pg_empty_tables(pg_session_databases)
    return _pg_url_config(pg_session_databases)
