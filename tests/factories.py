"""Test data factories: valid defaults, override what a test cares about."""

import itertools

from app.db.actor import acting_as
from app.ops.demo_data import cpf_from  # noqa: F401  (re-exported: the tests' valid CPFs)
from app.services import patients, users

_seq = itertools.count(1)
PASSWORD = "senha-segura-123"


def make_user(role: str = "receptionist", **overrides):
    """Create a staff account (CRO filled in for dentists)."""
    n = next(_seq)
    fields = {
        "username": f"user{n}",
        "full_name": f"Pessoa {n}",
        "role": role,
        "password": PASSWORD,
        "cro": f"SP-{10000 + n}" if role == "dentist" else None,
    }
    fields.update(overrides)
    with acting_as(fields.pop("actor_id", None)):
        return users.create_user(**fields)


def make_patient(actor_id: int | None = None, **overrides):
    """Register a patient with a unique valid CPF."""
    n = next(_seq)
    data = {"full_name": f"Paciente {n}", "cpf": cpf_from(f"{n:09d}"), "phone": "(11) 98765-4321"}
    data.update(overrides)
    with acting_as(actor_id):
        return patients.create_patient(data)


def make_session(user) -> int:
    """Log a staff account in through the users service; returns the id of its new server-side session."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models.users import StaffSession
    from app.services.sessions import token_hash

    token = users.authenticate(user.username, PASSWORD).session_token
    return db.session.scalar(select(StaffSession.id).where(StaffSession.token_hash == token_hash(token)))


def change_behind_the_session(obj, **values) -> None:
    """Change `obj`'s stored row through a connection of its own, so the session's copy goes stale."""
    from sqlalchemy import inspect, update

    from app.db import engine_of
    from app.db.unit_of_work import object_bind

    table = inspect(obj).mapper.local_table
    with engine_of(object_bind(obj)).begin() as conn:
        conn.execute(update(table).where(table.c.id == obj.id).values(**values))


def make_clinical_samples(patient_id: int) -> dict[str, int]:
    """A clinical note and an issued prescription of a patient, by a new dentist: {"note_id": .., "document_id": ..}."""
    from app.services import documents, notes

    dentist = make_user("dentist")
    with acting_as(dentist.id):
        note = notes.add_note(patient_id, "Dor ao mastigar no 36.")
        document = documents.issue_prescription(patient_id, [{"name": "Amoxicilina", "dose": "500 mg"}])
    return {"note_id": note.id, "document_id": document.id}
