"""The one database probe: what state a bind (or a copied SQLite file) is in, without changing it.

`probe(bind)` reads a bind's file (size, WAL size, the journal mode written in its header) before connecting,
then the PRAGMAs in force, optionally `quick_check`, and the migration revision. `probe_file(path)` reads a
SQLite file outside the app (a backup's copy). `flask clinic check`, the system page, `/healthz` and backup
manifests all read databases through here; none of them raises for a broken database, the probe says so.
"""

import functools
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from app.db import engine_of

REVISION_SQL = "SELECT version_num FROM alembic_version"
SYNCHRONOUS_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
WRITE_CHECK_TIMEOUT_MS = 2000  # how long the write check waits for a lock another process holds
PRAGMAS = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "journal_size_limit")


@dataclass(frozen=True)
class BindProbe:
    """What one bind's database looks like now; `error` says why it could not be read."""

    bind: str
    dialect: str
    path: Path | None = None  # the SQLite file; None on other backends
    file_size: int | None = None  # None when not SQLite or the file does not exist
    wal_size: int | None = None
    file_journal_mode: str | None = None  # from the file header: WAL or DELETE (a rollback journal)
    pragmas: dict | None = None  # in force on a pooled connection (SQLite only)
    quick_check: list[str] | None = None  # when asked for
    revision: str | None = None  # None when never migrated
    error: str | None = None
    free_bytes: int | None = None  # free space on the SQLite file's disk (when asked for)
    write_error: str | None = None  # why a write could not start now (when asked for); None = it could

    @property
    def missing(self) -> bool:
        """A SQLite bind whose file does not exist (the probe did not create it)."""
        return self.path is not None and self.file_size is None

    @property
    def size_bytes(self) -> int | None:
        """The file plus its WAL, in bytes."""
        return None if self.file_size is None else self.file_size + (self.wal_size or 0)


@dataclass(frozen=True)
class FileProbe:
    """What a SQLite file outside the app holds (a backup's copy): its revision, tables and checks."""

    path: Path
    size: int
    journal_mode: str | None  # from the file header
    revision: str | None
    tables: tuple[str, ...]  # every table but SQLite's own
    integrity_check: list[str] | None = None  # when asked for
    row_counts: dict[str, int] | None = None  # when asked for


def sqlite_path(engine: Engine) -> Path | None:
    """The file behind a SQLite engine; None for other backends (and in-memory databases)."""
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return None
    return Path(engine.url.database).resolve()


def file_journal_mode(path: Path) -> str | None:
    """The journal mode written in a SQLite file's header (WAL or a rollback journal), without opening it."""
    with open(path, "rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or not header.startswith(b"SQLite format 3\x00"):
        return None
    return "WAL" if header[18] == 2 else "DELETE"


def script_directory(directory: str | None = None) -> ScriptDirectory:
    """The migration scripts this code ships (or those of another migrations folder)."""
    config = Config()
    config.set_main_option("script_location", str(directory or current_app.extensions["migrate"].directory))
    return ScriptDirectory.from_config(config)


def head_revision(directory: str | None = None) -> str | None:
    """The newest migration revision this code knows (the scripts are read again only when a file is added or
    removed: reading them took most of the system page's time)."""
    folder = str(directory or current_app.extensions["migrate"].directory)
    versions = Path(folder) / "versions"
    return _head_of(folder, versions.stat().st_mtime_ns if versions.is_dir() else 0)


@functools.lru_cache(maxsize=16)
def _head_of(folder: str, _versions_changed_at: int) -> str | None:
    return script_directory(folder).get_current_head()


def _pragmas_in_force(conn: Connection) -> dict:
    """The PRAGMA values of a connection the engine's connect listener has set up."""
    values = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in PRAGMAS}
    return {
        "journal_mode": str(values["journal_mode"]).upper(),
        "synchronous": SYNCHRONOUS_NAMES.get(values["synchronous"], str(values["synchronous"])),
        "foreign_keys": "ON" if values["foreign_keys"] else "OFF",
        "busy_timeout": int(values["busy_timeout"]),
        "journal_size_limit": int(values["journal_size_limit"]),
    }


def _revision(conn: Connection) -> str | None:
    """The alembic revision stored in a database; None when never migrated.

    Read last on its connection: on PostgreSQL a missing table aborts the transaction.
    """
    try:
        return conn.execute(text(REVISION_SQL)).scalar()
    except SQLAlchemyError:
        return None


def write_problem(path: Path, busy_timeout_ms: int) -> str | None:
    """Why a writer could not start on a SQLite file right now (read-only file or disk, a write lock held past
    the busy timeout), or None. `BEGIN IMMEDIATE` takes the write lock and is rolled back: nothing is written."""
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        return "somente leitura"
    try:
        conn = open_raw(path, busy_timeout_ms)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        conn.close()
    return None


def probe(bind: str, *, quick_check: bool = False, write_check: bool = False) -> BindProbe:
    """Probe one bind of the current app; a SQLite file that does not exist is reported, never created.

    `write_check` also measures the disk's free space and whether a writer could start now (see write_problem).
    """
    engine = engine_of(bind)
    path = sqlite_path(engine)
    facts = {"bind": bind, "dialect": engine.dialect.name, "path": path}
    if path is not None:
        if not path.exists():
            return BindProbe(**facts)
        wal = Path(f"{path}-wal")
        facts["file_size"] = path.stat().st_size
        facts["wal_size"] = wal.stat().st_size if wal.exists() else 0
        facts["file_journal_mode"] = file_journal_mode(path)  # before connecting: connecting sets WAL again
        if write_check:
            facts["free_bytes"] = shutil.disk_usage(path.parent).free
            busy_timeout = current_app.config["SQLITE_PRAGMAS"][bind]["busy_timeout"]
            facts["write_error"] = write_problem(path, min(busy_timeout, WRITE_CHECK_TIMEOUT_MS))
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                facts["pragmas"] = _pragmas_in_force(conn)
                if quick_check:
                    facts["quick_check"] = [row[0] for row in conn.exec_driver_sql("PRAGMA quick_check")]
            facts["revision"] = _revision(conn)
    except SQLAlchemyError as exc:
        facts["error"] = str(getattr(exc, "orig", exc))
    return BindProbe(**facts)


def open_raw(path: Path, busy_timeout_ms: int = 5000, readonly: bool = False) -> sqlite3.Connection:
    """A plain sqlite3 connection in autocommit mode (no PRAGMAs applied besides the busy timeout)."""
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=busy_timeout_ms / 1000)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    return conn


def probe_file(path: Path, *, readonly: bool = False, integrity: bool = False, row_counts: bool = False) -> FileProbe:
    """Probe a SQLite file with a plain connection; raises sqlite3.DatabaseError when it is not a readable database."""
    journal_mode = file_journal_mode(path)
    conn = open_raw(path, readonly=readonly)
    try:
        tables = tuple(
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        )
        check = [row[0] for row in conn.execute("PRAGMA integrity_check")] if integrity else None
        stored = conn.execute(REVISION_SQL).fetchone() if "alembic_version" in tables else None
        counts = None
        if row_counts:
            counts = {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in tables}
    finally:
        conn.close()
    revision = stored[0] if stored else None
    return FileProbe(path, path.stat().st_size, journal_mode, revision, tables, check, counts)
