"""Online backup while another process writes: consistent copies, a manifest that verifies, a working restore."""

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.db import BIND_KEYS
from tests.support import ROOT, run_flask

# A separate process that registers patients through the service (each commit relays its audit events
# to history.db) until a stop file appears.
WRITER = """
import sys, time
from pathlib import Path
from tests.conftest import build_app
from tests.factories import make_patient

folder, stop = Path(sys.argv[1]), Path(sys.argv[2])
app = build_app(folder)
with app.app_context():
    deadline = time.monotonic() + 120
    while not stop.exists() and time.monotonic() < deadline:
        make_patient()
"""


def patient_count(folder: Path) -> int:
    """Patients in a pacientes.db, read with a plain connection."""
    with sqlite3.connect(folder / "pacientes.db", timeout=10) as conn:
        return conn.execute("SELECT count(*) FROM patient").fetchone()[0]


def wait_until(condition, what: str, limit: float = 90.0) -> None:
    """Poll a condition; fail with `what` if it never holds (a safety net, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def writer(db_dir, tmp_path):
    """A child process creating patients continuously in db_dir; stopped (and checked) at teardown."""
    stop = tmp_path / "stop-writer"
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db_dir), str(stop)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield process, stop
    stop.touch()
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr


def test_backup_during_continuous_writes_restores_to_a_working_app(db_dir, writer, tmp_path):
    """A real `flask clinic backup` taken mid-write storm verifies, restores, and the audit chain holds."""
    process, stop = writer
    wait_until(lambda: patient_count(db_dir) >= 5, "the writer's first patients")
    dest = tmp_path / "bk"
    result = run_flask(db_dir, "clinic", "backup", str(dest))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((dest / "manifest.json").read_text())
    in_backup = manifest["databases"]["pacientes"]["row_counts"]["patient"]
    wait_until(lambda: patient_count(db_dir) > in_backup, "writes after the backup")
    stop.touch()
    process.wait(timeout=120)
    assert 5 <= in_backup < patient_count(db_dir)
    for bind in BIND_KEYS:
        with sqlite3.connect(dest / f"{bind}.db") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert run_flask(db_dir, "clinic", "verify-backup", str(dest)).returncode == 0

    fresh = tmp_path / "fresh"
    restored = run_flask(fresh, "clinic", "restore", str(dest))
    assert restored.returncode == 0, restored.stderr
    assert patient_count(fresh) == in_backup
    assert run_flask(fresh, "audit", "relay").returncode == 0
    verify = run_flask(fresh, "audit", "verify")
    assert verify.returncode == 0, verify.stderr
    check = run_flask(fresh, "clinic", "check")
    assert check.returncode == 0, check.stdout


def test_restored_instance_serves_requests(app, runner, tmp_path):
    """After a restore into a new folder, the app built on it answers /healthz with ok."""
    from tests.conftest import build_app, dispose
    from tests.factories import make_patient

    make_patient()
    dest = tmp_path / "bk"
    assert runner.invoke(args=["clinic", "backup", str(dest)]).exit_code == 0
    fresh = tmp_path / "fresh"
    restored_app = build_app(fresh, BACKUP_DIR=str(tmp_path / "backups"))
    with restored_app.app_context():
        result = restored_app.test_cli_runner().invoke(args=["clinic", "restore", str(dest)])
        assert result.exit_code == 0, result.output
        assert restored_app.test_client().get("/healthz").get_json() == {"status": "ok"}
    dispose(restored_app)
    assert patient_count(fresh) == 1
