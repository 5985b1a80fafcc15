"""Anamnesis (medical history): read, update as pending or complete, and the record's warning."""

from datetime import date, datetime

from sqlalchemy import select

from app.db import PACIENTES
from app.db.actor import current_actor
from app.db.audit import add_timeline
from app.db.types import utcnow
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import Anamnesis, Patient
from app.services.clock import add_months, clinic_day, format_date
from app.services.errors import ValidationError
from app.services.guards import get_or_404, require_active_user, require_patient
from app.services.locks import for_update
from app.services.validation import clean_text
from app.vocabulary import AnamnesisStatus

STALE_AFTER_MONTHS = 6
MAX_TEXT = 10_000
FIELDS = ("allergies", "medications", "conditions", "notes")
FIELD_LABELS = {
    "allergies": "alergias",
    "medications": "medicamentos",
    "conditions": "condições",
    "notes": "observações",
}
PENDING_MESSAGE = "Anamnese pendente: confirme alergias, medicamentos e condições antes do atendimento."


def _warning(status: str | None, updated_at: datetime | None, today: date) -> str | None:
    """The warning for one anamnesis state; a missing anamnesis counts as pending."""
    if status != AnamnesisStatus.COMPLETE or updated_at is None:
        return PENDING_MESSAGE
    reviewed = clinic_day(updated_at)
    if today > add_months(reviewed, STALE_AFTER_MONTHS):
        return (
            f"Anamnese desatualizada: última revisão em {format_date(reviewed)}, há mais de "
            f"{STALE_AFTER_MONTHS} meses. Revise-a com o paciente."
        )
    return None


def anamnesis_warning(anamnesis: Anamnesis | None, today: date | None = None) -> str | None:
    """A prominent warning when the anamnesis is missing, pending or older than six months; else None."""
    if anamnesis is None:
        return PENDING_MESSAGE
    return _warning(anamnesis.status, anamnesis.updated_at, today or clinic_day())


def anamnesis_warnings(patient_ids, today: date | None = None) -> dict[int, str]:
    """{patient_id: warning} for the patients that need one, in a single query (for lists and the dashboard)."""
    ids = sorted(set(patient_ids))
    if not ids:
        return {}
    today = today or clinic_day()
    rows = db.session.execute(
        select(Patient.id, Anamnesis.status, Anamnesis.updated_at)
        .outerjoin(Anamnesis, Anamnesis.patient_id == Patient.id)
        .where(Patient.id.in_(ids))
    )
    warnings = {row.id: _warning(row.status, row.updated_at, today) for row in rows}
    return {patient_id: message for patient_id, message in warnings.items() if message}


def get_anamnesis(patient_id: int) -> Anamnesis | None:
    """The anamnesis of a patient (None if it was never created), or NotFound for an unknown patient."""
    patient = get_or_404(Patient, patient_id, "Paciente")
    return patient.anamnesis


def _clean_text(values: dict[str, str | None]) -> dict[str, str | None]:
    """Each text through the shared multi-line check; empty becomes None; every bad field reported at once."""
    clean, errors = {}, {}
    for name, value in values.items():
        try:
            clean[name] = clean_text(value, name, multiline=True, max_length=MAX_TEXT)
        except ValidationError as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    return clean


def update_anamnesis(
    patient_id: int,
    allergies: str | None,
    medications: str | None,
    conditions: str | None,
    notes: str | None,
    complete: bool,
) -> Anamnesis:
    """Record the anamnesis as reviewed now by the current user, pending or complete; timeline says what changed."""
    clean = _clean_text({"allergies": allergies, "medications": medications, "conditions": conditions, "notes": notes})
    with unit_of_work(PACIENTES):
        user = require_active_user(current_actor().user_id)
        patient = require_patient(patient_id)
        anamnesis = db.session.scalar(for_update(select(Anamnesis).where(Anamnesis.patient_id == patient.id)))
        if anamnesis is None:
            anamnesis = Anamnesis(patient=patient)
            db.session.add(anamnesis)
        changed = [name for name in FIELDS if getattr(anamnesis, name) != clean[name]]
        for name, value in clean.items():
            setattr(anamnesis, name, value)
        anamnesis.status = AnamnesisStatus.COMPLETE if complete else AnamnesisStatus.PENDING
        # Set explicitly: a review without changes still renews the date the warning counts from.
        anamnesis.updated_at = utcnow()
        anamnesis.updated_by_user_id = user.id
        add_timeline(db.session, anamnesis, "anamnesis_updated", _summary(anamnesis.status, changed))
    return anamnesis


def _summary(status: str, changed: list[str]) -> str:
    """Timeline line of an anamnesis update."""
    state = AnamnesisStatus.label_of(status)
    if not changed:
        return f"Anamnese revisada ({state}), sem alterações."
    return f"Anamnese atualizada ({state}): " + ", ".join(FIELD_LABELS[name] for name in changed) + "."
