"""The odontogram: tooth findings in FDI notation; the current chart is the latest finding per tooth."""

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.db import PACIENTES
from app.db.actor import current_actor
from app.db.audit import add_timeline
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import Patient, ToothFinding
from app.services.dental import (  # noqa: F401  (re-exported: the odontogram's notation)
    DECIDUOUS_TEETH,
    PERMANENT_TEETH,
    SURFACE_LABELS,
    SURFACES,
    VALID_TEETH,
    parse_surfaces,
    parse_tooth,
)
from app.services.errors import ValidationError
from app.services.guards import get_or_404, require_active_dentist, require_patient
from app.services.validation import clean_text, column_limit
from app.vocabulary import FindingCode

# Findings about the whole tooth: surfaces make no sense for them.
WHOLE_TOOTH = frozenset(
    {FindingCode.MISSING, FindingCode.EXTRACTION_INDICATED, FindingCode.CROWN, FindingCode.ROOT_CANAL}
)
MAX_NOTES = column_limit(ToothFinding, "notes")


def _clean(tooth, finding: str, surfaces: str | None, notes: str | None) -> dict:
    """Validate every field of a finding at once."""
    errors, clean = {}, {}
    for name, parse, value in (("tooth", parse_tooth, tooth), ("surfaces", parse_surfaces, surfaces)):
        try:
            clean[name] = parse(value)
        except ValidationError as exc:
            errors.update(exc.errors)
    if finding not in FindingCode.values():
        errors["finding"] = "Achado inválido: escolha um da lista."
    elif finding in WHOLE_TOOTH and clean.get("surfaces"):
        errors["surfaces"] = f"O achado “{FindingCode.label_of(finding)}” vale para o dente inteiro: não marque faces."
    try:
        notes = clean_text(notes, "notes", multiline=True)
    except ValidationError as exc:
        errors.update(exc.errors)
    else:
        if notes and len(notes) > MAX_NOTES:
            errors["notes"] = f"Observação longa demais (máximo de {MAX_NOTES} caracteres)."
    if errors:
        raise ValidationError(errors)
    return {**clean, "finding": finding, "notes": notes}


def record_finding(
    patient_id: int, tooth, finding: str, surfaces: str | None = None, notes: str | None = None
) -> ToothFinding:
    """Record a finding on one tooth by the current user, who must be an active dentist; history is kept."""
    clean = _clean(tooth, finding, surfaces, notes)
    with unit_of_work(PACIENTES):
        dentist = require_active_dentist(current_actor().user_id)
        patient = require_patient(patient_id)
        row = ToothFinding(patient_id=patient.id, recorded_by_user_id=dentist.id, **clean)
        db.session.add(row)
        add_timeline(db.session, row, "tooth_finding", f"Odontograma: {describe(row)}.")
    return row


def describe(row: ToothFinding) -> str:
    """`dente 16: cárie (faces M, O)` — a finding in words."""
    text = f"dente {row.tooth}: {FindingCode.label_of(row.finding)}"
    if row.surfaces:
        text += " (faces " + ", ".join(row.surfaces) + ")"
    return text


def current_chart(patient_id: int) -> dict[int, ToothFinding]:
    """{tooth: latest finding} for one patient, in a single query."""
    ranked = (
        select(
            ToothFinding,
            func.row_number()
            .over(
                partition_by=ToothFinding.tooth,
                order_by=(ToothFinding.recorded_at.desc(), ToothFinding.id.desc()),
            )
            .label("rank"),
        )
        .where(ToothFinding.patient_id == patient_id)
        .subquery()
    )
    latest = aliased(ToothFinding, ranked)
    rows = db.session.scalars(select(latest).where(ranked.c.rank == 1).order_by(latest.tooth))
    return {row.tooth: row for row in rows}


def finding_history(patient_id: int, tooth=None) -> list[ToothFinding]:
    """Every finding of a patient (or of one tooth), newest first."""
    get_or_404(Patient, patient_id, "Paciente")
    query = select(ToothFinding).where(ToothFinding.patient_id == patient_id)
    if tooth is not None:
        query = query.where(ToothFinding.tooth == parse_tooth(tooth))
    return list(db.session.scalars(query.order_by(ToothFinding.recorded_at.desc(), ToothFinding.id.desc())))
