"""The odontogram: tooth findings in FDI notation; the current chart is the latest finding per tooth."""

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import aliased, contains_eager

from app.db import PACIENTES
from app.db.actor import current_actor
from app.db.audit import add_timeline
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import Patient, ToothFinding, TreatmentItem, TreatmentPlan
from app.services.clock import clinic_tz
from app.services.dental import (  # noqa: F401  (re-exported: the odontogram's notation)
    DECIDUOUS_TEETH,
    PERMANENT_TEETH,
    SURFACE_LABELS,
    SURFACES,
    VALID_TEETH,
    parse_surfaces,
    parse_tooth,
)
from app.services.errors import NotFound, ValidationError
from app.services.guards import get_or_404, require_active_dentist, require_patient
from app.services.validation import clean_text, column_limit
from app.vocabulary import FindingCode, PlanStatus

# Findings about the whole tooth: surfaces make no sense for them.
WHOLE_TOOTH = frozenset(
    {
        FindingCode.MISSING,
        FindingCode.EXTRACTION_INDICATED,
        FindingCode.CROWN,
        FindingCode.ROOT_CANAL,
        FindingCode.IMPLANT,
    }
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


def _latest_per_tooth(patient_id: int, before: datetime | None = None) -> dict[int, ToothFinding]:
    """{tooth: latest finding recorded before `before` (ever, when None)}, in a single query."""
    query = select(
        ToothFinding,
        func.row_number()
        .over(
            partition_by=ToothFinding.tooth,
            order_by=(ToothFinding.recorded_at.desc(), ToothFinding.id.desc()),
        )
        .label("rank"),
    ).where(ToothFinding.patient_id == patient_id)
    if before is not None:
        query = query.where(ToothFinding.recorded_at < before)
    ranked = query.subquery()
    latest = aliased(ToothFinding, ranked)
    rows = db.session.scalars(select(latest).where(ranked.c.rank == 1).order_by(latest.tooth))
    return {row.tooth: row for row in rows}


def current_chart(patient_id: int) -> dict[int, ToothFinding]:
    """{tooth: latest finding} for one patient, in a single query."""
    return _latest_per_tooth(patient_id)


def end_of_clinic_day(day: date) -> datetime:
    """The UTC instant the clinic's calendar day `day` ends (local midnight of the next day, DST-safe)."""
    midnight = datetime.combine(day + timedelta(days=1), time.min, tzinfo=clinic_tz())
    return midnight.astimezone(UTC)


def chart_on(patient_id: int, day: date) -> dict[int, ToothFinding]:
    """The chart as it was at the end of the clinic day `day`: {tooth: latest finding until then}, one query."""
    return _latest_per_tooth(patient_id, end_of_clinic_day(day))


def finding_history(patient_id: int, tooth=None) -> list[ToothFinding]:
    """Every finding of a patient (or of one tooth), newest first."""
    get_or_404(Patient, patient_id, "Paciente")
    query = select(ToothFinding).where(ToothFinding.patient_id == patient_id)
    if tooth is not None:
        query = query.where(ToothFinding.tooth == parse_tooth(tooth))
    return list(db.session.scalars(query.order_by(ToothFinding.recorded_at.desc(), ToothFinding.id.desc())))


def tooth_history(patient_id: int, tooth: int) -> list[ToothFinding]:
    """Every finding of one tooth, newest first; NotFound for a number that is no FDI tooth (a URL naming none)."""
    return finding_history(patient_id, require_tooth(tooth))


def require_tooth(tooth: int) -> int:
    """The tooth number when it is one in FDI notation, else NotFound (a URL that names no tooth)."""
    if tooth not in VALID_TEETH:
        raise NotFound("Dente", tooth)
    return tooth


def _open_items(patient_id: int):
    """The patient's items still to be done in proposed or approved plans (a query to refine)."""
    return (
        select(TreatmentItem)
        .join(TreatmentPlan, TreatmentItem.plan_id == TreatmentPlan.id)
        .where(
            TreatmentPlan.patient_id == patient_id,
            TreatmentPlan.status.in_((PlanStatus.PROPOSED, PlanStatus.APPROVED)),
            TreatmentItem.done.is_(False),
        )
    )


def planned_teeth(patient_id: int) -> set[int]:
    """Teeth with something still to be done in the patient's proposed or approved plans, in one query."""
    query = _open_items(patient_id).where(TreatmentItem.tooth.is_not(None)).with_only_columns(TreatmentItem.tooth)
    return set(db.session.scalars(query.distinct()))


def planned_for_tooth(patient_id: int, tooth: int) -> list[TreatmentItem]:
    """Items for one tooth still to be done in the patient's proposed or approved plans, oldest first (one query)."""
    query = _open_items(patient_id).options(contains_eager(TreatmentItem.plan))
    return list(db.session.scalars(query.where(TreatmentItem.tooth == require_tooth(tooth)).order_by(TreatmentItem.id)))
