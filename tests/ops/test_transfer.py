"""Moving a clinic from SQLite to PostgreSQL keeps every row and a valid audit chain."""

import pytest
from sqlalchemy import func, select

from app import create_app
from app.db import HISTORY, engine_of
from app.db.actor import acting_as
from app.db.chain import verify_chain
from app.extensions import db
from app.models.history import AuditEvent
from app.models.pacientes import Patient
from app.ops.transfer import TransferError, transfer_to
from app.services import patients as patients_service
from tests.factories import make_patient, make_user

pytestmark = pytest.mark.postgres


def _targets(pg_urls: dict) -> dict:
    return {bind: pg_urls[f"{bind.upper()}_DATABASE_URL"] for bind in ("pacientes", "users", "history")}


def test_transfer_copies_every_row_and_the_chain_verifies_on_postgres(app, pg_urls):
    """Seeded SQLite → PostgreSQL: equal row counts per table, chain verified, and the new database keeps working."""
    admin = make_user("admin")
    for n in range(25):
        make_patient(actor_id=admin.id, full_name=f"Paciente Mudança {n}")
    messages = []
    report = transfer_to(_targets(pg_urls), progress=messages.append)
    assert report.counts["pacientes.patient"] == 25
    assert report.counts["users.user"] == 1
    assert report.chain_rows == db.session.scalar(select(func.count()).select_from(AuditEvent)) > 50
    assert any("Conferindo" in m for m in messages)

    target = create_app("testing", pg_urls)
    with target.app_context():
        assert db.session.scalar(select(func.count()).select_from(Patient)) == 25
        with acting_as(admin.id):
            newcomer = patients_service.create_patient({"full_name": "Depois da Mudança"})
        assert newcomer.id == 26  # sequences were moved past the copied ids
        assert verify_chain(engine_of(HISTORY), target.config["AUDIT_HMAC_KEY"]).ok
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def test_transfer_refuses_a_target_that_already_holds_data(app, pg_urls):
    """Running the move twice does not duplicate anything: a non-empty target is refused."""
    make_patient()
    transfer_to(_targets(pg_urls))
    with pytest.raises(TransferError, match="já tem linhas"):
        transfer_to(_targets(pg_urls))


def test_transfer_needs_all_three_urls(app):
    """A missing target URL is named in the error."""
    with pytest.raises(TransferError, match="history"):
        transfer_to({"pacientes": "postgresql+psycopg://x/a", "users": "postgresql+psycopg://x/b"})


def test_migrate_to_command_through_a_real_flask_process(app, db_dir, pg_urls):
    """`flask clinic migrate-to` in a real process copies a seeded clinic and says the copy verified."""
    from tests.conftest import dispose, sqlite_urls
    from tests.support import run_flask

    for n in range(5):
        make_patient(full_name=f"Paciente Processo {n}")
    dispose(app)
    targets = _targets(pg_urls)
    result = run_flask(
        sqlite_urls(db_dir),
        "clinic",
        "migrate-to",
        "--pacientes",
        targets["pacientes"],
        "--users",
        targets["users"],
        "--history",
        targets["history"],
    )
    assert result.returncode == 0, result.stderr
    assert "contagens conferem" in result.stdout
    again = run_flask(
        sqlite_urls(db_dir),
        "clinic",
        "migrate-to",
        "--pacientes",
        targets["pacientes"],
        "--users",
        targets["users"],
        "--history",
        targets["history"],
    )
    assert again.returncode == 1 and "já tem linhas" in again.stderr
