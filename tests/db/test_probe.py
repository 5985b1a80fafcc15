"""app.db.probe: the one reading of a database's state, for the check, the system page, /healthz and backups."""

import sqlite3

import pytest

from app import create_app
from app.db import BIND_KEYS
from app.db.probe import head_revision, probe, probe_file
from tests.conftest import dispose, sqlite_urls


@pytest.mark.parametrize("bind", BIND_KEYS)
def test_probe_reads_file_pragmas_and_revision(app, bind):
    """A migrated bind: WAL in the file header, the configured PRAGMAs in force, at head, quick_check ok."""
    found = probe(bind, quick_check=True)
    assert found.error is None and not found.missing
    assert found.dialect == "sqlite" and found.path.name == f"{bind}.db"
    assert found.file_journal_mode == "WAL" and found.file_size > 0
    assert found.size_bytes == found.file_size + found.wal_size
    assert found.pragmas == app.config["SQLITE_PRAGMAS"][bind]
    assert found.revision == head_revision()
    assert found.quick_check == ["ok"]


def test_probe_reports_a_missing_file_without_creating_it(tmp_path):
    """Probing (and so /healthz and the system page) never creates an empty database file."""
    app = create_app("testing", sqlite_urls(tmp_path))
    with app.app_context():
        found = probe("users")
        assert found.missing and found.revision is None and found.error is None
        assert app.test_client().get("/healthz").status_code == 503
    assert not (tmp_path / "users.db").exists() and not (tmp_path / "pacientes.db").exists()
    dispose(app)


def test_probe_reports_an_unreadable_database_instead_of_raising(tmp_path):
    """A file that is not a SQLite database gives an error in the probe; probe_file raises for the backup to word."""
    (tmp_path / "users.db").write_bytes(b"not a database at all, just text" * 100)
    app = create_app("testing", sqlite_urls(tmp_path))
    with app.app_context():
        found = probe("users")
        assert found.error and found.revision is None and found.file_journal_mode is None
    with pytest.raises(sqlite3.DatabaseError):
        probe_file(tmp_path / "users.db")
    dispose(app)


def test_probe_file_describes_a_copy_for_a_manifest(app, db_dir):
    """A file outside the app: its revision, tables, integrity_check and row counts, read with a plain connection."""
    dispose(app)
    copy = probe_file(db_dir / "pacientes.db", readonly=True, integrity=True, row_counts=True)
    assert copy.revision == head_revision() and copy.integrity_check == ["ok"]
    assert "patient" in copy.tables and copy.row_counts["patient"] == 0
    assert copy.size == (db_dir / "pacientes.db").stat().st_size
    assert probe_file(db_dir / "pacientes.db").row_counts is None
