"""`flask seed demo`: realistic, constraint-respecting demo data whose audit trail stays complete."""

import json
import re

import pytest
from sqlalchemy import func, select, text

from app.extensions import db
from app.models.history import AuditEvent
from app.models.pacientes import Appointment, Patient, Payment, Procedure, TreatmentItem, TreatmentPlan
from app.models.users import User
from app.services import patients as patients_service
from app.services.patients import search_key
from app.services.validation import UFS, cpf_is_valid, parse_cro, parse_phone
from app.vocabulary import PlanStatus
from tests.factories import make_patient
from tests.support import run_flask


def count(model) -> int:
    """Rows of a model's table."""
    return db.session.scalar(select(func.count()).select_from(model))


def overlapping_appointments() -> int:
    """Pairs of appointments of the same dentist whose times overlap (the agenda forbids any)."""
    return db.session.execute(
        text(
            "SELECT count(*) FROM appointment a JOIN appointment b ON a.dentist_user_id = b.dentist_user_id "
            "AND a.id < b.id AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
        )
    ).scalar()


@pytest.fixture
def seeded(app, runner):
    """50 demo patients, in batches of 20, with a fixed random seed."""
    result = runner.invoke(args=["seed", "demo", "--patients", "50", "--batch-size", "20", "--seed", "7"])
    assert result.exit_code == 0, result.output
    return result


def test_seed_creates_patients_with_valid_unique_cpfs_and_realistic_fields(seeded):
    """Every patient has a valid, unique CPF, a search key matching the name, a phone with DDD and a UF."""
    patients = db.session.scalars(select(Patient)).all()
    assert len(patients) == 50
    assert all(cpf_is_valid(p.cpf) for p in patients)
    assert len({p.cpf for p in patients}) == 50
    assert all(p.search_name == search_key(p.full_name) for p in patients)
    assert all(p.phone == parse_phone(p.phone) == f"+55{p.phone_digits}" for p in patients)  # E.164
    assert all(len(p.phone_digits) == 11 for p in patients)
    assert all(p.state in UFS and len(p.cep) == 8 for p in patients)
    assert any(re.search(r"[áâãàéêíóôõúç]", p.full_name, re.IGNORECASE) for p in patients)


def test_seeded_data_passes_the_services_input_rules(seeded):
    """Demo patients re-validate unchanged through the patients service, and the demo dentist's CRO is canonical."""
    for patient in db.session.scalars(select(Patient)).all():
        patients_service.update_patient(patient.id, {})
    cros = db.session.scalars(select(User.cro).where(User.role == "dentist")).all()
    assert cros and all(parse_cro(cro) == cro for cro in cros)


def test_seed_creates_staff_once_and_prints_their_passwords(seeded, runner):
    """An admin, a dentist and a receptionist are created through the service when missing, passwords shown."""
    roles = sorted(db.session.scalars(select(User.role)))
    assert roles == ["admin", "dentist", "receptionist"]
    assert (
        len(re.findall(r"Conta criada: \S+ \((administrador|dentista|recepcionista)\), senha: \S{12,}", seeded.output))
        == 3
    )
    again = runner.invoke(args=["seed", "demo", "--patients", "5", "--yes"])
    assert again.exit_code == 0, again.output
    assert "Conta criada" not in again.output
    assert count(User) == 3


def test_seed_respects_the_agenda_and_money_rules(seeded):
    """No overlapping appointments per dentist; items keep catalogue prices; payments never exceed a plan."""
    assert count(Appointment) > 0 and overlapping_appointments() == 0
    assert count(TreatmentItem) >= count(TreatmentPlan) > 0
    frozen = db.session.execute(
        select(TreatmentItem.name, TreatmentItem.price_cents, Procedure.name, Procedure.default_price_cents).join(
            Procedure
        )
    ).all()
    assert all((item_name, item_price) == (name, price) for item_name, item_price, name, price in frozen)
    totals = dict(
        db.session.execute(
            select(TreatmentItem.plan_id, func.sum(TreatmentItem.price_cents)).group_by(TreatmentItem.plan_id)
        ).all()
    )
    paid = dict(
        db.session.execute(select(Payment.plan_id, func.sum(Payment.amount_cents)).group_by(Payment.plan_id)).all()
    )
    assert all(0 < amount <= totals[plan_id] for plan_id, amount in paid.items())
    proposed = set(db.session.scalars(select(TreatmentPlan.id).where(TreatmentPlan.status == PlanStatus.PROPOSED)))
    assert not proposed & set(paid)


def test_seed_records_one_summary_audit_event_per_batch_and_the_chain_verifies(seeded, runner):
    """Three batches (20+20+10) give three seed_demo events whose counts add up; `audit verify` passes."""
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "seed_demo")).all()
    assert len(events) == 3
    summaries = [json.loads(event.changes) for event in events]
    assert [s["patients"][1] for s in summaries] == [20, 20, 10]
    assert sum(s["appointments"][1] for s in summaries) == count(Appointment)
    assert sum(s["payments"][1] for s in summaries) == count(Payment)
    assert {event.request_path for event in events} == {"cli:seed demo"}
    verify = runner.invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output
    assert runner.invoke(args=["clinic", "check"]).exit_code == 0


def test_seeding_twice_keeps_cpfs_unique_and_agendas_free_of_overlaps(seeded, runner):
    """A second run adds patients whose CPFs and appointment slots never collide with the first run's."""
    result = runner.invoke(args=["seed", "demo", "--patients", "30", "--seed", "7", "--yes"])
    assert result.exit_code == 0, result.output
    assert count(Patient) == 80
    assert db.session.scalar(select(func.count(func.distinct(Patient.cpf)))) == 80
    assert overlapping_appointments() == 0


def test_seed_asks_before_adding_to_a_clinic_with_patients(app, runner):
    """With patients already registered, answering no adds nothing (exit 1)."""
    make_patient()
    result = runner.invoke(args=["seed", "demo", "--patients", "10"], input="n\n")
    assert result.exit_code == 1
    assert "já tem 1 paciente(s)" in result.output
    assert count(Patient) == 1


@pytest.mark.parametrize("args", [["--patients", "0"], ["--patients", "abc"], ["--batch-size", "0"]])
def test_seed_refuses_bad_numbers(app, runner, args):
    """Counts outside their range are usage errors (exit 2)."""
    assert runner.invoke(args=["seed", "demo", *args]).exit_code == 2
    assert count(Patient) == 0


def test_seed_through_a_real_flask_process(tmp_path, migrated_template):
    """`flask seed demo` in a real process shows progress and leaves a verifiable audit chain."""
    import shutil

    folder = tmp_path / "instance"
    shutil.copytree(migrated_template, folder)
    result = run_flask(folder, "seed", "demo", "--patients", "25")
    assert result.returncode == 0, result.stderr
    assert "Pacientes" in result.stdout and "pacientes 25" in result.stdout
    assert run_flask(folder, "audit", "verify").returncode == 0
