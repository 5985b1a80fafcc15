"""Faults the clinic's server will meet: a read-only disk, a write lock held past the busy timeout, a full disk.

Each on real SQLite files (on a small tmpfs mounted for the test where the disk itself is the fault): the person
at the screen gets a clear 503 page, nothing is half-written, `flask clinic check` names the fault, and
Sorriso works again once the fault is gone.
"""

import os
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest

from app.db import BIND_KEYS
from tests.conftest import build_app, dispose
from tests.support import csrf_token, login_as, run_flask

PATIENT = {"full_name": "Paciente Durante a Falha", "phone": "(11) 98765-4321"}


@pytest.fixture
def tmpfs(tmp_path):
    """A small tmpfs of our own (4 MiB); skipped, saying why, where this machine does not allow mounting."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"this machine does not allow mounting a tmpfs ({mounted.stderr.strip()}); fault not simulated")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def instance_on(folder, migrated_template, **overrides):
    """A testing app over copies of the migrated databases in `folder`, relaying inline."""
    folder.mkdir(exist_ok=True)
    for bind in BIND_KEYS:
        shutil.copy(migrated_template / f"{bind}.db", folder / f"{bind}.db")
    return build_app(folder, AUDIT_RELAY_MODE="inline", **overrides)


def patients_named(folder, name) -> int:
    with sqlite3.connect(folder / "pacientes.db") as conn:
        count = conn.execute("SELECT count(*) FROM patient WHERE full_name = ?", (name,)).fetchone()[0]
    conn.close()
    return count


def register(client, token):
    """POST the new-patient form with a token read before the fault (reading a page may fail during it)."""
    return client.post("/patients/new", data={**PATIENT, "csrf_token": token})


def check_output(folder) -> tuple[int, str]:
    result = run_flask(folder, "clinic", "check")
    return result.returncode, result.stdout + result.stderr


def assert_clear_503(response, words):
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "Nada foi gravado" in html
    assert words in html
    assert "Traceback" not in html


def test_read_only_disk(tmpfs, migrated_template, monkeypatch):
    monkeypatch.setenv("MIN_FREE_DISK_MB", "1")  # the 4 MiB test disk is otherwise "too full" for clinic check
    folder = tmpfs / "instance"
    app = instance_on(folder, migrated_template)
    client = app.test_client()
    with app.app_context():
        login_as(client, "receptionist")
    token = csrf_token(client, "/patients/new")
    dispose(app)  # no file open for writing, or the remount is refused
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    try:
        assert_clear_503(register(client, token), "")
        code, output = check_output(folder)
        assert code == 1
        assert "não aceita escrita agora" in output
    finally:
        dispose(app)
        subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], check=True)
    assert patients_named(folder, PATIENT["full_name"]) == 0
    response = register(client, token)
    assert response.status_code == 302
    assert patients_named(folder, PATIENT["full_name"]) == 1
    assert check_output(folder)[0] == 0
    dispose(app)


HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def test_write_lock_held_past_the_busy_timeout(db_dir):
    pragmas = {bind: {"busy_timeout": 300} for bind in BIND_KEYS}
    app = build_app(db_dir, AUDIT_RELAY_MODE="inline", SQLITE_PRAGMAS=pragmas)
    client = app.test_client()
    with app.app_context():
        login_as(client, "receptionist")
    token = csrf_token(client, "/patients/new")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db_dir / "pacientes.db"), "30"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert_clear_503(register(client, token), "ocupado")
        code, output = check_output(db_dir)
        assert code == 1
        assert "pacientes: não aceita escrita agora" in output
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert patients_named(db_dir, PATIENT["full_name"]) == 0
    assert register(client, token).status_code == 302
    assert patients_named(db_dir, PATIENT["full_name"]) == 1
    dispose(app)


def fill(path) -> None:
    """Write zeros into `path` until the disk has no byte left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        for chunk in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError:
                continue
    finally:
        os.close(fd)


def test_full_disk(tmpfs, migrated_template, monkeypatch):
    monkeypatch.setenv("MIN_FREE_DISK_MB", "1")
    folder = tmpfs / "instance"
    app = instance_on(folder, migrated_template)
    client = app.test_client()
    with app.app_context():
        login_as(client, "receptionist")
    token = csrf_token(client, "/patients/new")
    filler = tmpfs / "filler"
    fill(filler)
    try:
        for _ in range(3):  # grow the WAL until SQLite meets the end of the disk
            response = register(client, token)
            if response.status_code == 503:
                break
        assert_clear_503(response, "disco do servidor está cheio")
        code, output = check_output(folder)
        assert code == 1
        assert "MB livres no disco" in output
    finally:
        filler.unlink()
        time.sleep(0.1)
    # What got a 503 left nothing behind; what got a 302 (before the disk filled up) is there, whole.
    saved = patients_named(folder, PATIENT["full_name"])
    assert register(client, token).status_code == 302
    assert patients_named(folder, PATIENT["full_name"]) == saved + 1
    with sqlite3.connect(folder / "pacientes.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    dispose(app)
