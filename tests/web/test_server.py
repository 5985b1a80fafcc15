"""The server `make run` starts: gunicorn with gunicorn.conf.py, which slow clients cannot stall."""

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import sqlite_urls
from tests.support import ROOT

LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
# Clients that send a request's start and then one more byte every half second, forever: half of them
# are still in their headers, half in a form body the app is reading.
SLOW_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
SLOW_BODY = (
    b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 100000\r\n\r\nusername="
)
SLOW_CLIENTS = 12  # the old setup (two sync workers) stalled with two


def wait_for(condition, what: str, limit: float = 60.0):
    """Poll until `condition()` returns something true; fail with `what` if it never does (not a timing test)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")


def get(port: int, path: str, timeout: float) -> int:
    """The status of a plain GET, or 0 when the server does not answer in time."""
    return fetch(port, path, timeout)[0]


def fetch(port: int, path: str, timeout: float, headers: dict | None = None) -> tuple[int, str]:
    """The status and body of a GET on a new connection, or (0, "") when the server does not answer in time."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    except OSError:
        return 0, ""
    finally:
        conn.close()


@pytest.fixture
def server(db_dir, tmp_path):
    """gunicorn exactly as `make run` starts it (same config file), on a free port, over migrated test databases."""
    with gunicorn(db_dir, tmp_path) as port:
        yield port


@contextlib.contextmanager
def gunicorn(db_dir, tmp_path, **settings):
    """Start gunicorn with gunicorn.conf.py; yield its port; stop it with SIGTERM (a clean stop) at the end.

    `db_dir` is also the instance folder (so the metrics files go to db_dir/metrics); `settings` add to the
    environment."""
    env = {**os.environ, **sqlite_urls(db_dir), "SORRISO_ENV": "testing", "SORRISO_INSTANCE_PATH": str(db_dir)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # gunicorn.conf.py derives it from the instance folder
    env.update(settings)
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("w") as log:
        command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", "127.0.0.1:0"]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        found = wait_for(lambda: LISTENING.search(log_path.read_text()), "gunicorn to listen")
        port = int(found.group(1))
        wait_for(lambda: get(port, "/healthz", timeout=5) == 200, "/healthz to answer")
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
    assert "Traceback" not in log_path.read_text()


@pytest.fixture
def slow_clients(server):
    """SLOW_CLIENTS connections trickling a byte each every half second until the test ends."""
    stop = threading.Event()
    sockets = [socket.create_connection(("127.0.0.1", server), timeout=5) for _ in range(SLOW_CLIENTS)]
    for index, sock in enumerate(sockets):
        sock.sendall(SLOW_HEADERS if index % 2 else SLOW_BODY)

    def trickle():
        """Send one more byte on every connection, twice a second."""
        while not stop.wait(0.5):
            for sock in sockets:
                try:
                    sock.sendall(b"a")
                except OSError:
                    pass

    thread = threading.Thread(target=trickle, name="slow-clients", daemon=True)
    thread.start()
    time.sleep(1.5)  # the server has taken every connection and is reading from them
    yield sockets
    stop.set()
    thread.join(timeout=5)
    for sock in sockets:
        sock.close()


def test_slow_clients_do_not_stall_the_server(server, slow_clients):
    """With a dozen clients trickling headers and bodies, /healthz still answers within a second, every time."""
    for _ in range(5):
        started = time.monotonic()
        status = get(server, "/healthz", timeout=5)
        elapsed = time.monotonic() - started
        assert status == 200
        assert elapsed < 1.0, f"/healthz took {elapsed:.2f} s behind {SLOW_CLIENTS} slow clients"


def test_a_clean_stop_leaves_no_wal_or_shm_files(db_dir, tmp_path):
    with gunicorn(db_dir, tmp_path) as port:
        for _ in range(4):  # a worker that answers has opened the databases (no account yet: login → setup)
            assert get(port, "/login", timeout=10) == 302
            assert get(port, "/setup", timeout=10) == 200
        assert any(path.name.endswith("-wal") for path in db_dir.iterdir())
    leftovers = sorted(path.name for path in db_dir.iterdir() if path.name.endswith(("-wal", "-shm")))
    assert leftovers == []


METRICS_TOKEN = "token-de-monitoramento-0123456789"


def login_requests_counted(files) -> float:
    """GET /login requests (each answered 302 to /setup: no account yet) counted in these metrics files."""
    return sum(
        sample.value
        for family in MultiProcessCollector.merge([str(path) for path in files])
        for sample in family.samples
        if sample.name == "sorriso_http_request_duration_seconds_count" and sample.labels["endpoint"] == "auth.login"
    )


def test_metrics_of_both_workers_add_up_and_survive_a_worker_restart(db_dir, tmp_path):
    """Each of the two workers counts in its own file in instance/metrics; /metrics adds them up exactly, and
    keeps a killed worker's counts. Files a previous run left are removed when the server starts."""
    folder = db_dir / "metrics"
    folder.mkdir()
    (folder / "histogram_999999.db").write_bytes(b"a previous run's file")
    with gunicorn(db_dir, tmp_path, METRICS_TOKEN=METRICS_TOKEN) as port:
        assert not (folder / "histogram_999999.db").exists()
        sent = 0

        def both_workers_counted_logins() -> bool:
            nonlocal sent
            for _ in range(10):  # a new connection each: the kernel hands them to either worker
                assert get(port, "/login", timeout=10) == 302
            sent += 10
            files = sorted(folder.glob("histogram_*.db"))
            return sum(login_requests_counted([path]) > 0 for path in files) == 2 or sent >= 2000

        wait_for(both_workers_counted_logins, "both workers to answer /login")
        files = sorted(folder.glob("histogram_*.db"))
        assert [login_requests_counted([path]) > 0 for path in files] == [True, True], f"{sent} requests"
        assert login_requests_counted(files) == sent

        def scraped_logins() -> float:
            status, body = fetch(port, "/metrics", timeout=10, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            assert status == 200, body
            return sum(
                sample.value
                for family in text_string_to_metric_families(body)
                for sample in family.samples
                if sample.name == "sorriso_http_request_duration_seconds_count"
                and sample.labels["endpoint"] == "auth.login"
            )

        assert scraped_logins() == sent
        killed = int(files[0].stem.removeprefix("histogram_"))
        os.kill(killed, signal.SIGKILL)
        wait_for(lambda: f"(pid:{killed}) was sent" in (tmp_path / "gunicorn.log").read_text(), "gunicorn to reap it")
        assert scraped_logins() == sent  # the dead worker's file still counts
