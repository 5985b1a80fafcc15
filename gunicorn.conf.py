"""gunicorn settings of `make run`; tests/test_server.py starts gunicorn with this very file.

Threaded workers (`gthread`), so that slow clients cannot stall the server. With gunicorn 27, a connection
that sends nothing gives its thread back after 5 s and waits in the worker's poller, as an idle keep-alive
connection always does. A client that trickles its headers or body does hold one thread, with no
time limit (gunicorn has no header or body read timeout), so each worker keeps many threads: it takes
16 trickling clients on one worker to delay that worker, 32 to stall Sorriso. Two `sync` workers stalled with two.
A Sorriso reachable beyond the clinic's network belongs behind a reverse proxy that buffers requests and
times slow clients out (nginx: client_header_timeout, client_body_timeout).
`make run WORKERS=4 THREADS=32` overrides the counts.

Operation metrics (app/metrics.py): each worker process writes its counters to files in PROMETHEUS_MULTIPROC_DIR
and /metrics merges them. The variable is set here, when gunicorn reads this file and before any worker imports
prometheus_client: `metrics/` in the instance folder (SORRISO_INSTANCE_PATH, else instance/, as create_app reads
it) unless it is set already. The server empties that folder when it starts, so a previous run's files do not
add up forever.
"""

import gc
import os
from pathlib import Path

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent
load_dotenv(ROOT / ".env")  # as config.py will: SORRISO_INSTANCE_PATH may be set there
INSTANCE = Path(os.environ.get("SORRISO_INSTANCE_PATH") or ROOT / "instance")
METRICS_DIR = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(INSTANCE / "metrics")))

wsgi_app = "wsgi:app"
worker_class = "gthread"
workers = 2  # SQLite serialises writers: more processes add little on a clinic's small server
threads = 16  # per worker; a thread blocked reading a slow client costs memory only, not CPU
timeout = 30  # a worker whose main loop is stuck this long (not a slow request) is restarted
graceful_timeout = 20
keepalive = 5  # seconds an idle browser connection stays open (in the poller, without a thread)
accesslog = "-"
control_socket_disable = True


def on_starting(server):
    """At server start (in the master, before any worker): start the metrics afresh."""
    METRICS_DIR.mkdir(parents=True, exist_ok=True)
    for stale in METRICS_DIR.glob("*.db"):  # prometheus_client's files only
        stale.unlink()


def child_exit(server, worker):
    """A worker ended: its live gauges go; its counters stay in the totals (prometheus_client's bookkeeping)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(METRICS_DIR))


def post_worker_init(worker):
    """The app is loaded: its objects (modules, routes, compiled SQL and templates) leave the garbage collector.

    A full collection walks every tracked object; with the app's ~150,000 of them that was a 70 ms pause every few
    hundred requests (the single-user p95's outliers). Frozen, a collection walks only what requests create.
    """
    gc.collect()
    gc.freeze()
