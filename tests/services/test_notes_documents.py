"""What a note is about, structured documents and their prints: the rules of app/services/notes.py and
documents.py behind the clinical tabs."""

import json
from datetime import timedelta

import pytest

from app.db import PACIENTES
from app.db.actor import acting_as
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import ClinicalNoteLink, DocumentPrint, IssuedDocument
from app.services import agenda, documents, notes
from app.services.clock import clinic_day
from app.services.errors import PermissionDenied, ValidationError
from tests.factories import make_patient, make_user
from tests.factories_finance import make_plan, place_appointment, slot, started_slot
from tests.support import once_on_sqlite


@pytest.fixture
def dentist(app):
    return make_user("dentist", full_name="Dra. Ana Souza")


@pytest.fixture
def patient(app):
    return make_patient(full_name="João da Conceição")


def test_note_link_is_stored_with_the_note_and_inherited_by_its_correction(patient, dentist):
    """A note about today's appointment keeps that link; its correction is about the same appointment."""
    with acting_as(dentist.id):
        appointment = place_appointment(patient, dentist, started_slot())
        note = notes.add_note(patient.id, "Dor no 36.", appointment_id=appointment.id)
        correction = notes.correct_note(note.id, "Dor no 37.")
    links = {link.note_id: link.appointment_id for link in db.session.query(ClinicalNoteLink)}
    assert links == {note.id: appointment.id, correction.id: appointment.id}
    summaries = notes.link_summaries([note.id, correction.id])
    assert summaries[note.id] == summaries[correction.id] and summaries[note.id][0].startswith("Consulta de")


def test_links_to_other_days_cancelled_appointments_and_proposed_items_are_refused(patient, dentist):
    """Only today's live appointments of the patient and items of approved plans may be linked; nothing stored."""
    with acting_as(dentist.id):
        tomorrow = agenda.book_appointment(patient.id, dentist.id, *slot(1))
        cancelled = place_appointment(patient, dentist, started_slot())
        agenda.cancel_appointment(cancelled.id, "Desmarcou")
        proposed = make_plan(patient, dentist)
        approved = make_plan(patient, dentist, approve=True)
        for appointment_id in (tomorrow.id, cancelled.id, 987_654):
            with pytest.raises(ValidationError) as refused:
                notes.add_note(patient.id, "Nota.", appointment_id=appointment_id)
            assert set(refused.value.errors) == {"appointment_id"}
        with pytest.raises(ValidationError) as refused:
            notes.add_note(patient.id, "Nota.", treatment_item_id=proposed.items[0].id)
        assert set(refused.value.errors) == {"treatment_item_id"}
        assert notes.notes_of_patient(patient.id) == []
        notes.add_note(patient.id, "Nota.", treatment_item_id=approved.items[0].id)
    choices = notes.link_choices(patient.id)
    assert (choices.appointments, [i.id for i in choices.items]) == ([], [approved.items[0].id])


def test_each_print_is_a_row_by_the_actor_and_listed_in_bulk(patient, dentist):
    """print_document writes a document_print row per print, by the acting user; prints_of groups them."""
    with acting_as(dentist.id):
        first = documents.issue_prescription(patient.id, [{"name": "Amoxicilina"}])
        second = documents.issue_exam_request(patient.id, ["Radiografia panorâmica"])
        documents.print_document(first.id)
        documents.print_document(first.id)
    prints = documents.prints_of([first.id, second.id])
    assert [p.by_user_id for p in prints[first.id]] == [dentist.id, dentist.id] and prints[second.id] == []


@pytest.mark.parametrize("model", [DocumentPrint, ClinicalNoteLink])
def test_prints_and_note_links_cannot_be_changed(patient, dentist, model):
    """Prints and note links are append-only like the rows they belong to."""
    with acting_as(dentist.id):
        appointment = place_appointment(patient, dentist, started_slot())
        notes.add_note(patient.id, "Nota.", appointment_id=appointment.id)
        documents.print_document(documents.issue_exam_request(patient.id, ["RX"]).id)
    with pytest.raises(PermissionDenied), unit_of_work(PACIENTES):
        db.session.delete(db.session.query(model).one())


@once_on_sqlite
@pytest.mark.parametrize(
    "typed, stored", [("k081", "K08.1"), (" K08.1 ", "K08.1"), ("K08", "K08"), ("", None), (None, None)]
)
def test_cid_codes_are_read_in_any_common_spelling(typed, stored):
    """CID-10 codes are upper-cased, their dot put back; blank means none."""
    assert documents.parse_cid(typed) == stored


@once_on_sqlite
@pytest.mark.parametrize("typed", ["XYZ", "K0", "08.1", "K08.123", "K08-1"])
def test_malformed_cid_codes_are_refused(typed):
    """Anything but a letter, two digits and an optional sub-code is refused on the cid field."""
    with pytest.raises(ValidationError) as refused:
        documents.parse_cid(typed)
    assert set(refused.value.errors) == {"cid"}


def test_certificate_stores_consent_with_the_code_and_reads_back(patient, dentist):
    """The code is stored only with consent, the consent with it; content_of and summary_of read it back."""
    with acting_as(dentist.id):
        with pytest.raises(ValidationError) as refused:
            documents.issue_certificate(patient.id, clinic_day(), days=1, cid="K08.1")
        assert set(refused.value.errors) == {"cid"}
        certificate = documents.issue_certificate(
            patient.id, clinic_day() - timedelta(days=1), start="14:00", end="15:30", cid="K08.1", cid_consent=True
        )
    content = documents.content_of(certificate)
    assert (content.fields["cid"], content.fields["cid_consent"], content.fields["days"]) == ("K08.1", True, None)
    assert documents.summary_of(certificate).startswith("Comparecimento em ")
    assert db.session.query(IssuedDocument).count() == 1


def test_free_text_documents_read_back_as_text(patient, dentist):
    """A document issued as free text (issue_document) is shown as its text, even if it looks like JSON."""
    with acting_as(dentist.id):
        plain = documents.issue_document(patient.id, "prescription", "Amoxicilina 500 mg\nde 8/8 h")
        lookalike = documents.issue_document(patient.id, "certificate", json.dumps({"days": 3}))
    assert documents.content_of(plain).text == "Amoxicilina 500 mg\nde 8/8 h"
    assert documents.content_of(lookalike).fields is None
    assert documents.summary_of(plain) == "Amoxicilina 500 mg de 8/8 h"


@once_on_sqlite
def test_structured_fields_refuse_control_characters_on_their_row(patient, dentist):
    """A control character in a medication's dose is reported on that row's field."""
    with acting_as(dentist.id), pytest.raises(ValidationError) as refused:
        documents.issue_prescription(patient.id, [{"name": "A"}, {"name": "B", "dose": "1\x00g"}])
    assert set(refused.value.errors) == {"medications-1-dose"}


def test_certificate_date_must_not_be_in_the_future(patient, dentist):
    """A certificate for tomorrow is refused on its date."""
    with acting_as(dentist.id), pytest.raises(ValidationError) as refused:
        documents.issue_certificate(patient.id, clinic_day() + timedelta(days=1), days=1)
    assert set(refused.value.errors) == {"day"}
