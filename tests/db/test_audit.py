"""The audit trail: atomic with the change, exactly once in history, tamper-evident, safe under concurrency."""

import multiprocessing
import os
import signal
import sqlite3
import threading

import pytest
from sqlalchemy import func, select

from app.db import HISTORY, engine_of
from app.db import relay as relay_module
from app.db.chain import make_checkpoint, verify_chain
from app.db.relay import pending_counts, relay_all
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.history import AuditEvent, TimelineEvent
from app.models.pacientes import Anamnesis, Patient
from app.services import patients as patients_service
from tests.conftest import build_app, dispose
from tests.factories import PASSWORD, make_patient, make_user
from tests.support import run_flask

SPAWN = multiprocessing.get_context("spawn")


def history_count(model=AuditEvent) -> int:
    """Rows in one history table, read in a fresh transaction (WAL readers keep their snapshot)."""
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def event_ids() -> list[str]:
    """Every audit event id in history, read in a fresh transaction."""
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent.event_id)))


def verify(app):
    """Verify the chain with the app's key."""
    return verify_chain(engine_of(HISTORY), app.config["AUDIT_HMAC_KEY"])


@pytest.fixture
def relay_broken(monkeypatch):
    """Make the after-commit relay fail, as if history.db were unavailable right after the domain commit."""

    def fail(*_args, **_kwargs):
        raise RuntimeError("history.db unavailable")

    monkeypatch.setattr(relay_module, "relay_all", fail)


def test_change_is_relayed_right_after_commit(app):
    """A service write leaves nothing pending: its audit and timeline events are already in history."""
    patient = make_patient()
    assert pending_counts() == {"pacientes": 0, "users": 0}
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.table_name == "patient")).all()
    assert [(r.action, r.row_id, r.patient_id) for r in rows] == [("create", patient.id, patient.id)]
    assert history_count(TimelineEvent) == 1
    assert verify(app).ok


def test_exception_in_the_middle_of_a_service_leaves_no_row_and_no_event(app, monkeypatch):
    """Atomicity: the patient and anamnesis were flushed, then the service failed: nothing of it remains."""

    def explode(*_args, **_kwargs):
        raise RuntimeError("disk full, say")

    monkeypatch.setattr(patients_service, "add_timeline", explode)
    before = history_count()
    with pytest.raises(RuntimeError):
        make_patient()
    assert db.session.scalar(select(func.count()).select_from(Patient)) == 0
    assert db.session.scalar(select(func.count()).select_from(Anamnesis)) == 0
    assert pending_counts() == {"pacientes": 0, "users": 0}
    assert history_count() == before


def test_failed_relay_keeps_event_in_outbox_and_relays_exactly_once(app, relay_broken, monkeypatch):
    """The domain commit stands when the relay fails; a later relay delivers each event once, a second one nothing."""
    patient = make_patient()
    assert db.session.get(Patient, patient.id) is not None
    assert pending_counts()["pacientes"] == 1  # one outbox row: patient, anamnesis, timeline line
    assert history_count() == 0
    monkeypatch.undo()
    assert relay_all() == 3  # two audit rows, one timeline row
    assert history_count() == 2 and history_count(TimelineEvent) == 1
    assert relay_all() == 0
    assert history_count() == 2 and history_count(TimelineEvent) == 1
    assert verify(app).ok


def test_relay_waits_for_a_unit_of_work_holding_history(app, relay_broken, monkeypatch):
    """The relay takes history's write lock the unit of work's way (BEGIN IMMEDIATE, or its advisory lock)."""
    make_patient()
    monkeypatch.undo()
    delivered = []

    def relay_in_thread():
        with app.app_context():
            delivered.append(relay_all())

    relayer = threading.Thread(target=relay_in_thread)
    with unit_of_work(HISTORY):
        relayer.start()
        relayer.join(timeout=0.5)
        assert relayer.is_alive() and delivered == []  # waiting for the lock, not writing beside it
    relayer.join(timeout=30)
    assert delivered == [3] and verify(app).ok


def test_relay_after_history_commit_but_before_outbox_cleanup_does_not_duplicate(app, relay_broken, monkeypatch):
    """If the relay dies after writing history but before deleting the outbox rows, the next relay skips them."""
    make_patient()
    monkeypatch.undo()

    def die_before_cleanup(*_args, **_kwargs):
        raise KeyboardInterrupt("killed between the two steps")

    monkeypatch.setattr(relay_module, "delete", die_before_cleanup)
    with pytest.raises(KeyboardInterrupt):
        relay_all()
    assert history_count() == 2 and pending_counts()["pacientes"] == 1
    monkeypatch.undo()
    assert relay_all() == 0
    assert history_count() == 2 and history_count(TimelineEvent) == 1
    assert pending_counts()["pacientes"] == 0
    assert verify(app).ok


def test_background_relay_delivers_concurrent_writes_exactly_once(db_dir):
    """Production mode: a relay thread delivers every event shortly after the commits, once, in one valid chain."""
    import time

    app = build_app(db_dir, AUDIT_RELAY_MODE="background")
    errors = []

    def writer(prefix):
        with app.app_context():
            try:
                for n in range(15):
                    make_patient(full_name=f"{prefix} {n}")
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=writer, args=(f"Fundo {k}",)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app.app_context():
        deadline = time.monotonic() + 20
        while sum(pending_counts().values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert errors == [] and pending_counts() == {"pacientes": 0, "users": 0}
        ids = event_ids()
        assert len(ids) == 90 and len(set(ids)) == 90
        assert history_count(TimelineEvent) == 45
        assert verify(app).ok
        db.session.remove()
    dispose(app)


def test_concurrent_writers_and_relayers_keep_one_chain(app):
    """On either backend: writer threads plus extra relayer threads racing them, every event once, chain valid."""
    errors = []

    def run(work):
        with app.app_context():
            try:
                work()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    def write(prefix):
        return lambda: [make_patient(full_name=f"{prefix} {n}") for n in range(8)]

    def relay_repeatedly():
        for _ in range(10):
            relay_all()

    jobs = [write(f"Escritor {k}") for k in range(3)] + [relay_repeatedly, relay_repeatedly]
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    relay_all()
    assert errors == []
    ids = event_ids()
    assert len(ids) == 48 and len(set(ids)) == 48
    assert history_count(TimelineEvent) == 24
    assert verify(app).ok


def test_unknown_relay_mode_is_refused(db_dir):
    """A typo in AUDIT_RELAY_MODE stops the app instead of silently choosing a mode."""
    with pytest.raises(SystemExit, match="AUDIT_RELAY_MODE"):
        build_app(db_dir, AUDIT_RELAY_MODE="later")


# --- processes -------------------------------------------------------------------------------------------------


def _relay_in_child(folder, rounds):
    """Child process: relay everything a few times."""
    app = build_app(folder)
    with app.app_context():
        for _ in range(rounds):
            relay_all()
    dispose(app)


def _write_then_die_before_relay(folder):
    """Child process: commit a patient, then get SIGKILLed exactly where the relay would start."""
    from app.db.actor import acting_as

    app = build_app(folder)
    relay_module.relay_after_commit = lambda _binds: os.kill(os.getpid(), signal.SIGKILL)
    with app.app_context(), acting_as(None):
        patients_service.create_patient({"full_name": "Maria Aparecida", "cpf": "52998224725"})


def _write_patients(folder, prefix, count):
    """Child process: register patients one by one (each one commit and one relay)."""
    from app.db.actor import acting_as

    app = build_app(folder)
    with app.app_context(), acting_as(None):
        for n in range(count):
            patients_service.create_patient({"full_name": f"{prefix} {n}"})
    dispose(app)


def _run_children(target, args_list):
    procs = [SPAWN.Process(target=target, args=args) for args in args_list]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    return [p.exitcode for p in procs]


def test_two_processes_relaying_at_once_deliver_each_event_once(app, db_dir, relay_broken):
    """Two relayer processes racing over the same outbox: every event lands once and the chain stays valid."""
    for n in range(40):
        make_patient(full_name=f"Pessoa Corrida {n}")
    pending = pending_counts()["pacientes"]
    assert pending == 40 and history_count() == 0
    assert _run_children(_relay_in_child, [(db_dir, 3), (db_dir, 3)]) == [0, 0]
    db.session.rollback()
    ids = event_ids()
    assert len(ids) == 80 and len(set(ids)) == 80
    assert history_count(TimelineEvent) == 40
    assert pending_counts()["pacientes"] == 0
    assert verify(app).ok


def test_sigkill_between_commit_and_relay_loses_nothing_and_duplicates_nothing(app, db_dir):
    """A process killed right after its commit: the record exists, and after relay its events exist exactly once."""
    assert _run_children(_write_then_die_before_relay, [(db_dir,)]) == [-signal.SIGKILL]
    db.session.rollback()
    patient = db.session.scalar(select(Patient).where(Patient.cpf == "52998224725"))
    assert patient is not None and patient.full_name == "Maria Aparecida"
    assert history_count() == 0 and pending_counts()["pacientes"] == 1
    for _ in range(2):
        relay_all()
        db.session.rollback()
        creates = db.session.scalars(select(AuditEvent).where(AuditEvent.table_name == "patient")).all()
        assert [(e.action, e.row_id) for e in creates] == [("create", patient.id)]
    assert verify(app).ok


def test_concurrent_threads_and_processes_keep_one_valid_chain(app, db_dir):
    """Four threads and two processes write at once: no event lost or doubled, the chain verifies."""
    errors = []

    def thread_writer(prefix):
        with app.app_context():
            try:
                for n in range(10):
                    make_patient(full_name=f"{prefix} {n}")
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    procs = [SPAWN.Process(target=_write_patients, args=(db_dir, f"Processo {k}", 10)) for k in range(2)]
    threads = [threading.Thread(target=thread_writer, args=(f"Thread {k}",)) for k in range(4)]
    for worker in (*procs, *threads):
        worker.start()
    for t in threads:
        t.join()
    for p in procs:
        p.join(timeout=120)
    assert errors == [] and [p.exitcode for p in procs] == [0, 0]
    relay_all()
    db.session.rollback()
    patients = db.session.scalar(select(func.count()).select_from(Patient))
    assert patients == 60
    creates = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.table_name == "patient"))
    assert creates == 60
    assert history_count() == 120 and len(set(event_ids())) == 120
    assert history_count(TimelineEvent) == 60
    assert verify(app).ok


# --- tampering -------------------------------------------------------------------------------------------------


@pytest.fixture
def audited(app):
    """An instance with a handful of chained audit rows (ids 1..N)."""
    admin = make_user("admin")
    for n in range(3):
        make_patient(actor_id=admin.id, full_name=f"Auditado {n}")
    assert verify(app).ok
    return history_count()


def tamper(db_dir, *statements):
    """Run raw SQL on history.db the way an attacker with file access would: triggers dropped first."""
    conn = sqlite3.connect(db_dir / "history.db")
    try:
        conn.execute("DROP TRIGGER audit_event_no_update")
        conn.execute("DROP TRIGGER audit_event_no_delete")
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


FORGED = (
    "INSERT INTO audit_event (id, event_id, occurred_at, actor_user_id, action, bind, table_name, row_id, "
    "changes, prev_hash, hash) SELECT max(id) + 1, 'forged', '2026-01-01 00:00:00', 1, 'delete', 'pacientes', "
    "'patient', 1, '{}', (SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1), "
    "'0000000000000000000000000000000000000000000000000000000000000000' FROM audit_event"
)


@pytest.mark.parametrize(
    "statements, bad_row",
    [
        (["UPDATE audit_event SET changes = '{}' WHERE id = 3"], 3),
        (["UPDATE audit_event SET actor_user_id = 99 WHERE id = 2"], 2),
        (["DELETE FROM audit_event WHERE id = 3"], 4),
        ([FORGED], "last+1"),
    ],
    ids=["edited-changes", "edited-actor", "deleted-middle-row", "inserted-forged-row"],
)
def test_verify_names_the_first_tampered_row(app, runner, db_dir, audited, statements, bad_row):
    """`flask audit verify` exits 1 and names the row where the chain breaks."""
    tamper(db_dir, *statements)
    bad_row = audited + 1 if bad_row == "last+1" else bad_row
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"linha {bad_row}:" in result.output


def test_verify_passes_untouched_chain(app, runner, audited):
    """An untouched chain verifies with exit 0."""
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert f"{audited} linha(s) verificada(s)" in result.output


def test_truncated_tail_is_caught_against_a_checkpoint(app, runner, db_dir, audited):
    """Deleting the newest rows leaves a valid shorter chain; the kept checkpoint exposes it."""
    checkpoint = runner.invoke(args=["audit", "checkpoint"]).output.strip()
    assert checkpoint == make_checkpoint(verify(app))
    tamper(db_dir, f"DELETE FROM audit_event WHERE id >= {audited - 1}")
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    result = runner.invoke(args=["audit", "verify", "--checkpoint", checkpoint])
    assert result.exit_code == 1
    assert f"linha {audited} do checkpoint não existe" in result.output


def test_malformed_checkpoint_is_refused(app, runner, audited):
    """A checkpoint that is not ID:HASH is an error, not a silent pass."""
    result = runner.invoke(args=["audit", "verify", "--checkpoint", "yesterday"])
    assert result.exit_code == 1 and "não está no formato ID:HASH" in result.output


def test_verify_with_a_different_key_fails(app, audited):
    """The chain is keyed: the right rows under the wrong key do not verify."""
    report = verify_chain(engine_of(HISTORY), "another-key-entirely")
    assert not report.ok and report.bad_row_id == 1


def test_real_flask_process_verifies_and_detects_tampering(app, db_dir, audited):
    """Through a real `flask audit verify` process: exit 0 untouched, exit 1 naming the row after an edit."""
    from tests.conftest import sqlite_urls

    urls = {**sqlite_urls(db_dir), "AUDIT_HMAC_KEY": app.config["AUDIT_HMAC_KEY"]}
    env_urls = {k: v for k, v in urls.items() if k.endswith("_URL")}
    dispose(app)
    ok = run_flask(env_urls, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    tamper(db_dir, "UPDATE audit_event SET action = 'view_record' WHERE id = 2")
    broken = run_flask(env_urls, "audit", "verify")
    assert broken.returncode == 1 and "linha 2:" in broken.stderr


def test_no_secret_reaches_history(app):
    """Password hashes and session tokens never appear in history, even across a password change."""
    from app.db.actor import acting_as
    from app.models.users import StaffSession, User
    from app.services import users as users_service
    from app.services.sessions import token_hash

    user = make_user("admin")
    token = users_service.authenticate(user.username, PASSWORD).session_token
    secrets_seen = {user.password_hash, token, token_hash(token)}
    with acting_as(user.id):
        users_service.set_password(user.id, "uma-senha-nova-123")
    refreshed = db.session.get(User, user.id)
    secrets_seen |= {refreshed.password_hash, *db.session.scalars(select(StaffSession.token_hash))}
    dumped = " ".join(db.session.scalars(select(AuditEvent.changes)))
    assert "password_hash" in dumped  # the change is recorded ...
    for secret in secrets_seen:  # ... but never its value
        assert secret not in dumped
    assert "scrypt" not in dumped


def test_relay_at_startup_delivers_what_a_previous_process_left(app, relay_broken, monkeypatch):
    """Server start relays events stranded in the outboxes; on databases not migrated it just logs and returns."""
    from app.db.relay import relay_at_startup

    make_patient()
    monkeypatch.undo()
    assert pending_counts()["pacientes"] == 1
    assert relay_at_startup(app) == 3
    assert pending_counts()["pacientes"] == 0 and history_count() == 2


def test_relay_at_startup_tolerates_databases_not_migrated(tmp_path):
    """Before the first `flask db upgrade` the startup relay does nothing instead of crashing the server."""
    from app.db.relay import relay_at_startup

    app = build_app(tmp_path / "empty")
    assert relay_at_startup(app) == 0
    dispose(app)


def test_background_relay_drains_when_a_command_exits(db_dir):
    """A CLI command in background mode delivers its events before the process ends: nothing is left pending."""
    import os
    import subprocess
    import sys

    from tests.conftest import sqlite_urls
    from tests.support import ROOT

    env = {**os.environ, **sqlite_urls(db_dir), "SORRISO_ENV": "testing", "AUDIT_RELAY_MODE": "background"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "wsgi",
            "users",
            "create",
            "ana",
            "--full-name",
            "Ana Lima",
            "--role",
            "admin",
            "--password-stdin",
        ],
        cwd=ROOT,
        env=env,
        input="senha-muito-boa\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    app = build_app(db_dir)
    with app.app_context():
        assert pending_counts() == {"pacientes": 0, "users": 0}
        creates = db.session.scalars(select(AuditEvent).where(AuditEvent.table_name == "user")).all()
        assert [(e.action, e.request_path) for e in creates] == [("create", "cli:users create")]
        db.session.remove()
    dispose(app)


def test_recall_attempt_events_name_their_patient(app):
    """Rows that reach their patient through another row (a recall's attempt) are filed under that patient."""
    from datetime import date

    from app.db.actor import acting_as
    from app.services import recalls

    user = make_user("receptionist")
    patient = make_patient()
    with acting_as(user.id):
        recall = recalls.create_recall(patient.id, date(2030, 1, 15), "Limpeza semestral")
        recalls.record_attempt(recall.id, "no_answer")
    db.session.rollback()
    attempt = db.session.scalars(select(AuditEvent).where(AuditEvent.table_name == "recall_attempt")).one()
    assert attempt.patient_id == patient.id


def test_stale_relayer_never_deletes_a_newer_event_that_reused_a_row_id(app, monkeypatch):
    """A relayer that read the outbox before another relayer emptied it must not delete a newer event's row.

    SQLite reuses the rowid of an emptied table, so cleaning up by row id would lose the newer event.
    """
    monkeypatch.setattr(relay_module, "relay_after_commit", lambda _binds: None)
    make_patient(full_name="Primeira Paciente")
    real_write = relay_module.write_transaction

    def another_relayer_and_a_new_write_in_between(bind):
        monkeypatch.setattr(relay_module, "write_transaction", real_write)
        relay_module.relay_bind("pacientes")  # delivers and removes the first event's row
        make_patient(full_name="Segunda Paciente")  # its outbox row may get the freed id
        return real_write(bind)

    monkeypatch.setattr(relay_module, "write_transaction", another_relayer_and_a_new_write_in_between)
    relay_module.relay_bind("pacientes")  # the stale relayer, holding the first row it read
    relay_all()
    db.session.rollback()
    creates = db.session.scalars(select(AuditEvent.row_id).where(AuditEvent.table_name == "patient")).all()
    assert sorted(creates) == [1, 2]
    assert verify(app).ok
