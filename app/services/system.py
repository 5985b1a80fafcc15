"""The system page's facts (per bind PRAGMAs, revision vs head, file sizes, pending outbox) and /healthz's answer.

Both read the databases through the one probe (app/db/probe.py).
"""

import sqlite3
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from app.db import BIND_KEYS
from app.db.probe import BindProbe, head_revision, probe
from app.db.relay import pending_counts


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


def _bind_status(found: BindProbe, head: str | None, pending: dict[str, int]) -> BindStatus:
    """The system page's row of one probed bind."""
    pragmas = found.pragmas or {}
    return BindStatus(
        found.bind,
        found.dialect,
        str(found.path) if found.path else None,
        pragmas.get("journal_mode"),
        pragmas.get("synchronous"),
        found.revision,
        head,
        found.size_bytes,
        pending.get(found.bind),
        found.error,
    )


def _last_backup() -> tuple[datetime | None, str | None]:
    """The newest entry of the backups folder (time and name), if there is one."""
    root = Path(current_app.config["BACKUP_DIR"])
    if not root.is_dir():
        return None, None
    entries = sorted(root.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    if not entries:
        return None, None
    newest = entries[0]
    return datetime.fromtimestamp(newest.stat().st_mtime, UTC), newest.name


def system_status() -> SystemStatus:
    """Collect the status of every bind (never raises for a broken database: the error is reported)."""
    head = head_revision()
    probes = [probe(bind) for bind in BIND_KEYS]
    pending = {}
    if all(found.revision is not None for found in probes):  # counting would create a missing file
        with suppress(SQLAlchemyError):
            pending = pending_counts()
    binds = [_bind_status(found, head, pending) for found in probes]
    backup_at, backup_name = _last_backup()
    return SystemStatus(binds, sqlite3.sqlite_version, backup_at, backup_name)


def databases_ready() -> bool:
    """/healthz: every bind answers and has been migrated (a missing SQLite file is not created)."""
    return all(probe(bind).revision is not None for bind in BIND_KEYS)
