"""Database files on disk: where each SQLite bind lives, fsync, checksums, the migration head."""

import hashlib
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy.engine import Engine

from app.db import BIND_KEYS
from app.db.unit_of_work import engine_for

COMPANIONS = ("-wal", "-shm", "-journal")


def sqlite_path(engine: Engine) -> Path | None:
    """The file behind a SQLite engine; None for other backends."""
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return None
    return Path(engine.url.database).resolve()


def bind_paths() -> dict[str, Path | None]:
    """Each bind's SQLite file (None when the bind is not SQLite), without connecting."""
    return {bind: sqlite_path(engine_for(bind)) for bind in BIND_KEYS}


def dispose_engines() -> None:
    """Close every pooled connection of this process, so files can be moved or replaced."""
    for bind in BIND_KEYS:
        engine_for(bind).dispose()


def fsync_file(path: Path) -> None:
    """Flush a file's content to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (new or renamed files) to the disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def utc_stamp() -> str:
    """A UTC timestamp usable in a folder name: 20260131T235959Z."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def backups_root() -> Path:
    """Where automatic backups go: BACKUP_DIR, else instance/backups."""
    configured = current_app.config.get("BACKUP_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "backups"


def script_directory(directory: str | None = None) -> ScriptDirectory:
    """The migration scripts this code ships (or those of another migrations folder)."""
    config = Config()
    config.set_main_option("script_location", str(directory or current_app.extensions["migrate"].directory))
    return ScriptDirectory.from_config(config)


def head_revision(directory: str | None = None) -> str | None:
    """The newest migration revision this code knows."""
    return script_directory(directory).get_current_head()


def new_folder(root: Path, prefix: str) -> Path:
    """A folder `root/prefix-<UTC timestamp>` that did not exist before (a suffix is added if needed)."""
    root.mkdir(parents=True, exist_ok=True)
    base = root / f"{prefix}-{utc_stamp()}"
    for attempt in range(1, 100):
        folder = base if attempt == 1 else base.with_name(f"{base.name}-{attempt}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(base)


def file_journal_mode(path: Path) -> str | None:
    """The journal mode written in a SQLite file's header (WAL or a rollback journal), without opening it."""
    with open(path, "rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or not header.startswith(b"SQLite format 3\x00"):
        return None
    return "WAL" if header[18] == 2 else "DELETE"


def open_raw(path: Path, busy_timeout_ms: int = 5000, readonly: bool = False) -> sqlite3.Connection:
    """A plain sqlite3 connection in autocommit mode (no PRAGMAs applied besides the busy timeout)."""
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=busy_timeout_ms / 1000)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    return conn


def sqlite_revision(conn: sqlite3.Connection) -> str | None:
    """The alembic revision stored in a SQLite database; None when it was never migrated."""
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


def table_row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Row count of every table of a SQLite database (sqlite_* internals excluded)."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}
