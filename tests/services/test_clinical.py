"""Clinical services: anamnesis, append-only notes, issued documents, odontogram and recalls."""

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.db import PACIENTES
from app.db.actor import acting_as
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.history import AuditEvent, TimelineEvent
from app.models.pacientes import Anamnesis, ClinicalNote, IssuedDocument, Patient, Recall, ToothFinding
from app.services import anamnesis, documents, notes, odontogram, patients, recalls, users
from app.services.clock import clinic_day
from app.services.errors import ConflictError, NotFound, PermissionDenied, RelatedEntityNotFound, ValidationError
from app.vocabulary import AnamnesisStatus, RecallOutcome
from tests.factories import change_behind_the_session, make_patient, make_user
from tests.support import count_queries, once_on_sqlite

TODAY = date(2026, 3, 15)


# --- helpers and extra factories ----------------------------------------------------------------------------


def timeline(patient_id: int) -> list[str]:
    """The patient's timeline summaries, oldest first (fresh snapshot of history.db)."""
    db.session.rollback()
    return list(
        db.session.scalars(
            select(TimelineEvent.summary).where(TimelineEvent.patient_id == patient_id).order_by(TimelineEvent.id)
        )
    )


def audit_events(action: str, table: str) -> list[AuditEvent]:
    """Audit rows of one action on one table, oldest first."""
    db.session.rollback()
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.table_name == table)
            .order_by(AuditEvent.id)
        )
    )


def row_count(model) -> int:
    """How many rows a table holds."""
    return db.session.scalar(select(func.count()).select_from(model))


def deactivated_user(role: str):
    """A user of `role` whose account was deactivated."""
    user = make_user(role)
    users.deactivate_user(user.id, "desligado")
    return user


def bare_patient(full_name: str = "Paciente Sem Anamnese") -> Patient:
    """A patient row inserted without the service, so it has no anamnesis row."""
    with unit_of_work(PACIENTES):
        patient = Patient(full_name=full_name, search_name=patients.search_key(full_name))
        db.session.add(patient)
    return patient


def make_note(patient_id: int, dentist_id: int, text: str = "Dor ao mastigar no 36.") -> ClinicalNote:
    """A clinical note written by a dentist."""
    with acting_as(dentist_id):
        return notes.add_note(patient_id, text)


def make_document(patient_id: int, dentist_id: int, kind: str = "prescription", content: str = "Amoxicilina 500 mg"):
    """A document issued by a dentist."""
    with acting_as(dentist_id):
        return documents.issue_document(patient_id, kind, content)


def make_recall(
    patient_id: int, due: date = date(2026, 4, 10), reason: str = "Limpeza semestral", actor_id: int | None = None
) -> Recall:
    """A recall on the call-back list."""
    with acting_as(actor_id):
        return recalls.create_recall(patient_id, due, reason)


def finding_at(patient_id: int, tooth: int, finding: str, recorded_at: datetime, dentist_id: int) -> ToothFinding:
    """A tooth finding with an explicit recording time (inserted directly, for ordering tests)."""
    with unit_of_work(PACIENTES):
        row = ToothFinding(
            patient_id=patient_id, tooth=tooth, finding=finding, recorded_at=recorded_at, recorded_by_user_id=dentist_id
        )
        db.session.add(row)
    return row


@pytest.fixture
def dentist(app):
    """An active dentist."""
    return make_user("dentist", full_name="Dra. Ana Souza")


@pytest.fixture
def patient(app):
    """An active patient (with a PENDING anamnesis)."""
    return make_patient(full_name="João da Conceição")


# --- anamnesis ----------------------------------------------------------------------------------------------


def test_new_patient_has_a_pending_anamnesis(patient):
    """Registration leaves a pending anamnesis, which the record warns about."""
    record = anamnesis.get_anamnesis(patient.id)
    assert record.status == AnamnesisStatus.PENDING
    assert anamnesis.anamnesis_warning(record) == anamnesis.PENDING_MESSAGE


def test_get_anamnesis_of_unknown_patient_is_not_found(app):
    """Reading the anamnesis of a missing patient raises NotFound."""
    with pytest.raises(NotFound, match="Paciente #999"):
        anamnesis.get_anamnesis(999)


def test_update_anamnesis_completes_it_with_author_timeline_and_audit(patient, dentist, monkeypatch):
    """A complete anamnesis stores trimmed texts, the reviewer and the time; timeline names the changed fields."""
    reviewed = datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
    monkeypatch.setattr(anamnesis, "utcnow", lambda: reviewed)
    with acting_as(dentist.id):
        anamnesis.update_anamnesis(patient.id, " Penicilina ", "Losartana 50 mg", "", None, complete=True)
    record = anamnesis.get_anamnesis(patient.id)
    assert (record.allergies, record.medications, record.conditions, record.notes) == (
        "Penicilina",
        "Losartana 50 mg",
        None,
        None,
    )
    assert (record.status, record.updated_by_user_id, record.updated_at) == (
        AnamnesisStatus.COMPLETE,
        dentist.id,
        reviewed,
    )
    assert timeline(patient.id)[-1] == "Anamnese atualizada (completa): alergias, medicamentos."
    [event_row] = audit_events("update", "anamnesis")
    assert json.loads(event_row.changes)["status"] == ["pending", "complete"]
    assert anamnesis.anamnesis_warning(record, today=date(2026, 3, 2)) is None


def test_update_anamnesis_compares_with_the_stored_record(patient, dentist):
    """What changed is measured against the stored anamnesis (re-read for the change), not the session's copy."""
    record = anamnesis.get_anamnesis(patient.id)
    change_behind_the_session(record, allergies="Dipirona")
    with acting_as(dentist.id):
        anamnesis.update_anamnesis(patient.id, "Dipirona", None, None, None, complete=False)
    assert timeline(patient.id)[-1] == "Anamnese revisada (pendente), sem alterações."


def test_review_without_changes_renews_the_date(patient, dentist, monkeypatch):
    """Confirming an unchanged anamnesis renews its date (so the warning restarts) and says so in the timeline."""
    for moment in (datetime(2025, 1, 5, 12, tzinfo=UTC), datetime(2026, 3, 10, 12, tzinfo=UTC)):
        monkeypatch.setattr(anamnesis, "utcnow", lambda moment=moment: moment)
        with acting_as(dentist.id):
            anamnesis.update_anamnesis(patient.id, "Dipirona", None, None, None, complete=True)
    record = anamnesis.get_anamnesis(patient.id)
    assert record.updated_at == datetime(2026, 3, 10, 12, tzinfo=UTC)
    assert timeline(patient.id)[-1] == "Anamnese revisada (completa), sem alterações."
    assert anamnesis.anamnesis_warning(record, today=TODAY) is None


def test_update_anamnesis_can_leave_it_pending(patient, dentist):
    """complete=False keeps the anamnesis PENDING, still warned about."""
    with acting_as(dentist.id):
        anamnesis.update_anamnesis(patient.id, "Látex", None, None, None, complete=False)
    record = anamnesis.get_anamnesis(patient.id)
    assert record.status == AnamnesisStatus.PENDING and record.allergies == "Látex"
    assert timeline(patient.id)[-1] == "Anamnese atualizada (pendente): alergias."


def test_update_anamnesis_refuses_too_long_text(patient, dentist):
    """A text over the limit is a field error and nothing changes."""
    with acting_as(dentist.id), pytest.raises(ValidationError) as excinfo:
        anamnesis.update_anamnesis(patient.id, None, "x" * (anamnesis.MAX_TEXT + 1), None, None, complete=True)
    assert set(excinfo.value.errors) == {"medications"}
    assert anamnesis.get_anamnesis(patient.id).status == AnamnesisStatus.PENDING


def test_update_creates_the_anamnesis_of_a_patient_without_one(app, dentist):
    """A patient with no anamnesis row counts as pending, and an update creates the row."""
    patient = bare_patient()
    assert anamnesis.get_anamnesis(patient.id) is None
    assert anamnesis.anamnesis_warning(None) == anamnesis.PENDING_MESSAGE
    with acting_as(dentist.id):
        anamnesis.update_anamnesis(patient.id, None, None, "Diabetes tipo 2", None, complete=True)
    assert anamnesis.get_anamnesis(patient.id).conditions == "Diabetes tipo 2"
    assert row_count(Anamnesis) == 1


@once_on_sqlite
@pytest.mark.parametrize(
    "status, reviewed_utc, today, expected",
    [
        (AnamnesisStatus.PENDING, datetime(2026, 3, 14, 12, tzinfo=UTC), TODAY, "pending"),
        (AnamnesisStatus.COMPLETE, datetime(2026, 3, 14, 12, tzinfo=UTC), TODAY, None),
        (AnamnesisStatus.COMPLETE, datetime(2025, 9, 15, 12, tzinfo=UTC), TODAY, None),  # exactly six months: not older
        (AnamnesisStatus.COMPLETE, datetime(2025, 9, 14, 12, tzinfo=UTC), TODAY, "stale"),
        # 02:00 UTC on 15/09 is still 14/09 in São Paulo: the clinic's day counts.
        (AnamnesisStatus.COMPLETE, datetime(2025, 9, 15, 2, tzinfo=UTC), TODAY, "stale"),
        # 31/08 + 6 months = 28/02
        (AnamnesisStatus.COMPLETE, datetime(2025, 8, 31, 15, tzinfo=UTC), date(2026, 2, 28), None),
        (AnamnesisStatus.COMPLETE, datetime(2025, 8, 31, 15, tzinfo=UTC), date(2026, 3, 1), "stale"),
    ],
)
def test_anamnesis_warning_for_pending_and_older_than_six_months(app, status, reviewed_utc, today, expected):
    """Pending always warns; a complete anamnesis warns only once it is more than six months old."""
    message = anamnesis.anamnesis_warning(Anamnesis(status=status, updated_at=reviewed_utc), today=today)
    if expected is None:
        assert message is None
    elif expected == "pending":
        assert message == anamnesis.PENDING_MESSAGE
    else:
        reviewed_day = clinic_day(reviewed_utc)
        assert message.startswith("Anamnese desatualizada")
        assert reviewed_day.strftime("%d/%m/%Y") in message


@pytest.mark.parametrize(
    "day, months, expected",
    [
        (date(2025, 1, 15), 6, date(2025, 7, 15)),
        (date(2025, 8, 31), 6, date(2026, 2, 28)),
        (date(2023, 8, 31), 6, date(2024, 2, 29)),
        (date(2025, 12, 1), 1, date(2026, 1, 1)),
        (date(2025, 7, 31), 11, date(2026, 6, 30)),
    ],
)
def test_add_months_clamps_to_the_end_of_month(day, months, expected):
    """Month arithmetic crosses years and clamps the day to the target month."""
    assert anamnesis.add_months(day, months) == expected


def test_anamnesis_warnings_for_many_patients_in_one_query(app, dentist, monkeypatch):
    """The bulk helper returns only the patients needing a warning, with a single SELECT."""
    pending, recent, stale = make_patient(), make_patient(), make_patient()
    missing = bare_patient()
    for patient, moment in (
        (recent, datetime(2025, 6, 1, 12, tzinfo=UTC)),
        (stale, datetime(2025, 1, 10, 12, tzinfo=UTC)),
    ):
        monkeypatch.setattr(anamnesis, "utcnow", lambda moment=moment: moment)
        with acting_as(dentist.id):
            anamnesis.update_anamnesis(patient.id, None, None, None, None, complete=True)
    db.session.rollback()
    ids = [pending.id, recent.id, stale.id, missing.id, 9999]
    with count_queries(selects_only=True) as selects:
        warnings = anamnesis.anamnesis_warnings(ids, today=date(2025, 7, 20))
    assert len(selects) == 1
    assert set(warnings) == {pending.id, stale.id, missing.id}
    assert warnings[pending.id] == warnings[missing.id] == anamnesis.PENDING_MESSAGE
    assert "10/01/2025" in warnings[stale.id]


def test_anamnesis_warnings_of_no_patients_runs_no_query(app):
    """An empty list needs no database round trip."""
    with count_queries(selects_only=True) as selects:
        assert anamnesis.anamnesis_warnings([]) == {}
    assert selects == []


# --- clinical notes -----------------------------------------------------------------------------------------


def test_add_note_stores_author_and_timeline(patient, dentist):
    """A note keeps the trimmed text and its author; timeline and audit record it."""
    note = make_note(patient.id, dentist.id, "  Dor no 36 ao mastigar.  ")
    stored = db.session.get(ClinicalNote, note.id)
    assert (stored.text, stored.dentist_user_id, stored.corrects_note_id) == (
        "Dor no 36 ao mastigar.",
        dentist.id,
        None,
    )
    assert timeline(patient.id)[-1] == "Nota clínica registrada por Dra. Ana Souza."
    assert len(audit_events("create", "clinical_note")) == 1


@once_on_sqlite
@pytest.mark.parametrize(
    "text, message",
    [
        ("", "Escreva o texto da nota."),
        ("   ", "Escreva o texto da nota."),
        ("x" * (notes.MAX_TEXT + 1), "longo demais"),
    ],
)
def test_add_note_validates_the_text(patient, dentist, text, message):
    """A blank or oversized note is a field error and nothing is stored."""
    with acting_as(dentist.id), pytest.raises(ValidationError) as excinfo:
        notes.add_note(patient.id, text)
    assert message in excinfo.value.errors["text"]
    assert row_count(ClinicalNote) == 0


def test_correction_is_a_new_note_and_the_original_stays_intact(patient, dentist):
    """Correcting adds a note pointing at the old one; the old note's text is untouched."""
    original = make_note(patient.id, dentist.id, "Cárie no 26.")
    with acting_as(dentist.id):
        correction = notes.correct_note(original.id, "Cárie no 27, não no 26.")
    db.session.expire_all()
    assert db.session.get(ClinicalNote, original.id).text == "Cárie no 26."
    stored = db.session.get(ClinicalNote, correction.id)
    assert (stored.corrects_note_id, stored.patient_id, stored.dentist_user_id) == (original.id, patient.id, dentist.id)
    listed = notes.notes_of_patient(patient.id)
    assert [n.id for n in listed] == [correction.id, original.id]
    assert notes.superseded_by(listed) == {original.id: correction.id}
    assert timeline(patient.id)[-1] == (
        f"Nota clínica #{original.id} corrigida por Dra. Ana Souza (nova nota #{correction.id})."
    )


def test_only_the_author_may_correct_a_note(patient, dentist):
    """Another dentist gets PermissionDenied and no note is added."""
    original = make_note(patient.id, dentist.id)
    colleague = make_user("dentist")
    with acting_as(colleague.id), pytest.raises(PermissionDenied, match="Só quem escreveu"):
        notes.correct_note(original.id, "Outra coisa.")
    assert row_count(ClinicalNote) == 1


def test_a_corrected_note_cannot_be_corrected_again(patient, dentist):
    """Only the latest version is corrected: a second correction of the same note is a conflict."""
    original = make_note(patient.id, dentist.id)
    with acting_as(dentist.id):
        first = notes.correct_note(original.id, "Primeira correção.")
        with pytest.raises(ConflictError, match=f"nota #{first.id}"):
            notes.correct_note(original.id, "Segunda correção.")
        notes.correct_note(first.id, "Correção da correção.")
    assert row_count(ClinicalNote) == 3


def test_correction_must_change_the_text(patient, dentist):
    """A 'correction' identical to the original is refused."""
    original = make_note(patient.id, dentist.id, "Sem queixas.")
    with acting_as(dentist.id), pytest.raises(ValidationError, match="igual ao texto original"):
        notes.correct_note(original.id, "  Sem queixas. ")


def test_correcting_an_unknown_note_is_not_found(app, dentist):
    """Correcting a note that does not exist raises NotFound."""
    with acting_as(dentist.id), pytest.raises(NotFound, match="Nota clínica #77"):
        notes.correct_note(77, "texto")


@pytest.mark.parametrize("change", ["update", "delete"])
def test_notes_cannot_be_changed_or_deleted_at_all(patient, dentist, change):
    """Even a direct ORM update or delete inside a unit of work is refused; the note stays as written."""
    note = make_note(patient.id, dentist.id, "Texto original.")
    with pytest.raises(PermissionDenied, match="não podem ser alteradas"):
        with unit_of_work(PACIENTES):
            row = db.session.get(ClinicalNote, note.id)
            if change == "update":
                row.text = "Texto adulterado."
            else:
                db.session.delete(row)
    db.session.expire_all()
    assert db.session.get(ClinicalNote, note.id).text == "Texto original."


def test_notes_service_offers_no_update_or_delete(app):
    """The notes module exposes no function that edits or removes a note."""
    verbs = ("update", "delete", "edit", "remove", "set_")
    assert [name for name in vars(notes) if name.startswith(verbs)] == []


def test_notes_of_unknown_patient_is_not_found(app):
    """Listing the notes of a missing patient raises NotFound."""
    with pytest.raises(NotFound):
        notes.notes_of_patient(4242)


# --- issued documents ---------------------------------------------------------------------------------------


def test_issue_document_stores_content_exactly_as_given(patient, dentist):
    """The content keeps every space and line break; the timeline names the document and the dentist."""
    content = "  Amoxicilina 500 mg\n\n  Tomar 1 cápsula de 8/8 h por 7 dias.  \n"
    document = make_document(patient.id, dentist.id, "prescription", content)
    stored = db.session.get(IssuedDocument, document.id)
    assert (stored.content, stored.kind, stored.dentist_user_id) == (content, "prescription", dentist.id)
    assert timeline(patient.id)[-1] == f"Receita #{document.id} emitida por Dra. Ana Souza."


def test_certificate_timeline_agrees_in_gender(patient, dentist):
    """A certificate is 'emitido' (o atestado), a prescription 'emitida' (a receita)."""
    document = make_document(patient.id, dentist.id, "certificate", "Atesto para os devidos fins...")
    assert timeline(patient.id)[-1] == f"Atestado #{document.id} emitido por Dra. Ana Souza."


@once_on_sqlite
@pytest.mark.parametrize(
    "kind, content, fields",
    [
        ("invoice", "Conteúdo", {"kind"}),
        ("prescription", "   \n ", {"content"}),
        ("certificate", None, {"content"}),
        ("prescription", "x" * (documents.MAX_CONTENT + 1), {"content"}),
        ("", "", {"kind", "content"}),
    ],
)
def test_issue_document_validation(patient, dentist, kind, content, fields):
    """Unknown kind and blank or oversized content are field errors; nothing is stored."""
    with acting_as(dentist.id), pytest.raises(ValidationError) as excinfo:
        documents.issue_document(patient.id, kind, content)
    assert set(excinfo.value.errors) == fields
    assert row_count(IssuedDocument) == 0


def test_print_document_is_audited_each_time_and_shows_the_original(patient, dentist):
    """Every print, reprints included, is a `print_document` event by the actor; the content never changes."""
    content = "Repouso de 2 dias."
    document = make_document(patient.id, dentist.id, "certificate", content)
    receptionist = make_user()
    with acting_as(receptionist.id, "/documentos/1/imprimir", "10.0.0.9"):
        first = documents.print_document(document.id)
        again = documents.print_document(document.id)
    assert first.content == again.content == content
    events = audit_events("print_document", "issued_document")
    assert len(events) == 2
    assert {(e.row_id, e.patient_id, e.actor_user_id, e.request_path) for e in events} == {
        (document.id, patient.id, receptionist.id, "/documentos/1/imprimir")
    }
    assert timeline(patient.id)[-2:] == [f"Atestado #{document.id} impresso."] * 2


def test_issued_document_cannot_be_edited_and_reprints_show_the_original(patient, dentist):
    """An attempt to change a stored document is refused, so a reprint shows what was issued."""
    document = make_document(patient.id, dentist.id, content="Ibuprofeno 400 mg")
    with pytest.raises(PermissionDenied, match="não podem ser alterados"):
        with unit_of_work(PACIENTES):
            db.session.get(IssuedDocument, document.id).content = "Outra coisa"
    assert documents.print_document(document.id).content == "Ibuprofeno 400 mg"


def test_printing_an_unknown_document_is_not_found_and_not_audited(app):
    """A missing document raises NotFound and leaves no print event."""
    with pytest.raises(NotFound, match="Documento #55"):
        documents.print_document(55)
    assert audit_events("print_document", "issued_document") == []


def test_documents_of_patient_newest_first(patient, dentist):
    """A patient's documents are listed newest first, other patients' documents excluded."""
    first = make_document(patient.id, dentist.id)
    second = make_document(patient.id, dentist.id, "certificate", "Atestado")
    make_document(make_patient().id, dentist.id)
    assert [d.id for d in documents.documents_of_patient(patient.id)] == [second.id, first.id]
    with pytest.raises(NotFound):
        documents.documents_of_patient(31337)


# --- odontogram ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tooth", [11, 18, 21, 28, 31, 38, 41, 48, 51, 55, 61, 65, 71, 75, 81, 85, "36", " 72 "])
def test_fdi_teeth_are_accepted(tooth):
    """Every FDI permanent and deciduous tooth number is valid (also as text from a form)."""
    assert odontogram.parse_tooth(tooth) == int(str(tooth))


@pytest.mark.parametrize(
    "tooth", [0, 9, 10, 19, 20, 29, 39, 49, 50, 56, 66, 76, 86, 90, 111, -11, "1a", "", None, True, 11.5]
)
def test_non_fdi_teeth_are_refused(tooth):
    """Numbers outside FDI notation (and non-numbers) are a tooth field error."""
    with pytest.raises(ValidationError) as excinfo:
        odontogram.parse_tooth(tooth)
    assert set(excinfo.value.errors) == {"tooth"}


def test_valid_teeth_count():
    """32 permanent and 20 deciduous teeth."""
    assert (len(odontogram.PERMANENT_TEETH), len(odontogram.DECIDUOUS_TEETH)) == (32, 20)


@pytest.mark.parametrize(
    "surfaces, expected", [("mo", "MO"), ("lo", "OL"), (" m o d ", "MOD"), ("LVDOM", "MODVL"), ("", None), (None, None)]
)
def test_surfaces_are_normalised(surfaces, expected):
    """Surface letters are upper-cased, de-spaced and put in MODVL order; empty means none."""
    assert odontogram.parse_surfaces(surfaces) == expected


@pytest.mark.parametrize("surfaces", ["X", "MOX", "MM", "I", "1"])
def test_invalid_surfaces_are_refused(surfaces):
    """Letters outside MODVL, or repeated, are a surfaces field error."""
    with pytest.raises(ValidationError) as excinfo:
        odontogram.parse_surfaces(surfaces)
    assert set(excinfo.value.errors) == {"surfaces"}


def test_record_finding_stores_it_with_timeline(patient, dentist):
    """A finding keeps tooth, canonical surfaces, notes and the dentist; the timeline describes it."""
    with acting_as(dentist.id):
        row = odontogram.record_finding(patient.id, "16", "caries", surfaces="om", notes=" Profunda ")
    stored = db.session.get(ToothFinding, row.id)
    assert (stored.tooth, stored.finding, stored.surfaces, stored.notes, stored.recorded_by_user_id) == (
        16,
        "caries",
        "MO",
        "Profunda",
        dentist.id,
    )
    assert timeline(patient.id)[-1] == "Odontograma: dente 16: cárie (faces M, O)."
    assert len(audit_events("create", "tooth_finding")) == 1


@once_on_sqlite
@pytest.mark.parametrize(
    "tooth, finding, surfaces, notes_text, fields",
    [
        (19, "caries", None, None, {"tooth"}),
        (16, "fracture", None, None, {"finding"}),
        (16, "caries", "XZ", None, {"surfaces"}),
        (16, "missing", "O", None, {"surfaces"}),
        (16, "crown", "MODVL", None, {"surfaces"}),
        (16, "caries", None, "n" * 501, {"notes"}),
        (99, "nope", "Q", None, {"tooth", "finding", "surfaces"}),
    ],
)
def test_record_finding_validation(patient, dentist, tooth, finding, surfaces, notes_text, fields):
    """Bad tooth, unknown finding, bad surfaces (or surfaces on a whole-tooth finding), long notes are refused."""
    with acting_as(dentist.id), pytest.raises(ValidationError) as excinfo:
        odontogram.record_finding(patient.id, tooth, finding, surfaces=surfaces, notes=notes_text)
    assert set(excinfo.value.errors) == fields
    assert row_count(ToothFinding) == 0


def test_current_chart_is_the_latest_finding_per_tooth_in_one_query(patient, dentist):
    """The chart holds each tooth's most recent finding (by time, not id), for this patient only, in one SELECT."""
    base = datetime(2026, 1, 10, 14, tzinfo=UTC)
    finding_at(patient.id, 16, "caries", base, dentist.id)
    finding_at(patient.id, 16, "restoration", base + timedelta(days=30), dentist.id)
    finding_at(patient.id, 21, "extraction_indicated", base + timedelta(days=5), dentist.id)
    finding_at(patient.id, 21, "missing", base + timedelta(days=40), dentist.id)
    finding_at(patient.id, 21, "caries", base - timedelta(days=300), dentist.id)  # inserted last, but oldest
    finding_at(make_patient().id, 16, "crown", base + timedelta(days=90), dentist.id)
    db.session.rollback()
    with count_queries(selects_only=True) as selects:
        chart = odontogram.current_chart(patient.id)
        summary = {tooth: row.finding for tooth, row in chart.items()}
    assert len(selects) == 1
    assert summary == {16: "restoration", 21: "missing"}


def test_current_chart_of_a_patient_without_findings_is_empty(patient):
    """No findings, empty chart."""
    assert odontogram.current_chart(patient.id) == {}


def test_finding_history_keeps_every_finding(patient, dentist):
    """The history lists all findings newest first, optionally for one tooth; a bad tooth filter is refused."""
    base = datetime(2026, 1, 10, 14, tzinfo=UTC)
    old = finding_at(patient.id, 16, "caries", base, dentist.id)
    new = finding_at(patient.id, 16, "restoration", base + timedelta(days=30), dentist.id)
    other = finding_at(patient.id, 46, "sealant", base + timedelta(days=1), dentist.id)
    assert [f.id for f in odontogram.finding_history(patient.id)] == [new.id, other.id, old.id]
    assert [f.id for f in odontogram.finding_history(patient.id, tooth="16")] == [new.id, old.id]
    with pytest.raises(ValidationError):
        odontogram.finding_history(patient.id, tooth=99)
    with pytest.raises(NotFound):
        odontogram.finding_history(8080)


# --- recalls ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("due", [date(2026, 4, 10), "2026-04-10"])
def test_create_recall_accepts_date_or_iso_text(patient, due):
    """A recall stores its date, reason, creator and an open status; the timeline announces it."""
    receptionist = make_user()
    recall = make_recall(patient.id, due, " Limpeza semestral ", actor_id=receptionist.id)
    stored = db.session.get(Recall, recall.id)
    assert (stored.due_date, stored.reason, stored.status, stored.created_by_user_id) == (
        date(2026, 4, 10),
        "Limpeza semestral",
        "open",
        receptionist.id,
    )
    assert timeline(patient.id)[-1] == "Retorno previsto para 10/04/2026: Limpeza semestral."


def test_create_recall_without_an_actor_is_a_system_recall(patient):
    """System jobs (no acting user) may create recalls; no creator is stored."""
    recall = make_recall(patient.id)
    assert db.session.get(Recall, recall.id).created_by_user_id is None


@once_on_sqlite
@pytest.mark.parametrize(
    "due, reason, field",
    [
        ("10/04/2026", "Limpeza", "due_date"),
        ("", "Limpeza", "due_date"),
        (None, "Limpeza", "due_date"),
        (date(2026, 4, 10), "  ", "reason"),
        (date(2026, 4, 10), "r" * 201, "reason"),
    ],
)
def test_create_recall_validation(patient, due, reason, field):
    """Bad dates and blank or long reasons are field errors; nothing is stored."""
    with pytest.raises(ValidationError) as excinfo:
        recalls.create_recall(patient.id, due, reason)
    assert set(excinfo.value.errors) == {field}
    assert row_count(Recall) == 0


@once_on_sqlite
@pytest.mark.parametrize(
    "outcome, status",
    [
        ("no_answer", "open"),
        ("left_message", "open"),
        ("call_back_later", "open"),
        ("wrong_number", "open"),
        ("scheduled", "done"),
        ("declined", "done"),
    ],
)
def test_record_attempt_closes_the_recall_only_when_settled(patient, outcome, status):
    """Each attempt is stored with its author; 'scheduled' or 'declined' closes the recall, others keep it open."""
    recall = make_recall(patient.id)
    receptionist = make_user()
    with acting_as(receptionist.id):
        attempt = recalls.record_attempt(recall.id, outcome, notes=" ligar à tarde ")
    db.session.expire_all()
    stored = db.session.get(Recall, recall.id)
    assert stored.status == status
    assert [(a.id, a.outcome, a.notes, a.by_user_id) for a in stored.attempts] == [
        (attempt.id, outcome, "ligar à tarde", receptionist.id)
    ]
    assert timeline(patient.id)[-1] == f"Contato de retorno: {RecallOutcome(outcome).label}."


def test_attempts_on_a_closed_or_cancelled_recall_are_refused(patient):
    """Once done or cancelled, a recall takes no more attempts and cannot be cancelled again."""
    receptionist = make_user()
    done, cancelled = make_recall(patient.id), make_recall(patient.id)
    with acting_as(receptionist.id):
        recalls.record_attempt(done.id, "scheduled")
        recalls.cancel_recall(cancelled.id)
        for recall_id in (done.id, cancelled.id):
            with pytest.raises(ConflictError, match="já foi encerrado"):
                recalls.record_attempt(recall_id, "no_answer")
            with pytest.raises(ConflictError):
                recalls.cancel_recall(recall_id)
    assert db.session.get(Recall, cancelled.id).status == "cancelled"
    assert timeline(patient.id)[-1] == "Retorno de 10/04/2026 cancelado."


@pytest.mark.parametrize("action", ["attempt", "cancel"])
def test_recall_changes_decide_on_the_stored_recall(patient, action):
    """A recall closed behind the session's back is seen as closed (locks.get_for_update), not as still open."""
    recall = make_recall(patient.id)
    change_behind_the_session(recall, status="done")
    with acting_as(make_user().id), pytest.raises(ConflictError, match="já foi encerrado"):
        if action == "attempt":
            recalls.record_attempt(recall.id, "no_answer")
        else:
            recalls.cancel_recall(recall.id)


def test_record_attempt_validation_and_unknown_recall(patient):
    """An unknown outcome or over-long notes are field errors; an unknown recall is NotFound."""
    recall = make_recall(patient.id)
    receptionist = make_user()
    with acting_as(receptionist.id):
        with pytest.raises(ValidationError) as excinfo:
            recalls.record_attempt(recall.id, "busy")
        assert set(excinfo.value.errors) == {"outcome"}
        with pytest.raises(ValidationError) as excinfo:
            recalls.record_attempt(recall.id, "no_answer", notes="n" * 501)
        assert set(excinfo.value.errors) == {"notes"}
        with pytest.raises(NotFound, match="Retorno #999"):
            recalls.record_attempt(999, "no_answer")
        with pytest.raises(NotFound):
            recalls.cancel_recall(999)


def test_recalls_due_lists_the_month_with_patients_and_attempts_preloaded(app):
    """Open recalls of active patients due in the month, by date; no query per row for patient or attempts."""
    receptionist = make_user()
    ana, bruno, carla = (make_patient(full_name=n) for n in ("Ana Lima", "Bruno Reis", "Carla Dias"))
    gone = make_patient(full_name="Diego Saiu")
    last_day = make_recall(bruno.id, date(2026, 4, 30))
    first_day = make_recall(carla.id, date(2026, 4, 1))
    same_day = make_recall(ana.id, date(2026, 4, 30))
    make_recall(ana.id, date(2026, 3, 31))
    make_recall(ana.id, date(2026, 5, 1))
    done, cancelled = make_recall(bruno.id, date(2026, 4, 15)), make_recall(carla.id, date(2026, 4, 16))
    make_recall(gone.id, date(2026, 4, 20))
    patients.deactivate_patient(gone.id, "mudou-se")
    with acting_as(receptionist.id):
        recalls.record_attempt(done.id, "declined")
        recalls.cancel_recall(cancelled.id)
        recalls.record_attempt(first_day.id, "no_answer")
        recalls.record_attempt(first_day.id, "wrong_number")
    db.session.rollback()
    with count_queries(selects_only=True) as selects:
        due = recalls.recalls_due(date(2026, 4, 1))
        lines = [(d.recall.id, d.patient.full_name, [a.outcome for a in d.recall.attempts]) for d in due]
    assert lines == [
        (first_day.id, "Carla Dias", ["no_answer", "wrong_number"]),
        (same_day.id, "Ana Lima", []),
        (last_day.id, "Bruno Reis", []),
    ]
    assert len(selects) == 2  # recalls with patients, then every attempt at once


@pytest.mark.parametrize("month", [date(2026, 12, 1), date(2026, 12, 17)])
def test_recalls_due_crosses_the_year_and_accepts_any_day_of_the_month(patient, month):
    """December's list ends before January; any day of the month selects the whole month."""
    december = make_recall(patient.id, date(2026, 12, 31))
    make_recall(patient.id, date(2027, 1, 1))
    assert [d.recall.id for d in recalls.recalls_due(month)] == [december.id]


# --- cross-bind references: the acting user ---------------------------------------------------------------


@dataclass
class Context:
    """What every cross-bind case needs: a patient, the dentist who wrote a note, and an open recall."""

    patient: Patient
    author: object
    note: ClinicalNote
    recall: Recall


@pytest.fixture
def ctx(patient, dentist):
    """A patient with a note by `dentist` and an open recall."""
    return Context(patient, dentist, make_note(patient.id, dentist.id), make_recall(patient.id))


# name: (role the actor needs, actor optional, call)
CROSS_BIND_CALLS = {
    "update_anamnesis": (
        None,
        False,
        lambda c: anamnesis.update_anamnesis(c.patient.id, "Nenhuma", None, None, None, True),
    ),
    "add_note": ("dentist", False, lambda c: notes.add_note(c.patient.id, "Retorno em 15 dias.")),
    "correct_note": ("dentist", False, lambda c: notes.correct_note(c.note.id, "Texto corrigido.")),
    "issue_document": (
        "dentist",
        False,
        lambda c: documents.issue_document(c.patient.id, "prescription", "Paracetamol 750 mg"),
    ),
    "record_finding": ("dentist", False, lambda c: odontogram.record_finding(c.patient.id, 36, "caries", "O")),
    "create_recall": (None, True, lambda c: recalls.create_recall(c.patient.id, date(2026, 9, 1), "Revisão")),
    "record_attempt": (None, False, lambda c: recalls.record_attempt(c.recall.id, "no_answer")),
    "cancel_recall": (None, True, lambda c: recalls.cancel_recall(c.recall.id)),
}
BAD_ACTORS = ("missing", "inactive", "wrong_role", "nobody")


def _bad_actor_cases():
    """(call, bad actor) pairs that apply: wrong role only where a role is needed, nobody only where required."""
    for name, (role, optional, _) in CROSS_BIND_CALLS.items():
        for bad in BAD_ACTORS:
            if (bad == "wrong_role" and role is None) or (bad == "nobody" and optional):
                continue
            yield pytest.param(name, bad, id=f"{name}-{bad}")


def _bad_actor_id(bad: str, role: str | None) -> int | None:
    """The user id for one kind of bad actor."""
    if bad == "missing":
        return 987654
    if bad == "inactive":
        return deactivated_user(role or "receptionist").id
    if bad == "wrong_role":
        return make_user("receptionist").id
    return None


@once_on_sqlite
@pytest.mark.parametrize("name, bad", list(_bad_actor_cases()))
def test_bad_actor_is_refused_with_related_entity_not_found(ctx, name, bad):
    """A missing, inactive or wrong-role acting user is refused, naming the users bind; nothing is written."""
    role, _, call = CROSS_BIND_CALLS[name]
    actor_id = _bad_actor_id(bad, role)
    before = timeline(ctx.patient.id)
    with acting_as(actor_id), pytest.raises(RelatedEntityNotFound) as excinfo:
        call(ctx)
    assert excinfo.value.bind == "users" and excinfo.value.entity_id == actor_id
    assert timeline(ctx.patient.id) == before


def _good_actor_cases():
    """(call, role) pairs that must succeed: dentists everywhere, any active role where no role is needed."""
    for name, (role, _, _) in CROSS_BIND_CALLS.items():
        for good in ("dentist",) if role else ("receptionist", "admin", "dentist"):
            yield pytest.param(name, good, id=f"{name}-{good}")


@pytest.mark.parametrize("name, good", list(_good_actor_cases()))
def test_valid_actor_succeeds_and_writes_a_timeline_line(ctx, name, good):
    """With an active user of the right role the same call succeeds and adds exactly one timeline line."""
    _, _, call = CROSS_BIND_CALLS[name]
    actor = ctx.author if good == "dentist" else make_user(good)
    before = timeline(ctx.patient.id)
    with acting_as(actor.id):
        assert call(ctx) is not None
    assert len(timeline(ctx.patient.id)) == len(before) + 1


# --- cross-table references: the patient --------------------------------------------------------------------

PATIENT_CALLS = {
    "update_anamnesis": lambda pid: anamnesis.update_anamnesis(pid, None, None, None, None, True),
    "add_note": lambda pid: notes.add_note(pid, "Nota."),
    "issue_document": lambda pid: documents.issue_document(pid, "certificate", "Atestado."),
    "record_finding": lambda pid: odontogram.record_finding(pid, 11, "missing"),
    "create_recall": lambda pid: recalls.create_recall(pid, date(2026, 9, 1), "Revisão"),
}


@once_on_sqlite
@pytest.mark.parametrize("name", PATIENT_CALLS)
@pytest.mark.parametrize("state", ["missing", "inactive"])
def test_missing_or_inactive_patient_is_refused(app, dentist, name, state):
    """Clinical writes need an existing, active patient; the error names the patient and nothing is stored."""
    patient_id = 5555
    if state == "inactive":
        patient_id = make_patient().id
        patients.deactivate_patient(patient_id, "mudou-se")
    with acting_as(dentist.id), pytest.raises(RelatedEntityNotFound) as excinfo:
        PATIENT_CALLS[name](patient_id)
    assert (excinfo.value.entity, excinfo.value.entity_id, excinfo.value.bind) == ("Paciente", patient_id, "pacientes")
    assert sum(row_count(m) for m in (ClinicalNote, IssuedDocument, ToothFinding, Recall)) == 0
