"""Clinical notes, append-only: a dentist writes notes; a correction is a new note pointing at the old one.

A note may be about one of the patient's appointments of the day and/or an item of one of their approved plans:
a `ClinicalNoteLink` row written with the note (clinical_note itself is append-only, so it never grows columns).
Only items of approved or completed plans are offered, as those are sealed and never removed.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.db import PACIENTES
from app.db.actor import current_actor
from app.db.append_only import forbid_changes
from app.db.audit import add_timeline
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import Appointment, ClinicalNote, ClinicalNoteLink, Patient, TreatmentItem, TreatmentPlan
from app.services.clock import clinic_day, format_day_time
from app.services.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from app.services.guards import get_or_404, require_active_dentist, require_patient
from app.services.validation import required_text
from app.vocabulary import AppointmentStatus, PlanStatus

LINKABLE_PLAN_STATUSES = (PlanStatus.APPROVED, PlanStatus.COMPLETED)

MAX_TEXT = 20_000

for _model in (ClinicalNote, ClinicalNoteLink):
    forbid_changes(
        _model, PermissionDenied, "Notas clínicas não podem ser alteradas nem excluídas: registre uma correção."
    )


def _clean_text(text: str | None) -> str:
    """A note's text: required, multi-line, trimmed, not too long."""
    return required_text(text, "text", "Escreva o texto da nota.", MAX_TEXT, multiline=True)


@dataclass(frozen=True)
class LinkChoices:
    """What a new note of a patient may be tied to: today's appointments and items of approved plans."""

    appointments: list[Appointment]
    items: list[TreatmentItem]


def link_choices(patient_id: int) -> LinkChoices:
    """The patient's appointments of the clinic's today (not cancelled) and items of approved/completed plans."""
    today = clinic_day()
    appointments = [
        a
        for a in db.session.scalars(
            select(Appointment)
            .where(Appointment.patient_id == patient_id, Appointment.status != AppointmentStatus.CANCELLED)
            .order_by(Appointment.starts_at.desc(), Appointment.id)
            .limit(50)
        )
        if clinic_day(a.starts_at) == today
    ]
    items = list(
        db.session.scalars(
            select(TreatmentItem)
            .join(TreatmentPlan)
            .where(TreatmentPlan.patient_id == patient_id, TreatmentPlan.status.in_(LINKABLE_PLAN_STATUSES))
            .order_by(TreatmentPlan.id.desc(), TreatmentItem.id)
        )
    )
    return LinkChoices(sorted(appointments, key=lambda a: a.starts_at), items)


def _check_link(patient_id: int, appointment_id: int | None, treatment_item_id: int | None) -> None:
    """The appointment must be the patient's, today's and not cancelled; the item from an approved plan of theirs."""
    errors = {}
    if appointment_id is not None:
        appointment = db.session.get(Appointment, appointment_id)
        if (
            appointment is None
            or appointment.patient_id != patient_id
            or appointment.status == AppointmentStatus.CANCELLED
            or clinic_day(appointment.starts_at) != clinic_day()
        ):
            errors["appointment_id"] = "Escolha uma consulta de hoje deste paciente."
    if treatment_item_id is not None:
        item = db.session.get(TreatmentItem, treatment_item_id)
        if item is None or item.plan.patient_id != patient_id or item.plan.status not in LINKABLE_PLAN_STATUSES:
            errors["treatment_item_id"] = "Escolha um item de um plano aprovado deste paciente."
    if errors:
        raise ValidationError(errors)


def add_note(
    patient_id: int, text: str, appointment_id: int | None = None, treatment_item_id: int | None = None
) -> ClinicalNote:
    """Add a clinical note written by the current user, who must be an active dentist, optionally tied to one of
    the patient's appointments of today and/or an item of one of their approved plans."""
    text = _clean_text(text)
    with unit_of_work(PACIENTES):
        dentist = require_active_dentist(current_actor().user_id)
        patient = require_patient(patient_id)
        _check_link(patient.id, appointment_id, treatment_item_id)
        note = ClinicalNote(patient_id=patient.id, dentist_user_id=dentist.id, text=text)
        db.session.add(note)
        if appointment_id is not None or treatment_item_id is not None:
            db.session.add(
                ClinicalNoteLink(note=note, appointment_id=appointment_id, treatment_item_id=treatment_item_id)
            )
        add_timeline(db.session, note, "note_added", f"Nota clínica registrada por {dentist.full_name}.")
    return note


def _correction_of(note_id: int) -> int | None:
    """The id of the note that already corrects `note_id`, if any."""
    return db.session.scalar(select(ClinicalNote.id).where(ClinicalNote.corrects_note_id == note_id).limit(1))


def correct_note(note_id: int, text: str) -> ClinicalNote:
    """Correct a note as a new note referencing it; only its author may, and the old note is never modified."""
    text = _clean_text(text)
    with unit_of_work(PACIENTES):
        dentist = require_active_dentist(current_actor().user_id)
        original = get_or_404(ClinicalNote, note_id, "Nota clínica")
        require_patient(original.patient_id)
        if original.dentist_user_id != dentist.id:
            raise PermissionDenied("Só quem escreveu a nota pode corrigi-la.")
        newer = _correction_of(original.id)
        if newer is not None:
            raise ConflictError(f"Esta nota já foi corrigida pela nota #{newer}: corrija a versão mais recente.")
        if text == original.text:
            raise ValidationError({"text": "A correção é igual ao texto original."})
        note = ClinicalNote(
            patient_id=original.patient_id, dentist_user_id=dentist.id, text=text, corrects_note_id=original.id
        )
        db.session.add(note)
        link = db.session.get(ClinicalNoteLink, original.id)
        if link is not None:  # the correction is about the same appointment or item
            db.session.add(
                ClinicalNoteLink(
                    note=note, appointment_id=link.appointment_id, treatment_item_id=link.treatment_item_id
                )
            )
        db.session.flush()  # the summary names the new id
        add_timeline(
            db.session,
            note,
            "note_corrected",
            f"Nota clínica #{original.id} corrigida por {dentist.full_name} (nova nota #{note.id}).",
        )
    return note


def notes_of_patient(patient_id: int) -> list[ClinicalNote]:
    """Every note of a patient, corrections included, newest first."""
    get_or_404(Patient, patient_id, "Paciente")
    return list(
        db.session.scalars(
            select(ClinicalNote)
            .where(ClinicalNote.patient_id == patient_id)
            .order_by(ClinicalNote.created_at.desc(), ClinicalNote.id.desc())
        )
    )


def superseded_by(notes: list[ClinicalNote]) -> dict[int, int]:
    """{old note id: id of the note correcting it}, computed from a list already loaded (no query)."""
    return {note.corrects_note_id: note.id for note in notes if note.corrects_note_id is not None}


def get_note(patient_id: int, note_id: int) -> ClinicalNote:
    """A note of this patient, or NotFound (a note of another patient is not found under this record)."""
    note = get_or_404(ClinicalNote, note_id, "Nota clínica")
    if note.patient_id != patient_id:
        raise NotFound("Nota clínica", note_id)
    return note


def describe_item(item: TreatmentItem) -> str:
    """`Restauração (dente 16, MO) · plano #3`, for a note's link and the link selector."""
    where = ", ".join(str(part) for part in (f"dente {item.tooth}" if item.tooth else None, item.surfaces) if part)
    return f"{item.name} ({where}) · plano #{item.plan_id}" if where else f"{item.name} · plano #{item.plan_id}"


def describe_appointment(appointment: Appointment) -> str:
    """`Consulta de 29/11 às 10:00`."""
    return f"Consulta de {format_day_time(appointment.starts_at)}"


def link_summaries(note_ids: Iterable[int]) -> dict[int, list[str]]:
    """{note id: what it is about ("Consulta de ...", "Restauração (dente 16) · plano #3")}, in one query."""
    ids = set(note_ids)
    if not ids:
        return {}
    links = db.session.scalars(
        select(ClinicalNoteLink)
        .options(joinedload(ClinicalNoteLink.appointment), joinedload(ClinicalNoteLink.treatment_item))
        .where(ClinicalNoteLink.note_id.in_(ids))
    )
    summaries = {}
    for link in links:
        parts = []
        if link.appointment is not None:
            parts.append(describe_appointment(link.appointment))
        if link.treatment_item is not None:
            parts.append(describe_item(link.treatment_item))
        summaries[link.note_id] = parts
    return summaries
