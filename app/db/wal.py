"""Keeping SQLite's write-ahead logs small.

A checkpoint copies the WAL into the database; the log file restarts from its beginning only when no reader
still uses an older snapshot, and it is never shrunk unless `journal_size_limit` is set. Under a steady
stream of commits with a reader always somewhere in the log (the relay thread reading the outbox right after
each commit), PASSIVE auto-checkpoints never get to restart it, and the file grows without bound: a
100,000-patient seed once left a 615 MB `pacientes.db-wal`. So:

- every connection sets `journal_size_limit` (app/db/binds.py, 16 MiB): a restarted log is cut back to it;
- `keep_bounded(bind)` runs a TRUNCATE checkpoint (it waits, within the busy timeout, for readers to move on,
  then empties the file) whenever the log has passed that limit; the relay thread calls it after each pass
  and the demo seeder after each batch;
- engines are disposed at process exit (app/__init__.py), so the last connection's close checkpoints and
  removes the `-wal` and `-shm` files.

The bound documented in docs/DESIGN.md is WAL_BOUND_BYTES: the limit plus one large transaction.
"""

import os

from sqlalchemy.engine import Engine

from app.db import engine_of

WAL_BOUND_BYTES = 64 * 1024 * 1024


def wal_path(engine: Engine) -> str | None:
    """The `-wal` file of a SQLite engine's database (None for other dialects and in-memory databases)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    return f"{database}-wal" if database and database != ":memory:" else None


def wal_size(engine: Engine) -> int:
    """The size of the engine's WAL file in bytes (0 when there is none)."""
    path = wal_path(engine)
    try:
        return os.path.getsize(path) if path else 0
    except OSError:
        return 0


def truncate(engine: Engine) -> bool:
    """A TRUNCATE checkpoint: the whole log copied into the database and the file emptied; False if busy."""
    if wal_path(engine) is None:
        return True
    with engine.connect() as conn:
        busy, _log_frames, _checkpointed = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        conn.commit()
    return not busy


def keep_bounded(bind: str, limit: int | None = None) -> bool:
    """Truncate one bind's WAL when it has grown past `limit` (its journal_size_limit); True if it was truncated."""
    engine = engine_of(bind)
    if limit is None:
        with engine.connect() as conn:
            limit = conn.exec_driver_sql("PRAGMA journal_size_limit").scalar() if wal_path(engine) else -1
    if limit is None or limit < 0 or wal_size(engine) <= limit:
        return False
    return truncate(engine)
