"""Engine events: SQLite PRAGMAs on every connection and opt-in BEGIN IMMEDIATE (SPEC 2.2)."""

import sqlite3
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from app.db.binds import Bind

# Execution option a write transaction sets to take SQLite's write lock at BEGIN.
BEGIN_MODE_OPTION = "sqlite_begin_mode"
# Execution option of a write whose loss in a power cut (never in a process crash) costs nothing: its commit
# skips the fsync (synchronous=NORMAL); the next durable commit's fsync of the WAL makes it durable too.
RELAXED_OPTION = "sorriso_relaxed_durability"
_BEGIN_MODES = {"DEFERRED", "IMMEDIATE", "EXCLUSIVE"}
_SYNCHRONOUS = {"OFF", "NORMAL", "FULL", "EXTRA"}
_JOURNAL_MODES = {"WAL", "DELETE", "TRUNCATE", "PERSIST", "MEMORY"}
# How long one attempt at the write lock may wait inside SQLite before Sorriso asks again (see _begin_writing).
WRITE_LOCK_POLL_MS = 8


def validate_pragmas(bind: Bind, configured: dict) -> dict:
    """Check a bind's configured PRAGMA values (its registry defaults fill the gaps) so a typo cannot reach SQL."""
    pragmas = {**bind.pragmas, **configured}
    journal = str(pragmas["journal_mode"]).upper()
    synchronous = str(pragmas["synchronous"]).upper()
    foreign_keys = str(pragmas["foreign_keys"]).upper()
    busy_timeout = int(pragmas["busy_timeout"])
    journal_size_limit = int(pragmas["journal_size_limit"])
    if journal not in _JOURNAL_MODES:
        raise ValueError(f"{bind.name}: journal_mode must be one of {sorted(_JOURNAL_MODES)}, got {journal!r}")
    if synchronous not in _SYNCHRONOUS:
        raise ValueError(f"{bind.name}: synchronous must be one of {sorted(_SYNCHRONOUS)}, got {synchronous!r}")
    if foreign_keys not in {"ON", "OFF"}:
        raise ValueError(f"{bind.name}: foreign_keys must be ON or OFF, got {foreign_keys!r}")
    if busy_timeout < 0:
        raise ValueError(f"{bind.name}: busy_timeout must be >= 0 ms")
    if journal_size_limit < -1:
        raise ValueError(f"{bind.name}: journal_size_limit must be >= -1 bytes (-1 = no limit)")
    return {
        "journal_mode": journal,
        "synchronous": synchronous,
        "foreign_keys": foreign_keys,
        "busy_timeout": busy_timeout,
        "journal_size_limit": journal_size_limit,
    }


def install_sqlite_events(engine: Engine, pragmas: dict) -> None:
    """Attach the connect and begin listeners to one engine; other dialects are left alone."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event emit BEGIN instead of pysqlite (the documented recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {pragmas['busy_timeout']}")
        cursor.execute(f"PRAGMA journal_mode = {pragmas['journal_mode']}")
        cursor.execute(f"PRAGMA synchronous = {pragmas['synchronous']}")
        cursor.execute(f"PRAGMA foreign_keys = {pragmas['foreign_keys']}")
        cursor.execute(f"PRAGMA journal_size_limit = {pragmas['journal_size_limit']}")
        cursor.close()

    configured = pragmas["synchronous"]
    relaxed = "NORMAL" if configured in ("FULL", "EXTRA") else configured

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        options = conn.get_execution_options()
        mode = options.get(BEGIN_MODE_OPTION, "DEFERRED")
        if mode not in _BEGIN_MODES:
            raise ValueError(f"unknown SQLite BEGIN mode {mode!r}")
        # SQLite refuses to change the safety level inside a transaction, so it is set here, before BEGIN, and
        # put back by the connection's next BEGIN that does not ask for it.
        wanted = relaxed if options.get(RELAXED_OPTION) else configured
        info = conn.connection.info
        if info.get("synchronous", configured) != wanted:  # on the driver's connection: not a query of the page
            conn.connection.driver_connection.execute(f"PRAGMA synchronous = {wanted}")
            info["synchronous"] = wanted
        if mode != "DEFERRED" and pragmas["busy_timeout"] > 0:
            _begin_writing(conn, mode, pragmas["busy_timeout"])
        else:
            conn.exec_driver_sql(f"BEGIN {mode}")


def _begin_writing(conn, mode: str, timeout_ms: int) -> None:
    """BEGIN IMMEDIATE that waits up to the busy timeout for the write lock, asking again every few ms.

    SQLite's own busy handler backs off to sleeps of 100 ms: a writer of one gunicorn worker that waited a
    while sleeps through many releases of the lock, which the other worker's next writer takes at once, so
    under load one process starved while the lock sat idle. Each attempt here waits at most
    WRITE_LOCK_POLL_MS inside SQLite (its first sleeps: 1, 2, 5 ms), so a release is noticed within a few ms.
    """
    raw = conn.connection.driver_connection
    deadline = time.monotonic() + timeout_ms / 1000
    raw.execute(f"PRAGMA busy_timeout = {WRITE_LOCK_POLL_MS}")
    try:
        while True:
            try:
                raw.execute(f"BEGIN {mode}")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise OperationalError(f"BEGIN {mode}", None, exc) from exc
    finally:
        raw.execute(f"PRAGMA busy_timeout = {timeout_ms}")
