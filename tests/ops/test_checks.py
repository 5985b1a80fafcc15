"""app.ops.checks: every problem is collected in one report; the orphan scan works in batches of ids."""

import json
import sqlite3

import pytest

from app.db.audit import audit_payload
from app.ops import checks
from tests.conftest import dispose
from tests.factories import make_patient, make_user


def plant(path, statement: str, params=()) -> None:
    """Change a database behind Sorriso's back."""
    with sqlite3.connect(path, isolation_level=None, timeout=10) as conn:
        conn.execute(statement, params)


def test_a_healthy_instance_has_no_problem(app):
    """Fresh data made through the services passes every check."""
    dentist = make_user("dentist")
    make_patient(actor_id=dentist.id)
    report = checks.run_checks()
    assert report.ok, report.problems
    assert report.orphans == [] and report.audit_chain["ok"] is True


def test_every_problem_is_listed_not_only_the_first(app, db_dir):
    """An orphan, a foreign journal mode and a pending event at once: three problems in one report."""
    user = make_user()
    make_patient(actor_id=user.id)
    dispose(app)
    plant(db_dir / "pacientes.db", "UPDATE patient SET created_by_user_id = 999")
    plant(db_dir / "history.db", "PRAGMA journal_mode = DELETE")
    payload = json.dumps({"audit": audit_payload("update", "users", "user", user.id)})
    plant(
        db_dir / "users.db",
        "INSERT INTO audit_outbox (event_id, created_at, payload) VALUES ('left-behind', '2026-01-01 00:00:00', ?)",
        (payload,),
    )
    report = checks.run_checks()
    assert not report.ok
    text = "\n".join(report.problems)
    assert "pacientes.patient.created_by_user_id: 1 usuário(s) inexistente(s), p.ex. 999" in text
    assert "history: o arquivo está em journal_mode=DELETE" in text
    assert "users: 1 evento(s) de auditoria esperando no outbox" in text
    assert len(report.problems) == 3


@pytest.mark.parametrize("batch", [1, 2, 1000])
def test_orphan_scan_reads_ids_in_batches(app, db_dir, monkeypatch, batch):
    """Whatever the batch size, the scan counts every missing id once and samples a few."""
    monkeypatch.setattr(checks, "ORPHAN_BATCH", batch)
    patients = [make_patient() for _ in range(4)]
    for n, patient in enumerate(patients[:3]):
        plant(db_dir / "pacientes.db", "UPDATE patient SET created_by_user_id = ? WHERE id = ?", (500 + n, patient.id))
    report = checks.run_checks()
    (orphan,) = report.orphans
    assert (orphan["table"], orphan["column"], orphan["count"]) == ("patient", "created_by_user_id", 3)
    assert orphan["missing_ids"] == [500, 501, 502]
