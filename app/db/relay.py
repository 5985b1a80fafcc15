"""The outbox relay and the HMAC chain of history.db.

Exactly once: an event is first committed in its bind's outbox. The relay copies pending events into
history.db inside one BEGIN IMMEDIATE transaction (an advisory lock on PostgreSQL), skipping event ids
already there, then deletes them from the outbox. A crash between the two steps only means the next
relay finds the events again and skips them: history gets each event exactly once.

Tamper evidence: every audit row stores HMAC(key, prev_hash + canonical row); `verify_chain` recomputes it.
"""

import atexit
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import gettext
from sqlalchemy import delete, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.db import HISTORY, PACIENTES, USERS
from app.db.audit import AUDITED_BINDS, outbox_table
from app.db.engine import BEGIN_MODE_OPTION

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
CHAIN_LOCK_ID = 7_263_001  # PostgreSQL advisory lock that serialises chain writers
BATCH = 500


def _history_tables():
    """history.db's audit and timeline tables."""
    from app.models.history import AuditEvent, TimelineEvent

    return AuditEvent.__table__, TimelineEvent.__table__


def chain_hash(key: str, prev_hash: str, row: dict) -> str:
    """HMAC-SHA256 of the previous hash and the row's canonical content."""
    occurred = row["occurred_at"]
    fields = [
        row["id"],
        row["event_id"],
        occurred.isoformat(timespec="microseconds") if isinstance(occurred, datetime) else occurred,
        row["actor_user_id"],
        row["action"],
        row["bind"],
        row["table_name"],
        row["row_id"],
        row["patient_id"],
        row["changes"],
        row["request_path"],
        row["client_addr"],
    ]
    message = prev_hash + json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def _begin_write(conn: Connection):
    """Start a write transaction on history that serialises chain writers on every backend."""
    tx = conn.execution_options(**{BEGIN_MODE_OPTION: "IMMEDIATE"}).begin()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_ID})
    return tx


def _store_events(conn: Connection, key: str, events: list[tuple[str, dict]]) -> int:
    """Insert the events history does not hold yet, chaining audit rows; returns how many rows were written."""
    audit, timeline = _history_tables()
    ids = [event_id for event_id, _ in events]
    have_audit = set(conn.execute(select(audit.c.event_id).where(audit.c.event_id.in_(ids))).scalars())
    have_timeline = set(conn.execute(select(timeline.c.event_id).where(timeline.c.event_id.in_(ids))).scalars())
    last = conn.execute(select(audit.c.id, audit.c.hash).order_by(audit.c.id.desc()).limit(1)).first()
    next_id, prev_hash = (last.id + 1, last.hash) if last else (1, GENESIS_HASH)
    audit_rows, timeline_rows = [], []
    for event_id, payload in events:
        if "audit" in payload and event_id not in have_audit:
            row = _audit_row(next_id, event_id, payload["audit"], prev_hash)
            row["hash"] = prev_hash = chain_hash(key, prev_hash, row)
            audit_rows.append(row)
            next_id += 1
        if "timeline" in payload and event_id not in have_timeline:
            t = dict(payload["timeline"], event_id=event_id)
            t["occurred_at"] = datetime.fromisoformat(t["occurred_at"])
            timeline_rows.append(t)
    if audit_rows:
        conn.execute(audit.insert(), audit_rows)
    if timeline_rows:
        conn.execute(timeline.insert(), timeline_rows)
    return len(audit_rows) + len(timeline_rows)


def _audit_row(row_id: int, event_id: str, a: dict, prev_hash: str) -> dict:
    """The history row of an outbox event's audit part, before hashing."""
    return {
        "id": row_id,
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
        "prev_hash": prev_hash,
    }


def _events_of(row) -> list[tuple[str, dict]]:
    """The (event id, event) pairs an outbox row holds (a batch, or one event keyed by the row's own id)."""
    payload = json.loads(row.payload)
    if "events" not in payload:
        return [(row.event_id, payload)]
    return [(event["event_id"], event) for event in payload["events"]]


def relay_bind(engines: dict[str, Engine], key: str, bind: str, batch: int = BATCH) -> int:
    """Relay every pending event of one bind's outbox; returns the number of history rows written."""
    outbox = outbox_table(bind)
    written = 0
    while True:
        with engines[bind].connect() as src:
            rows = src.execute(
                select(outbox.c.id, outbox.c.event_id, outbox.c.payload).order_by(outbox.c.id).limit(batch)
            ).all()
        if not rows:
            return written
        with engines[HISTORY].connect() as hist, _begin_write(hist):
            written += _store_events(hist, key, [event for r in rows for event in _events_of(r)])
        with engines[bind].connect() as src, src.execution_options(**{BEGIN_MODE_OPTION: "IMMEDIATE"}).begin():
            # By the outbox row's unique event id, never by row id: SQLite reuses the rowid of an emptied
            # table, and another relayer may have emptied it since these rows were read.
            src.execute(delete(outbox).where(outbox.c.event_id.in_([r.event_id for r in rows])))
        if len(rows) < batch:
            return written


def relay_all(engines: dict[str, Engine], key: str, binds=AUDITED_BINDS) -> int:
    """Relay every audited bind's outbox."""
    return sum(relay_bind(engines, key, bind) for bind in binds)


def app_engines() -> dict[str, Engine]:
    """The current app's engines by Sorriso bind name."""
    from app.db.unit_of_work import engine_for

    return {bind: engine_for(bind) for bind in (PACIENTES, USERS, HISTORY)}


def relay_after_commit(binds) -> None:
    """Relay right after a commit: inline, or by waking this process's background relay thread.

    Either way a failure only delays delivery: the events wait in the outbox for the next relay.
    """
    app = current_app._get_current_object()
    if app.config.get("AUDIT_RELAY_MODE", "background") == "inline":
        try:
            relay_all(app_engines(), app.config["AUDIT_HMAC_KEY"], binds)
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

    def __init__(self, app):
        self.app = app
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

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
        try:
            with self.app.app_context():
                relay_all(app_engines(), self.app.config["AUDIT_HMAC_KEY"])
        except Exception:
            log.exception("audit relay at exit failed; events stay in the outbox until the next relay")

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(self.COALESCE_SECONDS)
            self._wake.clear()
            try:
                with self.app.app_context():
                    relay_all(app_engines(), self.app.config["AUDIT_HMAC_KEY"])
            except Exception:
                log.exception("background audit relay failed; retrying in %.0f s", self.RETRY_SECONDS)
                time.sleep(self.RETRY_SECONDS)
                self._wake.set()


def relay_at_startup(app) -> int:
    """Relay what a previous process left behind; a database not migrated yet is left alone."""
    with app.app_context():
        try:
            return relay_all(app_engines(), app.config["AUDIT_HMAC_KEY"])
        except (OperationalError, ProgrammingError) as exc:
            log.warning("audit relay at startup skipped: %s", exc.orig)
            return 0


def pending_counts(engines: dict[str, Engine]) -> dict[str, int]:
    """How many events wait in each outbox."""
    from sqlalchemy import func

    counts = {}
    for bind in AUDITED_BINDS:
        table = outbox_table(bind)
        with engines[bind].connect() as conn:
            counts[bind] = conn.execute(select(func.count()).select_from(table)).scalar_one()
    return counts


@dataclass
class ChainReport:
    """The outcome of verifying the chain."""

    ok: bool
    rows: int
    last_id: int | None
    last_hash: str
    problem: str | None = None
    bad_row_id: int | None = None


def verify_chain(engine: Engine, key: str, checkpoint: str | None = None) -> ChainReport:
    """Recompute every audit row's HMAC in id order; stop at the first row that does not match."""
    audit, _ = _history_tables()
    prev_hash, count, last_id, expected_id = GENESIS_HASH, 0, None, 1
    with engine.connect() as conn:
        for row in conn.execute(select(audit).order_by(audit.c.id)).mappings():
            row = dict(row)
            if row["id"] != expected_id:
                return ChainReport(
                    False,
                    count,
                    last_id,
                    prev_hash,
                    gettext(
                        "linha %(id)s: esperada a linha %(expected)s (uma linha foi apagada)",
                        id=row["id"],
                        expected=expected_id,
                    ),
                    row["id"],
                )
            if row["prev_hash"] != prev_hash:
                return ChainReport(
                    False,
                    count,
                    last_id,
                    prev_hash,
                    gettext("linha %(id)s: o hash anterior não confere com a linha antes dela", id=row["id"]),
                    row["id"],
                )
            if not hmac.compare_digest(chain_hash(key, prev_hash, row), row["hash"]):
                return ChainReport(
                    False,
                    count,
                    last_id,
                    prev_hash,
                    gettext("linha %(id)s: o conteúdo não confere com o seu HMAC (editada ou forjada)", id=row["id"]),
                    row["id"],
                )
            prev_hash, last_id, count, expected_id = row["hash"], row["id"], count + 1, row["id"] + 1
    report = ChainReport(True, count, last_id, prev_hash)
    if checkpoint:
        _check_checkpoint(engine, report, checkpoint)
    return report


def make_checkpoint(report: ChainReport) -> str:
    """The value to keep elsewhere: the last row id and its hash."""
    return f"{report.last_id or 0}:{report.last_hash}"


def _check_checkpoint(engine: Engine, report: ChainReport, checkpoint: str) -> None:
    """A kept checkpoint must still be in the chain: otherwise the tail was truncated or rewritten."""
    audit, _ = _history_tables()
    try:
        cp_id_text, cp_hash = checkpoint.split(":", 1)
        cp_id = int(cp_id_text)
    except ValueError:
        report.ok, report.problem = (
            False,
            gettext("o checkpoint '%(value)s' não está no formato ID:HASH", value=checkpoint),
        )
        return
    if cp_id == 0:
        return
    with engine.connect() as conn:
        stored = conn.execute(select(audit.c.hash).where(audit.c.id == cp_id)).scalar()
    if stored is None:
        report.ok, report.bad_row_id = False, cp_id
        report.problem = gettext("a linha %(id)s do checkpoint não existe: o fim da cadeia foi apagado", id=cp_id)
    elif stored != cp_hash:
        report.ok, report.bad_row_id = False, cp_id
        report.problem = gettext("a linha %(id)s não tem o hash do checkpoint: a cadeia foi reescrita", id=cp_id)
