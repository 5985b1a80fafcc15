"""A damaged page in pacientes.db: `flask clinic check` reports it; `flask clinic recover` saves what it can into
a new file with SQLite's `.recover`, checks it, and never touches the original."""

import hashlib
import os
import shutil
import sqlite3

import pytest

from app.db.actor import acting_as
from app.ops.seed import seed_demo
from tests.conftest import build_app, dispose
from tests.support import run_flask


@pytest.fixture(autouse=True)
def sqlite3_tool():
    """The sqlite3 command-line tool: .ci/run installs it; locally the tests skip without it, never under CI."""
    if shutil.which("sqlite3") is None:
        message = "the sqlite3 tool is missing: apt-get install -y sqlite3"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def damaged(db_dir):
    """db_dir with 400 demo patients whose pacientes.db has one patient leaf page overwritten with garbage."""
    app = build_app(db_dir, AUDIT_RELAY_MODE="inline")
    with app.app_context(), acting_as(None):
        seed_demo(400, batch_size=200, seed=11)
    dispose(app)
    path = db_dir / "pacientes.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        leaves = [
            row[0] for row in conn.execute("SELECT pageno FROM dbstat WHERE name = 'patient' AND pagetype = 'leaf'")
        ]
    conn.close()
    assert len(leaves) > 4
    with path.open("r+b") as file:
        file.seek((leaves[len(leaves) // 2] - 1) * page_size)
        file.write(b"\xde\xad\xbe\xef" * 64)
    return db_dir


def test_clinic_check_reports_the_damaged_page(damaged):
    result = run_flask(damaged, "clinic", "check")
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "pacientes" in output
    assert "malformed" in output or "quick_check" in output
    assert "Traceback" not in output


def test_recover_rebuilds_what_it_can_into_a_new_file_and_leaves_the_original(damaged, tmp_path):
    original = damaged / "pacientes.db"
    before = sha256(original)
    dest = tmp_path / "recuperado.db"
    result = run_flask(damaged, "clinic", "recover", "pacientes", str(dest))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "integrity_check do arquivo novo: ok" in result.stdout
    assert sha256(original) == before
    with sqlite3.connect(dest) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        patients = conn.execute("SELECT count(*) FROM patient").fetchone()[0]
        appointments = conn.execute("SELECT count(*) FROM appointment").fetchone()[0]
    conn.close()
    assert 300 <= patients < 400  # most rows saved, the damaged page's lost (or parked in lost_and_found)
    assert appointments > 0
    assert "patient:" in result.stdout


def test_recover_refuses_an_existing_destination(damaged, tmp_path):
    dest = tmp_path / "existe.db"
    dest.write_bytes(b"not mine")
    result = run_flask(damaged, "clinic", "recover", "pacientes", str(dest))
    assert result.returncode == 1
    assert "já existe" in result.stderr
    assert dest.read_bytes() == b"not mine"
