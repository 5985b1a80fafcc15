"""Clinical notes, append-only: a dentist writes notes; a correction is a new note pointing at the old one."""

from sqlalchemy import select

from app.db import PACIENTES
from app.db.actor import current_actor
from app.db.append_only import forbid_changes
from app.db.audit import add_timeline
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import ClinicalNote, Patient
from app.services.errors import ConflictError, PermissionDenied, ValidationError
from app.services.guards import get_or_404, require_active_dentist, require_patient
from app.services.validation import required_text

MAX_TEXT = 20_000

forbid_changes(
    ClinicalNote, PermissionDenied, "Notas clínicas não podem ser alteradas nem excluídas: registre uma correção."
)


def _clean_text(text: str | None) -> str:
    """A note's text: required, multi-line, trimmed, not too long."""
    return required_text(text, "text", "Escreva o texto da nota.", MAX_TEXT, multiline=True)


def add_note(patient_id: int, text: str) -> ClinicalNote:
    """Add a clinical note written by the current user, who must be an active dentist."""
    text = _clean_text(text)
    with unit_of_work(PACIENTES):
        dentist = require_active_dentist(current_actor().user_id)
        patient = require_patient(patient_id)
        note = ClinicalNote(patient_id=patient.id, dentist_user_id=dentist.id, text=text)
        db.session.add(note)
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
