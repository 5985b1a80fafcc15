"""The unit of work: one atomic transaction per bind a service writes, opened with BEGIN IMMEDIATE.

Usage, as a context manager or a decorator:

    with unit_of_work(PACIENTES):
        db.session.add(patient)

Binds are locked in a fixed order (pacientes, users, history), so two units of work never deadlock.
On PostgreSQL a transaction-scoped advisory lock per bind gives the same one-writer rule (`lock_bind`).
Plumbing that writes with Core rather than the session (the audit relay) takes the same lock through
`write_transaction`, one bind at a time.
A flush that writes a bind the unit of work did not declare is refused, and so is any flush outside
a unit of work: that is how "blueprints never commit" is enforced rather than hoped for.

Within one process, writers of a bind also queue on a lock of their own (`_writer_gate`) before they ask
SQLite for its write lock. SQLite's busy handler polls with sleeps of up to 100 ms and serves no queue: under
32 sessions on two gunicorn workers some writers lost every poll for 5 s and got "database is locked" while
the lock changed hands hundreds of times. Queued on a Python lock, a worker's threads wait their turn
without polling, and only one thread per process contends with the other processes (docs/DESIGN.md).
"""

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from flask import current_app
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.db import BIND_KEYS, engine_of
from app.db.binds import bind_of_fsa_key, get_bind
from app.db.engine import BEGIN_MODE_OPTION, RELAXED_OPTION
from app.extensions import db

WRITE_BINDS = "sorriso_write_binds"
IMMEDIATE = {BEGIN_MODE_OPTION: "IMMEDIATE"}
RELAXED = {RELAXED_OPTION: True}
_GATES = {bind: threading.RLock() for bind in BIND_KEYS}  # re-entrant: a nested write in one thread never waits


@contextmanager
def _writer_gate(binds) -> Iterator[None]:
    """Queue behind this process's other writers of `binds` (in lock order) for as long as SQLite would wait.

    The wait is the bind's busy_timeout on SQLite (0: do not wait, as SQLite does), without limit elsewhere
    (PostgreSQL's advisory lock waits too). A wait that runs out raises the OperationalError SQLite would
    have raised, so the user sees the same "database is locked" page.
    """
    with ExitStack() as stack:
        for bind in sorted(binds, key=BIND_KEYS.index):
            gate = _GATES[bind]
            if engine_of(bind).dialect.name == "sqlite":
                timeout = current_app.config["SQLITE_PRAGMAS"][bind]["busy_timeout"] / 1000
                taken = gate.acquire(timeout=timeout) if timeout > 0 else gate.acquire(blocking=False)
            else:
                taken = gate.acquire()
            if not taken:
                locked = sqlite3.OperationalError("database is locked")
                raise OperationalError(f"BEGIN IMMEDIATE -- {bind}, waiting for this process's writers", None, locked)
            stack.callback(gate.release)
        yield


class UnitOfWorkError(RuntimeError):
    """A programming error: a write outside a unit of work, or to a bind it did not declare."""


def lock_bind(conn: Connection, bind: str) -> None:
    """Make the connection's transaction (begun with IMMEDIATE) the bind's one writer on every backend.

    SQLite's BEGIN IMMEDIATE already took the write lock; PostgreSQL takes a transaction-scoped advisory
    lock, so check-then-write services (no overlapping appointment, one refund per payment) and the
    chain's writers behave alike on both backends.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": get_bind(bind).pg_write_lock})


@contextmanager
def unit_of_work(*binds: str, durable: bool = True):
    """Run a block as one transaction per declared bind; commit on success, roll back on any error.

    `durable=False` is for the few writes whose loss in a power cut would cost nothing a clinic needs (the
    audit of a record's opening, a session's last-seen time): SQLite commits them without waiting for the
    disk (synchronous=NORMAL), which survives any process crash, and the next durable commit's fsync covers
    them too. Clinical, financial and account changes never pass it (docs/DESIGN.md).
    """
    unknown = set(binds) - set(BIND_KEYS)
    if not binds or unknown:
        raise UnitOfWorkError(f"unit_of_work needs bind names from {BIND_KEYS}, got {binds}")
    session = db.session()
    outer = session.info.get(WRITE_BINDS)
    if outer is not None:
        if not set(binds) <= outer:
            raise UnitOfWorkError(f"nested unit of work writes {set(binds) - outer}, which the outer one did not open")
        yield session
        return
    if session.new or session.dirty or session.deleted:
        raise UnitOfWorkError("changes were made outside a unit of work")
    if session.in_transaction():
        session.commit()  # ends read-only transactions so that BEGIN IMMEDIATE starts afresh
    with _writer_gate(binds):
        session.info[WRITE_BINDS] = set(binds)
        try:
            for bind in sorted(binds, key=BIND_KEYS.index):
                options = IMMEDIATE if durable else {**IMMEDIATE, **RELAXED}
                conn = session.connection(bind_arguments={"bind": engine_of(bind)}, execution_options=options)
                lock_bind(conn, bind)
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.info.pop(WRITE_BINDS, None)


@contextmanager
def write_transaction(bind: str, durable: bool = True) -> Iterator[Connection]:
    """A Core connection holding one bind's write lock for the block: committed at its end, rolled back on error.

    For plumbing that writes outside the session (the relay). It locks a single bind and must not be nested
    in another write (a unit of work, or a second write_transaction), so lock order is never at stake.
    """
    options = IMMEDIATE if durable else {**IMMEDIATE, **RELAXED}
    with _writer_gate([bind]), engine_of(bind).connect() as conn, conn.execution_options(**options).begin():
        lock_bind(conn, bind)
        yield conn


def object_bind(obj) -> str:
    """The Sorriso bind a mapped object is stored in."""
    return bind_of_fsa_key(inspect(obj).mapper.local_table.metadata.info.get("bind_key")).name


@event.listens_for(Session, "before_flush")
def _only_inside_unit_of_work(session, _flush_context, _instances):
    """Refuse flushes outside a unit of work or into an undeclared bind."""
    declared = session.info.get(WRITE_BINDS)
    touched = {object_bind(obj) for obj in (*session.new, *session.dirty, *session.deleted)}
    if not touched:
        return
    if declared is None:
        raise UnitOfWorkError("writes must go through a service's unit_of_work")
    if not touched <= declared:
        raise UnitOfWorkError(f"this unit of work did not declare the bind(s) {touched - declared}")
