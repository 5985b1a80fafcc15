"""Patients through the web: register, validation beside fields, search, edit, deactivate, record tabs, anamnesis."""

import html
import re
from datetime import timedelta

import pytest

from app.db import PACIENTES
from app.db.actor import acting_as
from app.db.types import utcnow
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import Anamnesis, Patient
from app.services import anamnesis, patients
from app.vocabulary import AnamnesisStatus
from tests.factories import cpf_from, make_patient, make_user
from tests.support import HTMX, audit_events, fresh, login_as, post_form

CPF = cpf_from("529982247")  # 529.982.247-25
TABS = ("anamnesis", "appointments", "plans", "notes", "documents", "timeline")
RESULTS = {**HTMX, "HX-Target": "patient-results"}
TAB_SWAP = {**HTMX, "HX-Target": "record-tabs"}


@pytest.fixture
def staff(client):
    """A client logged in as a dentist (a role that sees every tab)."""
    login_as(client, "dentist")
    return client


def _text(response) -> str:
    return response.get_data(as_text=True)


def _names_in_results(response) -> list[str]:
    """Patient names listed in a search result table, unescaped."""
    return [html.unescape(n) for n in re.findall(r'<a href="/patients/\d+">([^<]+)</a>', _text(response))]


def test_register_patient_redirects_to_the_record(app, staff):
    """A valid form creates the patient and opens the record with the pending-anamnesis warning."""
    response = post_form(
        staff,
        "/patients/new",
        {
            "full_name": "Carla Dias",
            "cpf": "529.982.247-25",
            "birth_date": "1985-03-09",
            "phone": "(11) 98888-7777",
            "state": "SP",
            "cep": "01310-100",
        },
    )
    assert response.status_code == 302
    page = staff.get(response.location)
    assert "Carla Dias" in _text(page) and "529.982.247-25" in _text(page) and "09/03/1985" in _text(page)
    assert 'id="anamnesis-warning"' in _text(page)


def test_invalid_patient_form_shows_errors_beside_fields_and_keeps_input(app, staff):
    """Each service error appears under its own field, and what was typed stays in the form."""
    response = post_form(
        staff,
        "/patients/new",
        {
            "full_name": "Carla Dias",
            "cpf": "111.222.333-44",
            "birth_date": "1985-02-30",
            "email": "carla@",
            "phone": "12",
        },
    )
    page = _text(response)
    assert response.status_code == 200
    for field, message in (
        ("cpf", "CPF inválido"),
        ("birth_date", "Data de nascimento inválida"),
        ("email", "E-mail inválido"),
        ("phone", "Telefone inválido"),
    ):
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field}"', page), field
        assert re.search(rf'<small id="{field}-help" class="field-error">{message}', page), field
    assert 'value="Carla Dias"' in page and 'value="111.222.333-44"' in page
    assert db.session.query(Patient).count() == 0


def test_oversized_field_is_a_form_error_not_a_crash(app, staff):
    """Input longer than the column is refused beside the field (no 500, no partial record)."""
    response = post_form(staff, "/patients/new", {"full_name": "Carla Dias", "city": "x" * 500})
    assert response.status_code == 200
    assert 'id="city-help" class="field-error"' in _text(response)


def test_duplicate_cpf_is_refused_beside_the_field(app, staff):
    """A CPF that already belongs to someone is explained next to the CPF field."""
    make_patient(cpf=CPF)
    response = post_form(staff, "/patients/new", {"full_name": "Outra Pessoa", "cpf": CPF})
    assert "Este CPF já pertence ao paciente" in _text(response)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("joao", "João da Silva"),
        ("JOÃO", "João da Silva"),
        ("CONCEICAO", "Maria da Conceição"),
        ("conce", "Maria da Conceição"),
        ("529.982.247-25", "Maria da Conceição"),
        ("52998224725", "Maria da Conceição"),
        ("98765-1111", "João da Silva"),
    ],
)
def test_search_is_accent_insensitive_and_finds_cpf_and_phone(app, staff, query, expected):
    """Name without accents or case, CPF with or without punctuation, and phone digits all find the patient."""
    make_patient(full_name="João da Silva", cpf=cpf_from("123456789"), phone="(11) 98765-1111")
    make_patient(full_name="Maria da Conceição", cpf=CPF, phone="(21) 3333-2222")
    make_patient(full_name="Pedro Alves", cpf=None, phone="(31) 4444-5555")
    assert _names_in_results(staff.get("/patients", query_string={"q": query})) == [expected]


def test_a_phone_is_stored_in_e164_and_shown_formatted(app, staff):
    """The phone typed with +55 is stored in E.164; the results and the record show it as (21) 3333-2222."""
    patient = make_patient(full_name="Rita Lopes", phone="+55 21 3333-2222")
    assert fresh(Patient, patient.id).phone == "+552133332222"
    results = staff.get("/patients", query_string={"q": "+55 21 3333"})
    assert _names_in_results(results) == ["Rita Lopes"] and "(21) 3333-2222" in _text(results)
    assert "(21) 3333-2222" in _text(staff.get(f"/patients/{patient.id}"))


def test_search_as_you_type_returns_only_the_results_fragment(app, staff):
    """The HTMX request of the search box gets the results table alone, not a whole page."""
    make_patient(full_name="João da Silva")
    response = staff.get("/patients?q=joao", headers=RESULTS)
    assert response.status_code == 200
    assert "<html" not in _text(response) and "João da Silva" in _text(response)
    assert "<html" in _text(staff.get("/patients?q=joao"))


def test_patient_list_is_paginated_and_keeps_the_query(app, staff):
    """Pages hold `per_page` rows, sorted by name, and the next-page link keeps the search term."""
    for n in range(12):
        make_patient(full_name=f"Ana Teste {n:02d}")
    first = staff.get("/patients?q=ana&per_page=10")
    assert _names_in_results(first) == [f"Ana Teste {n:02d}" for n in range(10)]
    assert "Página 1 de 2" in _text(first)
    assert re.search(r'href="/patients\?q=ana&amp;per_page=10&amp;page=2"', _text(first))
    second = staff.get("/patients?q=ana&per_page=10&page=2")
    assert _names_in_results(second) == ["Ana Teste 10", "Ana Teste 11"]


def test_edit_patient_keeps_data_and_records_timeline(app, staff):
    """Editing shows the current data, saves the change, and the timeline lists creation and update."""
    patient = make_patient(full_name="Carla Dias", phone="(11) 98888-7777")
    form = _text(staff.get(f"/patients/{patient.id}/edit"))
    assert 'value="Carla Dias"' in form and 'value="(11) 98888-7777"' in form
    response = post_form(
        staff,
        f"/patients/{patient.id}/edit",
        {"full_name": "Carla Dias Souza", "phone": "(11) 97777-6666", "cpf": patient.cpf},
    )
    assert response.status_code == 302
    assert fresh(Patient, patient.id).full_name == "Carla Dias Souza"
    timeline = _text(staff.get(f"/patients/{patient.id}/timeline"))
    updated = timeline.index("Cadastro atualizado: nome, telefone.")
    assert updated < timeline.index("Paciente cadastrado.")  # newest first


def test_deactivation_needs_a_reason_and_hides_the_patient(app, client):
    """Without a reason the form says so; with one the patient leaves the default search but stays findable."""
    staff = client
    login_as(staff, "receptionist")
    patient = make_patient(full_name="Carla Dias")
    response = post_form(staff, f"/patients/{patient.id}/deactivate", {"reason": "  "})
    assert "Informe o motivo da desativação." in _text(response)
    assert fresh(Patient, patient.id).is_active
    post_form(staff, f"/patients/{patient.id}/deactivate", {"reason": "Cadastro duplicado"})
    assert not fresh(Patient, patient.id).is_active
    assert _names_in_results(staff.get("/patients?q=carla")) == []
    assert _names_in_results(staff.get("/patients?q=carla&inactive=1")) == ["Carla Dias"]
    assert "Cadastro duplicado" in _text(staff.get(f"/patients/{patient.id}"))


@pytest.mark.parametrize("tab", TABS)
def test_every_tab_works_as_a_page_and_as_a_fragment(app, staff, tab):
    """A plain link renders the whole record with that tab; the HTMX tab switch renders the tabs alone."""
    patient = make_patient(full_name="Carla Dias")
    page = _text(staff.get(f"/patients/{patient.id}/{tab}"))
    assert "<html" in page and "Carla Dias" in page
    assert 'aria-selected="true"' in page and f'data-tab-panel="{tab}"' in page
    fragment = _text(staff.get(f"/patients/{patient.id}/{tab}", headers=TAB_SWAP))
    assert "<html" not in fragment and f'data-tab-panel="{tab}"' in fragment


def test_tab_switch_is_not_a_second_record_opening(app, staff):
    """Opening the record is audited once; switching tabs inside it with HTMX is not another opening."""
    patient = make_patient()
    staff.get(f"/patients/{patient.id}")
    for tab in TABS:
        staff.get(f"/patients/{patient.id}/{tab}", headers=TAB_SWAP)
    assert len(audit_events(action="view_record", patient_id=patient.id)) == 1


@pytest.mark.parametrize("tab", ("", *TABS))
def test_pending_anamnesis_warning_is_on_every_tab(app, staff, tab):
    """A new patient's anamnesis is pending: every tab of the record shows the warning."""
    patient = make_patient()
    path = f"/patients/{patient.id}" + (f"/{tab}" if tab else "")
    assert "Anamnese pendente" in _text(staff.get(path))


def test_completing_the_anamnesis_removes_the_warning(app, staff):
    """Filling in the anamnesis as complete saves it and the warning disappears; allergies are highlighted."""
    patient = make_patient()
    response = post_form(
        staff,
        f"/patients/{patient.id}/anamnesis/edit",
        {"allergies": "Penicilina", "medications": "", "conditions": "Hipertensão", "notes": "", "complete": "y"},
    )
    assert response.status_code == 302
    page = _text(staff.get(f"/patients/{patient.id}/anamnesis"))
    assert "Anamnese pendente" not in page and 'id="anamnesis-warning"' not in page
    assert "Penicilina" in page and "Hipertensão" in page and "Completa" in page


def test_anamnesis_older_than_six_months_warns_again(app, staff):
    """A complete anamnesis last reviewed seven months ago shows the out-of-date warning."""
    patient = make_patient()
    with unit_of_work(PACIENTES):
        anamnesis = db.session.query(Anamnesis).filter_by(patient_id=patient.id).one()
        anamnesis.status, anamnesis.updated_at = AnamnesisStatus.COMPLETE, utcnow() - timedelta(days=215)
    assert "Anamnese desatualizada" in _text(staff.get(f"/patients/{patient.id}/timeline"))


def test_anamnesis_edit_form_keeps_input_on_error(app, staff):
    """Text over the limit is refused beside its field and the other fields keep what was typed."""
    patient = make_patient()
    response = post_form(
        staff, f"/patients/{patient.id}/anamnesis/edit", {"allergies": "x" * 10_001, "conditions": "Diabetes"}
    )
    assert response.status_code == 200
    assert 'id="allergies-help" class="field-error"' in _text(response)
    assert "Diabetes" in _text(response)


def test_receptionist_does_not_see_clinical_tabs(app, client):
    """Clinical notes and documents are not in a receptionist's tab bar (and are 403 for them)."""
    login_as(client, "receptionist")
    patient = make_patient()
    page = _text(client.get(f"/patients/{patient.id}"))
    assert 'data-tab="timeline"' in page and 'data-tab="notes"' not in page and 'data-tab="documents"' not in page
    assert client.get(f"/patients/{patient.id}/notes").status_code == 403


def test_unknown_patient_is_a_friendly_404(app, staff):
    """A record id that does not exist is a Portuguese 404 page on every tab."""
    for path in ("/patients/999", "/patients/999/timeline", "/patients/999/edit", "/patients/999/notes"):
        response = staff.get(path)
        assert response.status_code == 404, path
        assert "não encontrado" in _text(response)


# --- input rules: control characters, numbers that do not parse, read-only deactivated records ------------

CONTROL_MESSAGE = "Contém caracteres de controle não permitidos."
READ_ONLY = "Paciente desativado: o cadastro é somente leitura até ser reativado."
EDIT_FORM = {"full_name": "Carla Dias", "cpf": CPF, "cep": "01310-100", "street": "Rua A", "notes": "Nenhuma."}


def _field_error(page: str, field: str) -> str | None:
    """The error message shown under one field, if any."""
    match = re.search(rf'<small id="{field}-help" class="field-error">([^<]*)</small>', page)
    return html.unescape(match.group(1)) if match else None


def _stored(patient_id: int) -> dict:
    """The patient's editable fields as stored."""
    row = fresh(Patient, patient_id)
    return {name: getattr(row, name) for name in ("full_name", "cpf", "cep", "street", "notes", "is_active")}


@pytest.mark.parametrize("field", ["full_name", "street", "notes"])
@pytest.mark.parametrize("value", ["Ana\x00Maria", "Ana\u202eairaM"], ids=["nul", "bidi"])
def test_control_characters_are_a_form_error_on_register_and_edit(app, staff, field, value):
    """The review's `Ana\\x00Maria` (and a bidi override) in name, street or notes: error beside it, no row changes."""
    patient = make_patient(**EDIT_FORM)
    before = _stored(patient.id)
    new = post_form(staff, "/patients/new", {**EDIT_FORM, "cpf": "", field: value})
    edit = post_form(staff, f"/patients/{patient.id}/edit", {**EDIT_FORM, field: value})
    for response in (new, edit):
        assert response.status_code == 200
        assert _field_error(_text(response), field) == CONTROL_MESSAGE
    assert "Cadastro atualizado" not in _text(edit)
    assert db.session.query(Patient).count() == 1
    assert _stored(patient.id) == before


def test_notes_typed_on_several_lines_are_saved(app, staff):
    """A textarea sends CR LF: multi-line notes are accepted and stored with LF."""
    patient = make_patient(**EDIT_FORM)
    response = post_form(staff, f"/patients/{patient.id}/edit", {**EDIT_FORM, "notes": "Manhãs.\r\nVem de ônibus."})
    assert response.status_code == 302
    assert _stored(patient.id)["notes"] == "Manhãs.\nVem de ônibus."


@pytest.mark.parametrize(
    "field, typed, message",
    [
        ("cpf", "não sei", "CPF inválido: use apenas números, pontos e hífen."),
        ("cep", "sem cep", "CEP inválido: use apenas números e hífen."),
    ],
)
def test_garbage_cpf_or_cep_on_edit_is_an_error_and_keeps_the_stored_value(app, staff, field, typed, message):
    """The review: `cpf="não sei"` or `cep="sem cep"` used to answer "Cadastro atualizado" and erase both."""
    patient = make_patient(**EDIT_FORM)
    before = _stored(patient.id)
    response = post_form(staff, f"/patients/{patient.id}/edit", {**EDIT_FORM, field: typed})
    assert response.status_code == 200 and "Cadastro atualizado" not in _text(response)
    assert _field_error(_text(response), field) == message
    assert _stored(patient.id) == before and before[field] is not None


def test_garbage_cpf_on_a_new_patient_creates_nothing(app, staff):
    """The review: a new patient with `cpf="Ana 😀 Souza"` was saved without CPF and without an error."""
    response = post_form(staff, "/patients/new", {"full_name": "Ana Souza", "cpf": "Ana 😀 Souza"})
    assert response.status_code == 200
    assert _field_error(_text(response), "cpf") == "CPF inválido: use apenas números, pontos e hífen."
    assert db.session.query(Patient).count() == 0


def test_emptying_cpf_and_cep_clears_them(app, staff):
    """Only a field the user emptied clears the stored value."""
    patient = make_patient(**EDIT_FORM)
    response = post_form(staff, f"/patients/{patient.id}/edit", {**EDIT_FORM, "cpf": "", "cep": " "})
    assert response.status_code == 302
    assert (_stored(patient.id)["cpf"], _stored(patient.id)["cep"]) == (None, None)


@pytest.fixture
def deactivated(app, staff):
    """A deactivated patient with a filled-in anamnesis."""
    patient = make_patient(**EDIT_FORM)
    with acting_as(make_user().id):
        anamnesis.update_anamnesis(patient.id, "Dipirona", None, None, None, True)
    patients.deactivate_patient(patient.id, "Mudou-se")
    return patient


def test_record_of_a_deactivated_patient_says_it_is_read_only(deactivated, staff):
    """The record shows the read-only banner and no edit button; the anamnesis tab offers no edit either."""
    page = _text(staff.get(f"/patients/{deactivated.id}"))
    assert 'id="readonly-notice"' in page and "Cadastro desativado — somente leitura." in page
    assert f'href="/patients/{deactivated.id}/edit"' not in page
    assert f'href="/patients/{deactivated.id}/anamnesis/edit"' not in _text(
        staff.get(f"/patients/{deactivated.id}/anamnesis")
    )


def test_editing_a_deactivated_patient_is_refused(deactivated, staff):
    """GET shows the notice and no form; POST is refused with the service's message and changes nothing."""
    before = _stored(deactivated.id)
    page = _text(staff.get(f"/patients/{deactivated.id}/edit"))
    assert "Cadastro desativado — somente leitura." in page and 'name="full_name"' not in page
    response = post_form(staff, f"/patients/{deactivated.id}/edit", {**EDIT_FORM, "full_name": "Outro Nome"})
    assert response.status_code == 200 and READ_ONLY in _text(response)
    assert "Cadastro atualizado" not in _text(response)
    assert _stored(deactivated.id) == before


def test_editing_a_deactivated_patients_anamnesis_follows_the_same_rule(deactivated, staff):
    """The anamnesis edit page shows no form, and a POST gets the same message as the record (not a 409 page)."""
    page = _text(staff.get(f"/patients/{deactivated.id}/anamnesis/edit"))
    assert 'id="readonly-anamnesis"' in page and 'name="allergies"' not in page
    response = post_form(staff, f"/patients/{deactivated.id}/anamnesis/edit", {"allergies": "Nenhuma"})
    assert response.status_code == 200 and READ_ONLY in _text(response)
    assert "Anamnese salva" not in _text(response)
    db.session.rollback()
    assert db.session.query(Anamnesis).filter_by(patient_id=deactivated.id).one().allergies == "Dipirona"
