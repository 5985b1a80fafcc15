"""The system page's facts: per bind PRAGMAs, migration revision vs head, file sizes, pending outbox events."""

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.db import BIND_KEYS
from app.db.relay import app_engines, pending_counts
from app.ops.files import backups_root, head_revision, sqlite_path

SYNCHRONOUS_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


@dataclass(frozen=True)
class BindStatus:
    """What the system page shows about one database."""

    bind: str
    dialect: str
    path: str | None
    journal_mode: str | None
    synchronous: str | None
    revision: str | None
    head: str | None
    size_bytes: int | None
    pending_outbox: int | None
    error: str | None = None

    @property
    def up_to_date(self) -> bool:
        """Whether the database is migrated to the revision this code ships."""
        return self.revision is not None and self.revision == self.head


@dataclass(frozen=True)
class SystemStatus:
    """Every bind's status plus facts about the SQLite library and backups."""

    binds: list[BindStatus]
    sqlite_version: str
    last_backup: datetime | None
    last_backup_name: str | None


def _file_size(path: Path | None) -> int | None:
    """Size of a database file plus its WAL, in bytes."""
    if path is None or not path.exists():
        return None
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _bind_status(bind: str, engine, head: str | None, pending: dict[str, int]) -> BindStatus:
    path = sqlite_path(engine)
    journal = synchronous = revision = error = None
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                journal = str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()).upper()
                code = conn.exec_driver_sql("PRAGMA synchronous").scalar()
                synchronous = SYNCHRONOUS_NAMES.get(code, str(code))
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError as exc:
        error = str(getattr(exc, "orig", exc))
    return BindStatus(
        bind,
        engine.dialect.name,
        str(path) if path else None,
        journal,
        synchronous,
        revision,
        head,
        _file_size(path),
        pending.get(bind),
        error,
    )


def _last_backup() -> tuple[datetime | None, str | None]:
    """The newest entry of the backups folder (time and name), if there is one."""
    root = backups_root()
    if not root.is_dir():
        return None, None
    entries = sorted(root.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    if not entries:
        return None, None
    newest = entries[0]
    return datetime.fromtimestamp(newest.stat().st_mtime, UTC), newest.name


def system_status() -> SystemStatus:
    """Collect the status of every bind (never raises for a broken database: the error is reported)."""
    engines = app_engines()
    head = head_revision()
    try:
        pending = pending_counts(engines)
    except SQLAlchemyError:
        pending = {}
    binds = [_bind_status(bind, engines[bind], head, pending) for bind in BIND_KEYS]
    backup_at, backup_name = _last_backup()
    return SystemStatus(binds, sqlite3.sqlite_version, backup_at, backup_name)
