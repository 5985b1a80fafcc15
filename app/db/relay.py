"""The outbox relay: pending audit events of pacientes and users into history.db, exactly once.

An event is first committed in its bind's outbox. The relay copies pending events into history.db under
history's write lock (`write_transaction`: BEGIN IMMEDIATE, an advisory lock on PostgreSQL), skipping event
ids already there and extending the HMAC chain (app/db/chain.py), then deletes them from the outbox. A crash
between the two steps only means the next relay finds the events again and skips them: history gets each
event exactly once. It runs right after each commit (inline or in a background thread), at server start
and with `flask audit relay`.
"""

import atexit
import json
import logging
import os
import threading
import time
from datetime import datetime

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.db import BIND_KEYS, HISTORY, engine_of
from app.db.audit import AUDITED_BINDS, outbox_table
from app.db.chain import append_to_chain
from app.db.unit_of_work import write_transaction
from app.db.wal import keep_bounded
from app.models.history import AuditEvent, TimelineEvent

log = logging.getLogger(__name__)

BATCH = 500


def _store_events(conn: Connection, key: str, events: list[tuple[str, dict]]) -> int:
    """Insert the events history does not hold yet, chaining audit rows; returns how many rows were written."""
    audit, timeline = AuditEvent.__table__, TimelineEvent.__table__
    ids = [event_id for event_id, _ in events]
    have_audit = set(conn.execute(select(audit.c.event_id).where(audit.c.event_id.in_(ids))).scalars())
    have_timeline = set(conn.execute(select(timeline.c.event_id).where(timeline.c.event_id.in_(ids))).scalars())
    audit_rows, timeline_rows = [], []
    for event_id, payload in events:
        if "audit" in payload and event_id not in have_audit:
            audit_rows.append(_audit_row(event_id, payload["audit"]))
        if "timeline" in payload and event_id not in have_timeline:
            t = dict(payload["timeline"], event_id=event_id)
            t["occurred_at"] = datetime.fromisoformat(t["occurred_at"])
            timeline_rows.append(t)
    append_to_chain(conn, key, audit_rows)
    if timeline_rows:
        conn.execute(timeline.insert(), timeline_rows)
    return len(audit_rows) + len(timeline_rows)


def _audit_row(event_id: str, a: dict) -> dict:
    """The history row of an outbox event's audit part, before the chain numbers and hashes it."""
    return {
        "event_id": event_id,
        "occurred_at": datetime.fromisoformat(a["occurred_at"]),
        "actor_user_id": a["actor_user_id"],
        "action": a["action"],
        "bind": a["bind"],
        "table_name": a["table_name"],
        "row_id": a["row_id"],
        "patient_id": a["patient_id"],
        "changes": json.dumps(a["changes"], ensure_ascii=False, sort_keys=True),
        "request_path": a["request_path"],
        "client_addr": a["client_addr"],
    }


def _events_of(row) -> list[tuple[str, dict]]:
    """The (event id, event) pairs an outbox row holds (a batch, or one event keyed by the row's own id)."""
    payload = json.loads(row.payload)
    if "events" not in payload:
        return [(row.event_id, payload)]
    return [(event["event_id"], event) for event in payload["events"]]


def relay_bind(bind: str, batch: int = BATCH) -> int:
    """Relay every pending event of one bind's outbox in the current app; returns the history rows written.

    It holds one write lock at a time (history's, then the outbox's), never two, so it cannot deadlock with
    a unit of work whatever their order.
    """
    key = current_app.config["AUDIT_HMAC_KEY"]
    outbox = outbox_table(bind)
    written = 0
    while True:
        with engine_of(bind).connect() as src:
            rows = src.execute(
                select(outbox.c.id, outbox.c.event_id, outbox.c.payload).order_by(outbox.c.id).limit(batch)
            ).all()
        if not rows:
            return written
        with write_transaction(HISTORY) as hist:
            written += _store_events(hist, key, [event for r in rows for event in _events_of(r)])
        # Not waiting for the disk: should a power cut undo this delete, the next relay finds the events again
        # and skips them (history already holds them), so exactly-once never rests on this commit.
        with write_transaction(bind, durable=False) as src:
            # By the outbox row's unique event id, never by row id: SQLite reuses the rowid of an emptied
            # table, and another relayer may have emptied it since these rows were read.
            src.execute(delete(outbox).where(outbox.c.event_id.in_([r.event_id for r in rows])))
        if len(rows) < batch:
            return written


def relay_all(binds=AUDITED_BINDS) -> int:
    """Relay every audited bind's outbox in the current app."""
    return sum(relay_bind(bind) for bind in binds)


def relay_after_commit(binds) -> None:
    """Relay right after a commit: inline, or by waking this process's background relay thread.

    Either way a failure only delays delivery: the events wait in the outbox for the next relay.
    """
    app = current_app._get_current_object()
    if app.config.get("AUDIT_RELAY_MODE", "background") == "inline":
        try:
            relay_all(binds)
        except Exception:
            log.exception("audit relay failed; events stay in the outbox until the next relay")
        return
    worker = app.extensions.get("sorriso_relay")
    if worker is None:
        worker = app.extensions.setdefault("sorriso_relay", BackgroundRelay(app))
    worker.notify()


class BackgroundRelay:
    """One daemon thread per process that relays the outboxes whenever a commit wakes it.

    Commits made while it works coalesce into its next batch, so a busy clinic pays one history
    transaction per batch instead of one per write. Restarted after a fork (gunicorn workers).
    """

    RETRY_SECONDS = 2.0
    COALESCE_SECONDS = 0.05  # let commits that arrive together share one history transaction
    STOP_SECONDS = 10.0  # at exit, how long the last pass may take before the process ends anyway

    def __init__(self, app):
        self.app = app
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stopping = False

    def notify(self) -> None:
        """Ask for a relay soon; starts the thread on first use in this process."""
        with self._lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                if self._pid != os.getpid():
                    atexit.register(self.drain)
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="sorriso-audit-relay", daemon=True)
                self._thread.start()
        self._wake.set()

    def drain(self) -> None:
        """At process exit (a CLI command ending, a worker stopping): relay what is still pending."""
        if self._pid != os.getpid():
            return
        self._stopping = True  # the thread finishes its pass and stops, so no connection stays checked out
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.STOP_SECONDS)
        try:
            with self.app.app_context():
                relay_all()
        except Exception:
            log.exception("audit relay at exit failed; events stay in the outbox until the next relay")

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait()
            if self._stopping:
                return
            time.sleep(self.COALESCE_SECONDS)
            self._wake.clear()
            try:
                with self.app.app_context():
                    relay_all()
                    for bind in BIND_KEYS:
                        keep_bounded(bind)
            except Exception:
                log.exception("background audit relay failed; retrying in %.0f s", self.RETRY_SECONDS)
                time.sleep(self.RETRY_SECONDS)
                self._wake.set()


def relay_at_startup(app) -> int:
    """Relay what a previous process left behind; a database not migrated yet is left alone."""
    with app.app_context():
        try:
            return relay_all()
        except (OperationalError, ProgrammingError) as exc:
            log.warning("audit relay at startup skipped: %s", exc.orig)
            return 0


def outbox_backlog() -> dict[str, tuple[int, datetime | None]]:
    """Per audited bind of the current app: how many outbox rows wait, and when the oldest was written."""
    backlog = {}
    for bind in AUDITED_BINDS:
        outbox = outbox_table(bind)
        with engine_of(bind).connect() as conn:
            count, oldest = conn.execute(select(func.count(), func.min(outbox.c.created_at))).one()
        backlog[bind] = (count, oldest)
    return backlog


def pending_counts() -> dict[str, int]:
    """How many outbox rows wait in each audited bind of the current app."""
    return {bind: count for bind, (count, _oldest) in outbox_backlog().items()}
