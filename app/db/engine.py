"""Engine events: SQLite PRAGMAs on every connection and opt-in BEGIN IMMEDIATE (SPEC 2.2)."""

from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.db.binds import Bind

# Execution option a write transaction sets to take SQLite's write lock at BEGIN.
BEGIN_MODE_OPTION = "sqlite_begin_mode"
_BEGIN_MODES = {"DEFERRED", "IMMEDIATE", "EXCLUSIVE"}
_SYNCHRONOUS = {"OFF", "NORMAL", "FULL", "EXTRA"}
_JOURNAL_MODES = {"WAL", "DELETE", "TRUNCATE", "PERSIST", "MEMORY"}


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

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get(BEGIN_MODE_OPTION, "DEFERRED")
        if mode not in _BEGIN_MODES:
            raise ValueError(f"unknown SQLite BEGIN mode {mode!r}")
        conn.exec_driver_sql(f"BEGIN {mode}")
