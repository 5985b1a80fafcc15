"""Database files on disk: where each SQLite bind lives, fsync, checksums, timestamped folders."""

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app

from app.db import BIND_KEYS, engine_of
from app.db.probe import sqlite_path

COMPANIONS = ("-wal", "-shm", "-journal")


def bind_paths() -> dict[str, Path | None]:
    """Each bind's SQLite file (None when the bind is not SQLite), without connecting."""
    return {bind: sqlite_path(engine_of(bind)) for bind in BIND_KEYS}


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
    """Where automatic backups go: BACKUP_DIR (create_app makes it instance/backups when not set)."""
    return Path(current_app.config["BACKUP_DIR"])


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
