"""Cross-bind integrity checks: call these before storing an id that lives in another database."""

from app.db import PACIENTES, USERS
from app.extensions import db
from app.models.pacientes import Patient
from app.models.users import User
from app.services.errors import NotFound, PatientReadOnly, RelatedEntityNotFound
from app.vocabulary import Role


def require_active_user(user_id: int | None, role: str | None = None) -> User:
    """The active staff account `user_id` (with `role`, if given), or RelatedEntityNotFound."""
    entity = "Dentista" if role == Role.DENTIST else "Usuário"
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise RelatedEntityNotFound(entity, user_id, USERS)
    if not user.is_active:
        raise RelatedEntityNotFound(entity, user_id, USERS, "está desativado")
    if role is not None and user.role != role:
        raise RelatedEntityNotFound(entity, user_id, USERS, f"não tem o papel de {Role.label_of(role)}")
    return user


def require_active_dentist(user_id: int | None) -> User:
    """The active dentist `user_id`, or RelatedEntityNotFound."""
    return require_active_user(user_id, role=Role.DENTIST)


def require_patient(patient_id: int | None, active: bool = True) -> Patient:
    """The patient `patient_id`, or RelatedEntityNotFound; PatientReadOnly if deactivated (unless `active=False`).

    Every service write that changes a patient's data or adds to their record calls this first: a deactivated
    record is read-only until it is reactivated. Only reactivation, deactivation and the cancellation of an
    appointment or a recall (which free the agenda and the call list) act on a deactivated patient.
    """
    patient = db.session.get(Patient, patient_id) if patient_id is not None else None
    if patient is None:
        raise RelatedEntityNotFound("Paciente", patient_id, PACIENTES)
    if active and not patient.is_active:
        raise PatientReadOnly(patient.id, PACIENTES)
    return patient


def get_or_404(model, row_id, entity: str):
    """The row `row_id` of `model` for reading, or NotFound naming the entity (to change it: locks.get_for_update)."""
    row = db.session.get(model, row_id) if row_id is not None else None
    if row is None:
        raise NotFound(entity, row_id)
    return row
