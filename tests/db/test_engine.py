"""Engine events: PRAGMAs on every bind, WAL files, BEGIN IMMEDIATE for writers, reads without the write lock."""

import sqlite3
import threading
import time

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from app.db import BIND_KEYS, PACIENTES, engine_of
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import Procedure
from tests.conftest import build_app, dispose

CUSTOM = {  # one bind with non-default values proves the configuration is applied per bind
    "pacientes": {"synchronous": "FULL", "busy_timeout": 5000},
    "users": {"synchronous": "NORMAL", "busy_timeout": 1234},
    "history": {"synchronous": "EXTRA", "busy_timeout": 7000},
}
SYNCHRONOUS_CODES = {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}


@pytest.fixture
def custom_app(db_dir):
    """An app whose binds carry different synchronous / busy_timeout settings."""
    pragmas = {bind: {"journal_mode": "WAL", "foreign_keys": "ON", **values} for bind, values in CUSTOM.items()}
    app = build_app(db_dir, SQLITE_PRAGMAS=pragmas)
    with app.app_context():
        yield app
    dispose(app)


@pytest.mark.parametrize("bind", BIND_KEYS)
@pytest.mark.parametrize("pragma", ["journal_mode", "foreign_keys", "synchronous", "busy_timeout"])
def test_live_connection_reports_configured_pragma(custom_app, bind, pragma):
    """Every engine's connections carry WAL, foreign keys and the configured synchronous / busy_timeout."""
    expected = {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": SYNCHRONOUS_CODES[CUSTOM[bind]["synchronous"]],
        "busy_timeout": CUSTOM[bind]["busy_timeout"],
    }[pragma]
    with engine_of(bind).connect() as conn:
        assert conn.exec_driver_sql(f"PRAGMA {pragma}").scalar() == expected


def test_invalid_pragma_setting_is_refused_at_startup(db_dir):
    """A typo in a PRAGMA setting stops the app with a message naming the bind, not silently ignored."""
    with pytest.raises(ValueError, match="users: synchronous"):
        build_app(db_dir, SQLITE_PRAGMAS={"users": {"synchronous": "FAST"}})


@pytest.mark.parametrize("bind", BIND_KEYS)
def test_database_files_are_in_wal_mode(app, db_dir, bind):
    """The files themselves are WAL: a plain sqlite3 connection that sets nothing reads journal_mode=wal."""
    conn = sqlite3.connect(db_dir / f"{bind}.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def _read_then_write(app, code_prefix, errors, pause):
    """One writer: count procedures, wait, insert a row whose code depends on what it read."""
    with app.app_context():
        try:
            with unit_of_work("pacientes"):
                seen = db.session.scalar(select(func.count()).select_from(Procedure))
                time.sleep(pause)
                db.session.add(Procedure(code=f"{code_prefix}{seen}", name="Limpeza", default_price_cents=100))
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)
        finally:
            db.session.remove()


def test_two_concurrent_read_then_write_transactions_both_succeed(app):
    """BEGIN IMMEDIATE serialises writers: no SQLITE_BUSY, no lost update (codes P0 and P1, not P0 twice)."""
    errors = []
    threads = [threading.Thread(target=_read_then_write, args=(app, "P", errors, 0.2)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(db.session.scalars(select(Procedure.code))) == ["P0", "P1"]


def test_deferred_read_then_write_fails_under_contention(app, db_dir):
    """Why BEGIN IMMEDIATE: two deferred read-then-write transactions collide with SQLITE_BUSY at once."""
    barrier = threading.Barrier(2)
    errors = []

    def deferred_writer(n):
        conn = sqlite3.connect(db_dir / "pacientes.db", timeout=1, isolation_level=None)
        try:
            conn.execute("BEGIN DEFERRED")
            conn.execute("SELECT count(*) FROM procedure").fetchone()
            barrier.wait()
            conn.execute(
                "INSERT INTO procedure (code, name, default_price_cents, is_active) VALUES (?, 'x', 1, 1)", (f"D{n}",)
            )
            time.sleep(0.3)
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            errors.append(str(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=deferred_writer, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 1 and "locked" in errors[0]


def test_read_does_not_take_the_write_lock(app, db_dir):
    """While the app holds an open read transaction, another connection can still start a write at once."""
    db.session.scalar(select(func.count()).select_from(Procedure))
    assert db.session().in_transaction()
    other = sqlite3.connect(db_dir / "pacientes.db", timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO procedure (code, name, default_price_cents, is_active) VALUES ('R1', 'x', 1, 1)")
        # ... and the app can keep reading while that writer holds the lock.
        assert db.session.scalar(select(func.count()).select_from(Procedure)) == 0
        other.execute("COMMIT")
    finally:
        other.close()
    db.session.rollback()


def test_write_blocked_by_another_writer_waits_instead_of_failing(app, db_dir):
    """A unit of work waits (busy_timeout) for a writer that holds the lock briefly, then succeeds."""
    other = sqlite3.connect(db_dir / "pacientes.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    releaser = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    releaser.start()
    try:
        with unit_of_work("pacientes"):
            db.session.add(Procedure(code="W1", name="Restauração", default_price_cents=15000))
    finally:
        releaser.join()
        other.close()
    assert db.session.scalar(select(Procedure.code)) == "W1"


def test_foreign_keys_are_enforced(app):
    """foreign_keys=ON is in force: a row pointing at a missing parent is refused by SQLite itself."""
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        with engine_of(PACIENTES).begin() as conn:
            conn.execute(text("INSERT INTO anamnesis (patient_id, status, updated_at) VALUES (999, 'pending', 'x')"))
