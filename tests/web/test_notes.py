"""Clinical notes through the web: dentists only, notes tied to today's appointment or a plan item, corrections
by the author only (both notes stay visible), constant query count."""

import html

import pytest
from sqlalchemy import func, select

from app.db.actor import acting_as
from app.extensions import db
from app.models.pacientes import ClinicalNote, ClinicalNoteLink
from app.services import notes
from tests.factories import make_patient, make_user
from tests.factories_finance import make_plan, place_appointment, started_slot
from tests.support import count_queries, login, login_as, post_form


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _note_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(ClinicalNote))


@pytest.fixture
def dentist(client):
    """A client logged in as a dentist; the dentist's account."""
    return login_as(client, "dentist", full_name="Dra. Ana Souza")


@pytest.fixture
def patient(app):
    return make_patient(full_name="Carlos Lima")


def _write(dentist_id: int, patient_id: int, text: str) -> ClinicalNote:
    with acting_as(dentist_id):
        return notes.add_note(patient_id, text)


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/patients/{p}/notes"),
        ("GET", "/patients/{p}/notes/new"),
        ("POST", "/patients/{p}/notes/new"),
        ("GET", "/patients/{p}/notes/{n}/correct"),
        ("POST", "/patients/{p}/notes/{n}/correct"),
    ],
)
def test_receptionist_is_refused_every_notes_route(client, patient, method, path):
    """The front desk gets 403 on reading, writing and correcting notes, and nothing is stored."""
    note = _write(make_user("dentist").id, patient.id, "Dor no 36.")
    login_as(client, "receptionist")
    url = path.format(p=patient.id, n=note.id)
    if method == "GET":
        response = client.get(url)
    else:
        response = post_form(client, url, {"text": "Outra coisa"})
    assert response.status_code == 403
    assert "Dor no 36" not in _text(response)
    assert _note_count() == 1


def test_dentist_writes_a_note_and_sees_it_newest_first(client, dentist, patient):
    """The form on the tab stores the note with its author; the list shows the newest first."""
    _write(dentist.id, patient.id, "Primeira consulta.")
    page = _text(client.get(f"/patients/{patient.id}/notes"))
    assert "Nova nota clínica" in page
    response = post_form(client, f"/patients/{patient.id}/notes/new", {"text": "Dor ao mastigar no 36."})
    assert response.status_code == 302
    page = _text(client.get(f"/patients/{patient.id}/notes"))
    assert page.index("Dor ao mastigar no 36.") < page.index("Primeira consulta.")
    assert "Dra. Ana Souza" in page


def test_blank_note_is_a_form_error(client, dentist, patient):
    """An empty text is shown beside the field, nothing stored."""
    response = post_form(client, f"/patients/{patient.id}/notes/new", {"text": "   "})
    assert response.status_code == 200
    assert "Escreva o texto da nota." in _text(response)
    assert _note_count() == 0


def test_note_tied_to_todays_appointment_and_an_approved_plan_item(client, dentist, patient):
    """Today's appointment and an approved plan's item are offered and stored as the note's link."""
    with acting_as(dentist.id):
        appointment = place_appointment(patient, dentist, started_slot())
        plan = make_plan(patient, dentist, approve=True)
    item = plan.items[0]
    page = _text(client.get(f"/patients/{patient.id}/notes"))
    assert f'value="{appointment.id}"' in page and f'value="{item.id}"' in page
    response = post_form(
        client,
        f"/patients/{patient.id}/notes/new",
        {"text": "Restauração concluída.", "appointment_id": str(appointment.id), "treatment_item_id": str(item.id)},
    )
    assert response.status_code == 302
    db.session.rollback()
    link = db.session.scalars(select(ClinicalNoteLink)).one()
    assert (link.appointment_id, link.treatment_item_id) == (appointment.id, item.id)
    page = _text(client.get(f"/patients/{patient.id}/notes"))
    assert "Sobre: Consulta de" in page and "Restauração em resina" in page


def test_link_to_another_patients_appointment_or_a_proposed_item_is_refused(client, dentist, patient):
    """An appointment of someone else and an item of a plan not yet approved are form errors; nothing stored."""
    other = make_patient()
    with acting_as(dentist.id):
        foreign = place_appointment(other, dentist, started_slot())
        proposed = make_plan(patient, dentist)
    response = post_form(
        client,
        f"/patients/{patient.id}/notes/new",
        {"text": "Nota.", "appointment_id": str(foreign.id), "treatment_item_id": str(proposed.items[0].id)},
    )
    page = _text(response)
    assert response.status_code == 200
    assert "Escolha uma consulta de hoje deste paciente." in page
    assert "Escolha um item de um plano aprovado deste paciente." in page
    assert _note_count() == 0


def test_author_corrects_a_note_and_both_stay_visible(client, dentist, patient):
    """The correction is a new note; the old one stays, marked as corrected by whom; only the new one offers
    'Corrigir'."""
    original = _write(dentist.id, patient.id, "Cárie no 26.")
    page = _text(client.get(f"/patients/{patient.id}/notes/{original.id}/correct"))
    assert "Cárie no 26." in page and "Registrar correção" in page
    response = post_form(
        client, f"/patients/{patient.id}/notes/{original.id}/correct", {"text": "Cárie no 27, não no 26."}
    )
    assert response.status_code == 302
    page = _text(client.get(f"/patients/{patient.id}/notes"))
    assert "Cárie no 26." in page and "Cárie no 27, não no 26." in page
    assert "Corrigida em" in page and "por Dra. Ana Souza" in page
    assert f"Correção da nota #{original.id}" in page
    assert page.count(">Corrigir</a>") == 1
    assert db.session.get(ClinicalNote, original.id).text == "Cárie no 26."


def test_correction_by_another_dentist_is_refused(client, patient):
    """Only the author corrects: another dentist is refused with a 403 and the service's message."""
    author = make_user("dentist")
    original = _write(author.id, patient.id, "Cárie no 26.")
    login_as(client, "dentist")
    page = _text(client.get(f"/patients/{patient.id}/notes"))
    assert "Cárie no 26." in page and ">Corrigir</a>" not in page
    response = post_form(client, f"/patients/{patient.id}/notes/{original.id}/correct", {"text": "Outra coisa."})
    assert response.status_code == 403
    assert "Só quem escreveu a nota pode corrigi-la." in _text(response)
    assert _note_count() == 1


def test_note_of_another_patient_is_not_found_under_this_record(client, dentist, patient):
    """A note id under the wrong patient's path is a 404."""
    note = _write(dentist.id, make_patient().id, "Outro paciente.")
    assert client.get(f"/patients/{patient.id}/notes/{note.id}/correct").status_code == 404


def test_administrator_reads_notes_but_is_told_dentists_write_them(client, patient):
    """The administrator sees the notes (CLINICAL) without a form; posting one is refused by the service."""
    _write(make_user("dentist").id, patient.id, "Dor no 36.")
    login_as(client, "admin")
    page = _text(client.get(f"/patients/{patient.id}/notes"))
    assert "Dor no 36." in page and "Notas clínicas são escritas pelos dentistas." in page
    response = post_form(client, f"/patients/{patient.id}/notes/new", {"text": "Nota do administrador."})
    assert response.status_code == 200 and "papel de dentista" in _text(response)
    assert _note_count() == 1


def _notes_tab_queries(client, patient_id: int) -> int:
    with count_queries() as statements:
        response = client.get(f"/patients/{patient_id}/notes")
    assert response.status_code == 200
    return len(statements)


def test_notes_tab_query_count_does_not_grow_with_notes(client, dentist, patient):
    """5 and 50 notes (with corrections, links and several authors) cost the same number of SQL statements."""
    other = make_user("dentist")
    with acting_as(dentist.id):
        appointment = place_appointment(patient, dentist, started_slot())

    def grow(until: int):
        while len(notes.notes_of_patient(patient.id)) < until:
            n = len(notes.notes_of_patient(patient.id))
            author = dentist if n % 2 else other
            with acting_as(author.id):
                note = notes.add_note(patient.id, f"Nota {n}", appointment_id=appointment.id if n % 3 else None)
                if n % 5 == 0:
                    notes.correct_note(note.id, f"Nota {n} corrigida")

    grow(5)
    _notes_tab_queries(client, patient.id)  # the first opening of the record is audited: not what is measured
    few = _notes_tab_queries(client, patient.id)
    grow(50)
    assert _notes_tab_queries(client, patient.id) == few


def test_logged_in_dentist_can_write_after_login_redirect(client, patient):
    """A dentist sent to the login page from the notes tab comes back to it."""
    user = make_user("dentist")
    response = client.get(f"/patients/{patient.id}/notes")
    assert response.status_code == 302
    assert login(client, user.username, next_path=f"/patients/{patient.id}/notes").location.endswith("/notes")
