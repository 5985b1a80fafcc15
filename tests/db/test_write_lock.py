"""How writers wait for a bind's write lock (app/db/unit_of_work.py, app/db/engine.py): in one process they queue
on the writer gate, across processes BEGIN IMMEDIATE asks again every few ms until the busy timeout, and a
write whose loss in a power cut costs nothing commits with synchronous=NORMAL while every other stays FULL."""

import sqlite3
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.db import PACIENTES
from app.db.actor import acting_as
from app.db.unit_of_work import unit_of_work, write_transaction
from app.extensions import db
from app.services.patients import create_patient
from tests.conftest import build_app, dispose


def _synchronous_inside(durable: bool) -> int:
    with unit_of_work(PACIENTES, durable=durable) as session:
        return session.execute(text("PRAGMA synchronous")).scalar()


def test_only_a_write_marked_not_durable_skips_the_fsync_and_the_next_write_is_full_again(db_dir):
    app = build_app(db_dir, AUDIT_RELAY_MODE="inline")
    try:
        with app.app_context():
            assert _synchronous_inside(durable=True) == 2  # FULL
            assert _synchronous_inside(durable=False) == 1  # NORMAL
            assert _synchronous_inside(durable=True) == 2  # the same pooled connection is put back to FULL
            with write_transaction(PACIENTES, durable=False) as conn:
                assert conn.execute(text("PRAGMA synchronous")).scalar() == 1
            with write_transaction(PACIENTES) as conn:
                assert conn.execute(text("PRAGMA synchronous")).scalar() == 2
    finally:
        dispose(app)


def test_a_writer_waits_for_another_process_to_release_the_lock_and_then_writes(db_dir):
    app = build_app(db_dir, AUDIT_RELAY_MODE="inline")
    holder = sqlite3.connect(db_dir / "pacientes.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    releaser = threading.Timer(0.6, lambda: holder.execute("COMMIT"))
    releaser.start()
    try:
        with app.app_context(), acting_as(None):
            started = time.monotonic()
            patient = create_patient({"full_name": "Depois da Espera"})
            waited = time.monotonic() - started
            assert patient.id is not None
            assert waited >= 0.5  # it really waited for the other connection's lock, and then got it
    finally:
        releaser.join()
        holder.close()
        dispose(app)


def test_a_writer_gives_up_with_database_is_locked_once_the_busy_timeout_has_passed(db_dir):
    pragmas = {PACIENTES: {"busy_timeout": 300}}
    app = build_app(db_dir, AUDIT_RELAY_MODE="inline", SQLITE_PRAGMAS=pragmas)
    holder = sqlite3.connect(db_dir / "pacientes.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with app.app_context(), acting_as(None):
            with pytest.raises(OperationalError, match="database is locked"):
                create_patient({"full_name": "Nunca Gravado"})
            db.session.rollback()
            holder.execute("ROLLBACK")
            assert create_patient({"full_name": "Gravado Depois"}).id is not None
        names = [row[0] for row in holder.execute("SELECT full_name FROM patient")]
        assert "Nunca Gravado" not in names and "Gravado Depois" in names
    finally:
        holder.close()
        dispose(app)


def test_threads_of_one_process_queue_on_the_gate_and_all_writes_land(db_dir):
    """16 threads writing at once, with a busy timeout far shorter than the queue: the gate waits in Python
    without SQLite's backoff, so every write lands and none reports a locked database."""
    app = build_app(db_dir, AUDIT_RELAY_MODE="background")
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with app.app_context(), acting_as(None):
                for k in range(5):
                    create_patient({"full_name": f"Paciente Fila {n} {k}"})
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        with app.app_context():
            count = db.session.execute(text("SELECT count(*) FROM patient WHERE full_name LIKE 'Paciente Fila %'"))
            assert count.scalar() == 80
    finally:
        dispose(app)
