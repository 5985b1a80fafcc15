"""Crash safety through the real server: gunicorn as `make run` starts it, a storm of writes through the real
forms, and `kill -9` of the whole process group at several moments (mid-request, mid-relay). After each kill
the server is started again; at the end every write that got a success answer is there, each created row has
exactly one create event in history and one timeline line, every database passes integrity_check, and
`flask audit verify` passes (SPEC 10)."""

import http.cookiejar
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from app.db import BIND_KEYS
from tests.conftest import build_app, dispose, sqlite_urls
from tests.factories import make_user
from tests.support import PASSWORD, ROOT, run_flask

pytestmark = pytest.mark.slow

LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|<meta name="csrf-token" content="([^"]+)"')
WRITERS = 6
ROUNDS = 3


class Server:
    """gunicorn with gunicorn.conf.py in its own process group, on the test's databases."""

    def __init__(self, db_dir, log_path):
        self.env = {**os.environ, **sqlite_urls(db_dir), "SORRISO_ENV": "testing", "AUDIT_RELAY_MODE": "background"}
        self.log_path = log_path

    def start(self) -> str:
        self.log_path.write_text("")
        with self.log_path.open("a") as log:
            command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", "127.0.0.1:0"]
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = LISTENING.search(self.log_path.read_text())
            if found:
                base = f"http://127.0.0.1:{found.group(1)}"
                if _status(base + "/healthz") == 200:
                    return base
            time.sleep(0.1)
        pytest.fail("gunicorn did not start:\n" + self.log_path.read_text())

    def kill9(self) -> None:
        """SIGKILL to the master and every worker at once: nobody gets to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except (urllib.error.URLError, OSError):
        return 0


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def staff_client(base: str, username: str):
    """A cookie-keeping client logged in through the real login form; None if the server is gone."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)
    try:
        token = _token(opener.open(f"{base}/login", timeout=10).read().decode())
        form = urllib.parse.urlencode({"csrf_token": token, "username": username, "password": PASSWORD}).encode()
        opener.open(f"{base}/login", data=form, timeout=10)
    except urllib.error.HTTPError as exc:
        if exc.code == 302:
            return opener
        return None
    except (urllib.error.URLError, OSError):
        return None
    return None


def _token(html: str) -> str:
    match = CSRF_FIELD.search(html)
    return match.group(1) or match.group(2)


def register_patient(opener, base: str, name: str) -> bool:
    """POST the real new-patient form; True only for the success answer (a redirect to the new record)."""
    try:
        token = _token(opener.open(f"{base}/patients/new", timeout=10).read().decode())
        form = urllib.parse.urlencode({"csrf_token": token, "full_name": name, "phone": "(11) 98765-4321"}).encode()
        opener.open(f"{base}/patients/new", data=form, timeout=10)
    except urllib.error.HTTPError as exc:
        return exc.code == 302 and "/patients/" in (exc.headers.get("Location") or "")
    except (urllib.error.URLError, OSError):
        return False
    return False


def storm(base: str, username: str, round_number: int, stop: threading.Event, acknowledged: list) -> None:
    """WRITERS threads registering patients as fast as the server answers, until `stop`."""

    def writer(number: int):
        opener = staff_client(base, username)
        sequence = 0
        while opener is not None and not stop.is_set():
            name = f"Tempestade R{round_number} W{number} N{sequence}"
            if register_patient(opener, base, name):
                acknowledged.append(name)
            sequence += 1

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    return threads


def rows(db_dir, bind: str, sql: str, *args) -> list:
    with sqlite3.connect(db_dir / f"{bind}.db") as conn:
        found = conn.execute(sql, args).fetchall()
    conn.close()
    return found


def test_kill_9_during_a_write_storm_loses_no_acknowledged_write(db_dir, tmp_path):
    app = build_app(db_dir)
    with app.app_context():
        username = make_user("receptionist").username
    dispose(app)
    server = Server(db_dir, tmp_path / "gunicorn.log")
    acknowledged: list[str] = []
    rng = random.Random(13)
    for round_number in range(ROUNDS):
        base = server.start()
        stop = threading.Event()
        threads = storm(base, username, round_number, stop, acknowledged)
        time.sleep(1.0 + rng.random() * 2.0)  # writes and relays in flight when the kill lands
        server.kill9()
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert len(acknowledged) > 10 * ROUNDS, "the storm must have written something before each kill"

    base = server.start()  # the restart relays what the killed processes left in the outboxes
    try:
        deadline = time.monotonic() + 30
        while rows(db_dir, "pacientes", "SELECT count(*) FROM audit_outbox")[0][0] and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=30)

    stored = dict(rows(db_dir, "pacientes", "SELECT full_name, id FROM patient WHERE full_name LIKE 'Tempestade %'"))
    missing = sorted(set(acknowledged) - set(stored))
    assert missing == [], f"acknowledged but lost: {missing[:5]}"
    ids = sorted(stored.values())
    creates = rows(
        db_dir,
        "history",
        "SELECT row_id, count(*) FROM audit_event WHERE table_name = 'patient' AND action = 'create' GROUP BY row_id",
    )
    create_counts = {row_id: count for row_id, count in creates}
    assert all(create_counts.get(patient_id) == 1 for patient_id in ids), "each patient: exactly one create event"
    lines = dict(
        rows(
            db_dir,
            "history",
            "SELECT patient_id, count(*) FROM timeline_event WHERE kind = 'patient_created' GROUP BY patient_id",
        )
    )
    assert all(lines.get(patient_id) == 1 for patient_id in ids), "each patient: exactly one timeline line"
    for bind in BIND_KEYS:
        assert rows(db_dir, bind, "PRAGMA integrity_check") == [("ok",)]
    verified = run_flask(db_dir, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
