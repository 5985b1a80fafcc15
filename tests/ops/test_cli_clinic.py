"""`flask clinic check|backup|verify-backup|restore` and the backup `flask db upgrade` takes first."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.db import BIND_KEYS
from app.db.audit import audit_payload
from app.extensions import db
from app.models.pacientes import Patient
from app.ops.checks import wal_reset_bug_affects
from tests.conftest import dispose
from tests.factories import make_patient, make_user
from tests.support import ROOT, run_flask


def raw(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection that bypasses Sorriso (to plant problems or read files)."""
    return sqlite3.connect(path, isolation_level=None, timeout=10)


@pytest.fixture(autouse=True)
def backups_in_tmp(request, tmp_path):
    """Automatic backups and moved-aside files of the in-process app go to the test's folder."""
    if "app" in request.fixturenames:
        request.getfixturevalue("app").config["BACKUP_DIR"] = str(tmp_path / "backups")


# --- clinic check ------------------------------------------------------------------------------------------


def test_check_passes_on_a_healthy_instance(app, runner):
    """A migrated instance with data: exit 0, every bind at head, PRAGMAs as configured, chain verified."""
    dentist = make_user("dentist")
    make_patient(actor_id=dentist.id)
    result = runner.invoke(args=["clinic", "check"])
    assert result.exit_code == 0, result.output
    assert "Resultado: OK" in result.output
    assert "PRAGMAs em vigor: journal_mode=WAL synchronous=FULL foreign_keys=ON busy_timeout=5000" in result.output
    assert ("reset do WAL" in result.output) == wal_reset_bug_affects(sqlite3.sqlite_version_info)


def test_check_json_describes_every_bind(app, runner):
    """--json gives a machine-readable report with per-bind PRAGMAs, quick_check, revision and sizes."""
    result = runner.invoke(args=["clinic", "check", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["problems"] == []
    for bind in BIND_KEYS:
        info = report["binds"][bind]
        assert info["quick_check"] == ["ok"]
        assert info["revision"] == info["head"] is not None
        assert info["pragmas_in_force"] == info["pragmas_expected"]
        assert info["file_size"] > 0 and info["file_journal_mode"] == "WAL"
    assert report["outbox"] == {"pacientes": 0, "users": 0}
    assert report["audit_chain"]["ok"] is True


@pytest.mark.parametrize(
    "bind, statement, expected",
    [
        ("pacientes", "UPDATE patient SET created_by_user_id = 4242", "pacientes.patient.created_by_user_id: 1"),
        (
            "history",
            "INSERT INTO timeline_event (event_id, patient_id, occurred_at, kind, summary) "
            "VALUES ('planted', 777, '2026-01-01 00:00:00', 'x', 'x')",
            "history.timeline_event.patient_id: 1",
        ),
    ],
)
def test_check_finds_an_orphan_planted_with_a_raw_connection(app, db_dir, runner, bind, statement, expected):
    """An id pointing at a user or patient that does not exist makes the check fail and names the column."""
    make_patient()
    with raw(db_dir / f"{bind}.db") as conn:
        conn.execute(statement)
    result = runner.invoke(args=["clinic", "check"])
    assert result.exit_code == 1
    assert expected in result.output
    assert "4242" in result.output or "777" in result.output


def test_check_finds_a_file_switched_to_another_journal_mode(app, db_dir, runner):
    """A database file switched to journal_mode=DELETE behind Sorriso's back is reported."""
    dispose(app)
    with raw(db_dir / "users.db") as conn:
        assert conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    result = runner.invoke(args=["clinic", "check"])
    assert result.exit_code == 1
    assert "users: o arquivo está em journal_mode=DELETE, configurado WAL" in result.output


def test_check_finds_pragmas_in_force_that_differ_from_the_configuration(app, runner):
    """Configuration expecting synchronous=NORMAL while connections run FULL is a problem."""
    pragmas = app.config["SQLITE_PRAGMAS"]
    app.config["SQLITE_PRAGMAS"] = {**pragmas, "users": {**pragmas["users"], "synchronous": "NORMAL"}}
    result = runner.invoke(args=["clinic", "check"])
    assert result.exit_code == 1
    assert "users: PRAGMA synchronous em vigor é FULL, configurado NORMAL" in result.output


def test_check_finds_a_pending_outbox_event_until_it_is_relayed(app, db_dir, runner):
    """An event left in an outbox fails the check; `flask audit relay` delivers it and the check passes."""
    user = make_user()
    payload = json.dumps({"audit": audit_payload("update", "users", "user", user.id)})
    with raw(db_dir / "users.db") as conn:
        conn.execute(
            "INSERT INTO audit_outbox (event_id, created_at, payload) VALUES "
            "('pendingevent', '2026-01-01 00:00:00', ?)",
            (payload,),
        )
    result = runner.invoke(args=["clinic", "check"])
    assert result.exit_code == 1
    assert "users: 1 evento(s) de auditoria esperando no outbox" in result.output
    assert runner.invoke(args=["audit", "relay"]).exit_code == 0
    assert runner.invoke(args=["clinic", "check"]).exit_code == 0


def test_check_reports_an_unmigrated_database(tmp_path):
    """A real `flask clinic check` on databases never migrated exits 1 naming the missing revision."""
    folder = tmp_path / "empty"
    folder.mkdir()
    result = run_flask(folder, "clinic", "check")
    assert result.returncode == 1
    assert "rode `flask db upgrade`" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "version, affected",
    [
        ((3, 40, 1), True),
        ((3, 51, 2), True),
        ((3, 51, 3), False),
        ((3, 52, 0), False),
        ((3, 44, 5), True),
        ((3, 44, 6), False),
        ((3, 50, 6), True),
        ((3, 50, 7), False),
        ((3, 6, 23), False),
    ],
)
def test_wal_reset_bug_versions(version, affected):
    """3.7.0 to 3.51.2 are affected, except the 3.44.6+ and 3.50.7+ backports."""
    assert wal_reset_bug_affects(version) is affected


@pytest.mark.postgres
def test_check_on_postgresql_skips_sqlite_only_checks(pg_urls):
    """On PostgreSQL the check still compares revisions, scans orphans and verifies the chain, without PRAGMAs."""
    from flask_migrate import upgrade

    from app import create_app
    from app.ops.checks import run_checks

    pg_app = create_app("testing", pg_urls)
    with pg_app.app_context():
        upgrade()
        report = run_checks()
        assert report.ok, report.problems
        assert {info["backend"] for info in report.binds.values()} == {"postgresql"}
        assert all("pragmas_in_force" not in info for info in report.binds.values())
        assert report.warnings == []
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


# --- backup and restore ------------------------------------------------------------------------------------


def test_backup_writes_databases_and_a_manifest_that_verifies(app, runner, tmp_path):
    """The backup folder holds each database (integrity ok, standalone) and a manifest with checksums and counts."""
    make_patient()
    dest = tmp_path / "bk"
    result = runner.invoke(args=["clinic", "backup", str(dest)])
    assert result.exit_code == 0, result.output
    assert "Copiando pacientes" in result.output
    manifest = json.loads((dest / "manifest.json").read_text())
    assert set(manifest["databases"]) == set(BIND_KEYS)
    assert manifest["head_revision"] and manifest["sorriso_version"] and manifest["created_at"].endswith("+00:00")
    assert manifest["databases"]["pacientes"]["row_counts"]["patient"] == 1
    for bind in BIND_KEYS:
        with raw(dest / f"{bind}.db") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert not (dest / f"{bind}.db-wal").exists()
    verified = runner.invoke(args=["clinic", "verify-backup", str(dest)])
    assert verified.exit_code == 0, verified.output


def test_backup_refuses_a_destination_that_is_not_empty(app, runner, tmp_path):
    """A folder with files in it is never written into (exit 2)."""
    dest = tmp_path / "bk"
    dest.mkdir()
    (dest / "something").write_text("x")
    result = runner.invoke(args=["clinic", "backup", str(dest)])
    assert result.exit_code == 2
    assert "não está vazio" in result.output
    assert sorted(p.name for p in dest.iterdir()) == ["something"]


@pytest.fixture
def backup(app, runner, tmp_path):
    """A fresh backup of the test's instance (one patient in it)."""
    make_patient()
    dest = tmp_path / "bk"
    assert runner.invoke(args=["clinic", "backup", str(dest)]).exit_code == 0
    return dest


def _rewrite_sha(folder: Path, bind: str) -> None:
    """Make the manifest agree with a file changed on purpose."""
    from app.ops.files import sha256_file

    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["databases"][bind]["sha256"] = sha256_file(folder / f"{bind}.db")
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _tamper_bytes(folder):
    with open(folder / "users.db", "ab") as handle:
        handle.write(b"\0")


def _newer_revision(folder):
    with raw(folder / "users.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["databases"]["users"]["revision"] = "9999"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    _rewrite_sha(folder, "users")


def _no_manifest(folder):
    (folder / "manifest.json").unlink()


@pytest.mark.parametrize(
    "spoil, message",
    [
        (_tamper_bytes, "checksum SHA-256 de users.db não confere"),
        (_newer_revision, "mais nova que esta versão do Sorriso"),
        (_no_manifest, "não é uma pasta de backup"),
    ],
)
def test_restore_refuses_a_bad_backup_and_touches_nothing(app, runner, backup, tmp_path, spoil, message):
    """Tampered files, a backup from a newer Sorriso or a missing manifest: exit 1, no file moved."""
    spoil(backup)
    fresh = tmp_path / "fresh"
    result = run_flask(fresh, "clinic", "restore", str(backup))
    assert result.returncode == 1
    assert message in result.stderr
    assert not any(fresh.glob("*.db"))


def test_restore_refuses_to_overwrite_without_force(app, db_dir, runner, backup):
    """Existing databases are never replaced silently: exit 1, the current files stay."""
    make_patient()
    result = runner.invoke(args=["clinic", "restore", str(backup)])
    assert result.exit_code == 1
    assert "--force" in result.output
    assert db.session.scalar(select(db.func.count()).select_from(Patient)) == 2


def test_restore_with_force_moves_the_current_files_aside(app, db_dir, runner, backup, tmp_path):
    """--force replaces the databases with the backup and keeps the previous files in before-restore-*."""
    make_patient()
    result = runner.invoke(args=["clinic", "restore", str(backup), "--force"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(db.func.count()).select_from(Patient)) == 1
    (aside,) = (tmp_path / "backups").glob("before-restore-*")
    with raw(aside / "pacientes.db") as conn:
        assert conn.execute("SELECT count(*) FROM patient").fetchone()[0] == 2
    with raw(db_dir / "pacientes.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_restore_refuses_while_another_connection_uses_the_database(app, db_dir, runner, backup, tmp_path):
    """A database still open elsewhere (a running server) is not replaced."""
    holder = raw(db_dir / "pacientes.db")
    holder.execute("PRAGMA journal_mode = WAL")
    holder.execute("SELECT count(*) FROM patient").fetchone()
    try:
        result = runner.invoke(args=["clinic", "restore", str(backup), "--force"])
    finally:
        holder.close()
    assert result.exit_code == 1
    assert "em uso por outro processo" in result.output
    assert not (tmp_path / "backups").exists()
    assert (db_dir / "pacientes.db").exists()


# --- db upgrade takes a backup first ---------------------------------------------------------------------

NOOP_REVISION = '''"""A later revision that changes nothing (tests only).

Revision ID: 0099
Revises: {head}
"""

revision = "0099"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade(engine_name):
    pass


def downgrade(engine_name):
    pass
'''


@pytest.fixture
def newer_migrations(tmp_path):
    """A copy of the migrations folder with one more (empty) revision, as a future Sorriso would ship."""
    from app.db.probe import head_revision

    folder = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "versions" / "0099_noop.py").write_text(NOOP_REVISION.format(head=head_revision()))
    return folder


def test_db_upgrade_backs_up_databases_that_hold_data(app, db_dir, runner, newer_migrations, tmp_path):
    """Upgrading databases with data first copies them into backups/pre-upgrade-*; at head, no new backup."""
    make_patient()
    result = runner.invoke(args=["db", "upgrade", "-d", str(newer_migrations)])
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "backups").glob("pre-upgrade-*")
    assert f"Backup automático antes da migração: {folder}" in result.output
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["kind"] == "pre-upgrade"
    assert manifest["databases"]["pacientes"]["row_counts"]["patient"] == 1
    assert {entry["revision"] for entry in manifest["databases"].values()} != {"0099"}
    for engine in db.engines.values():
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0099"
    again = runner.invoke(args=["db", "upgrade", "-d", str(newer_migrations)])
    assert again.exit_code == 0
    assert len(list((tmp_path / "backups").glob("pre-upgrade-*"))) == 1


def test_db_upgrade_of_one_bind_backs_up_only_that_bind(app, runner, newer_migrations, tmp_path):
    """`-x bind=users` copies users.db alone before migrating it."""
    make_user()
    result = runner.invoke(args=["db", "upgrade", "-d", str(newer_migrations), "-x", "bind=users"])
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "backups").glob("pre-upgrade-*")
    assert sorted(p.name for p in folder.glob("*.db")) == ["users.db"]


def test_db_upgrade_of_an_empty_instance_takes_no_backup(tmp_path):
    """A real `flask db upgrade` on nothing migrates without a backup (there is nothing to keep)."""
    folder = tmp_path / "empty"
    folder.mkdir()
    result = run_flask(folder, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert not (folder / "backups").exists()
