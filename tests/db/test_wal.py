"""Bounded write-ahead logs: a reader's old snapshot cannot make the WAL grow for good, and processes leave no
`-wal`/`-shm` files behind (app/db/wal.py)."""

import sqlite3

from sqlalchemy import text

from app.db import PACIENTES, engine_of
from app.db.actor import acting_as
from app.db.wal import keep_bounded, wal_size
from app.ops.seed import seed_demo
from tests.conftest import build_app, dispose
from tests.support import run_flask

SMALL_LIMIT = 64 * 1024


def small_limit_app(db_dir):
    """A testing app whose pacientes.db cuts its WAL back to 64 KiB."""
    pragmas = {PACIENTES: {"journal_size_limit": SMALL_LIMIT}}
    return build_app(db_dir, SQLITE_PRAGMAS=pragmas, AUDIT_RELAY_MODE="inline")


def test_every_connection_sets_the_journal_size_limit(app):
    with engine_of(PACIENTES).connect() as conn:
        assert conn.execute(text("PRAGMA journal_size_limit")).scalar() == 16 * 1024 * 1024


def test_a_reader_holding_a_snapshot_grows_the_wal_until_keep_bounded_truncates_it(db_dir):
    app = small_limit_app(db_dir)
    reader = sqlite3.connect(db_dir / "pacientes.db", isolation_level=None)
    try:
        with app.app_context(), acting_as(None):
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM patient").fetchone()  # the snapshot is now held
            seed_demo(300, batch_size=50, seed=3)
            engine = engine_of(PACIENTES)
            grown = wal_size(engine)
            assert grown > 4 * SMALL_LIMIT  # checkpoints could not restart the log behind the reader
            reader.execute("COMMIT")
            assert keep_bounded(PACIENTES) is True
            assert wal_size(engine) <= SMALL_LIMIT
            assert keep_bounded(PACIENTES) is False  # nothing to do once it is small again
    finally:
        reader.close()
        dispose(app)


def test_seed_keeps_the_wal_bounded_and_removes_it_at_exit(db_dir):
    result = run_flask(db_dir, "seed", "demo", "--patients", "600", "--batch-size", "100", "--seed", "5", "--yes")
    assert result.returncode == 0, result.stderr
    leftovers = sorted(path.name for path in db_dir.iterdir() if path.name.endswith(("-wal", "-shm")))
    assert leftovers == []
    with sqlite3.connect(db_dir / "pacientes.db") as conn:
        assert conn.execute("SELECT count(*) FROM patient").fetchone()[0] == 600
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
