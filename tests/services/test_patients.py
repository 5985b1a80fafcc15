"""Patients service: validation, CPF rules, updates and status with timeline, audited views, search, pages."""

import json

import pytest
from sqlalchemy import func, select

from app.db.actor import acting_as
from app.extensions import db
from app.models.history import AuditEvent, TimelineEvent
from app.models.pacientes import Anamnesis, Patient
from app.services import patients, users
from app.services.errors import ConflictError, NotFound, RelatedEntityNotFound, ValidationError
from app.vocabulary import AnamnesisStatus
from tests.factories import change_behind_the_session, cpf_from, make_patient, make_user
from tests.support import once_on_sqlite

VALID_CPF = "52998224725"
FULL_FORM = {
    "full_name": "Maria da Silva",
    "cpf": "",
    "birth_date": "1985-03-14",
    "sex": "F",
    "phone": "(11) 98765-4321",
    "email": "maria@example.com",
    "cep": "01310-100",
    "street": "Av. Paulista",
    "number": "1000",
    "complement": "",
    "district": "Bela Vista",
    "city": "São Paulo",
    "state": "SP",
    "notes": "",
}


def patient_count() -> int:
    """How many patients are stored."""
    return db.session.scalar(select(func.count()).select_from(Patient))


def timeline(patient_id: int) -> list[TimelineEvent]:
    """The patient's timeline lines, oldest first (fresh snapshot of history.db)."""
    db.session.rollback()
    return list(
        db.session.scalars(
            select(TimelineEvent).where(TimelineEvent.patient_id == patient_id).order_by(TimelineEvent.id)
        )
    )


def audit_events(action: str, patient_id: int | None = None) -> list[AuditEvent]:
    """Audit rows with an action (for one patient, if given), oldest first."""
    db.session.rollback()
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    if patient_id is not None:
        query = query.where(AuditEvent.patient_id == patient_id)
    return list(db.session.scalars(query))


def form(**overrides) -> dict:
    """A full patient form with a few fields changed."""
    return {**FULL_FORM, **overrides}


# --- create and validation ----------------------------------------------------------------------------------


def test_create_patient_normalises_fields_and_opens_a_pending_anamnesis(app):
    """A registered patient gets digits-only CPF/CEP, search keys, the creator, a PENDING anamnesis and a timeline."""
    receptionist = make_user()
    with acting_as(receptionist.id):
        patient = patients.create_patient(form(full_name="  João   da Conceição ", cpf="529.982.247-25"))
    stored = db.session.get(Patient, patient.id)
    assert stored.full_name == "João da Conceição"
    assert stored.search_name == "joao da conceicao"
    assert (stored.cpf, stored.cep, stored.phone_digits) == (VALID_CPF, "01310100", "11987654321")
    assert stored.created_by_user_id == receptionist.id
    anamnesis = db.session.scalar(select(Anamnesis).where(Anamnesis.patient_id == patient.id))
    assert anamnesis.status == AnamnesisStatus.PENDING
    assert [line.summary for line in timeline(patient.id)] == ["Paciente cadastrado."]
    assert len(audit_events("create", patient.id)) >= 1


@once_on_sqlite
@pytest.mark.parametrize("cpf", [VALID_CPF, "529.982.247-25", " 529 982 247 25 ", cpf_from("123456789")])
def test_valid_cpf_is_accepted_in_any_format(app, cpf):
    """A CPF with correct check digits is stored as its 11 digits, with or without dots and dash."""
    patient = make_patient(cpf=cpf)
    assert db.session.get(Patient, patient.id).cpf == "".join(ch for ch in cpf if ch.isdigit())


@once_on_sqlite
@pytest.mark.parametrize(
    "cpf",
    ["52998224724", "529.982.247-35", "111.111.111-11", "00000000000", "5299822472", "529982247251"],
    ids=["second-digit", "first-digit", "all-ones", "all-zeros", "ten-digits", "twelve-digits"],
)
def test_invalid_cpf_is_refused(app, cpf):
    """Wrong check digits, all-equal digits and wrong lengths are a CPF field error; nothing is stored."""
    with pytest.raises(ValidationError) as excinfo:
        make_patient(cpf=cpf)
    assert excinfo.value.errors == {"cpf": "CPF inválido: confira os 11 dígitos."}
    assert patient_count() == 0


def test_cpf_is_optional(app):
    """A patient without CPF is stored with none (and two such patients do not collide)."""
    first, second = make_patient(cpf=""), make_patient(cpf=None)
    assert db.session.get(Patient, first.id).cpf is None
    assert db.session.get(Patient, second.id).cpf is None


def test_duplicate_cpf_is_refused_naming_the_owner(app):
    """A CPF already registered, in any format, is refused with the id of the patient who has it."""
    owner = make_patient(cpf=VALID_CPF)
    with pytest.raises(ValidationError) as excinfo:
        make_patient(cpf="529.982.247-25")
    assert excinfo.value.errors == {"cpf": f"Este CPF já pertence ao paciente #{owner.id}."}
    assert patient_count() == 1


@once_on_sqlite
@pytest.mark.parametrize(
    "field, value, message",
    [
        ("full_name", "Jo", "Informe o nome completo do paciente."),
        ("full_name", "   ", "Informe o nome completo do paciente."),
        ("phone", "1234-5678", "Telefone inválido: informe DDD e número."),
        ("email", "maria@", "E-mail inválido."),
        ("email", "maria silva@x.com", "E-mail inválido."),
        ("cep", "0131-010", "CEP deve ter 8 dígitos."),
        ("state", "XX", "UF inválida."),
        ("sex", "Z", "Sexo deve ser F, M ou O."),
        ("birth_date", "14/03/1985", "Data de nascimento inválida (use AAAA-MM-DD)."),
        ("birth_date", "2999-01-01", "Data de nascimento fora do intervalo possível."),
        ("birth_date", "1850-01-01", "Data de nascimento fora do intervalo possível."),
        ("full_name", "Maria " * 30, "Máximo de 160 caracteres."),
        ("phone", "(10) 98765-4321", "Telefone inválido: confira o DDD e o número."),
        ("city", "São Paulo" * 10, "Máximo de 80 caracteres."),
    ],
)
def test_field_validation_messages(app, field, value, message):
    """Each bad field gets its own Portuguese message and nothing is stored."""
    with pytest.raises(ValidationError) as excinfo:
        patients.create_patient(form(**{field: value}))
    assert excinfo.value.errors == {field: message}
    assert patient_count() == 0


def test_all_bad_fields_are_reported_together(app):
    """A form with several errors reports every one of them at once."""
    with pytest.raises(ValidationError) as excinfo:
        patients.create_patient(form(full_name="", cpf="123", email="x", state="ZZ"))
    assert set(excinfo.value.errors) == {"full_name", "cpf", "email", "state"}


def test_lower_case_state_and_sex_are_accepted(app):
    """UF and sex are normalised to upper case."""
    patient = patients.create_patient(form(state="rj", sex="m"))
    stored = db.session.get(Patient, patient.id)
    assert (stored.state, stored.sex) == ("RJ", "M")


def test_create_by_an_inactive_user_is_refused(app):
    """A deactivated account cannot register patients (cross-bind check on the creator)."""
    user = make_user()
    users.deactivate_user(user.id, "saiu")
    with acting_as(user.id), pytest.raises(RelatedEntityNotFound, match="desativado"):
        patients.create_patient(form())
    assert patient_count() == 0


# --- update, deactivate, reactivate -------------------------------------------------------------------------


def test_update_writes_a_timeline_line_naming_the_changed_fields(app):
    """The timeline says which fields changed, in Portuguese, and the search keys follow the new values."""
    patient = patients.create_patient(form())
    patients.update_patient(
        patient.id, form(full_name="Maria Conceição Silva", phone="(21) 99999-0000", email="nova@example.com")
    )
    stored = db.session.get(Patient, patient.id)
    assert stored.search_name == "maria conceicao silva" and stored.phone_digits == "21999990000"
    assert timeline(patient.id)[-1].summary == "Cadastro atualizado: nome, telefone, e-mail."
    [event] = audit_events("update", patient.id)
    assert json.loads(event.changes)["phone"] == ["+5511987654321", "+5521999990000"]


def test_update_without_changes_adds_no_timeline_line(app):
    """Saving the same data again writes no timeline line."""
    patient = patients.create_patient(form())
    patients.update_patient(patient.id, form())
    assert [line.kind for line in timeline(patient.id)] == ["patient_created"]


def test_update_refuses_another_patients_cpf_but_keeps_its_own(app):
    """Updating with one's own CPF is fine; taking another patient's CPF is refused."""
    first = make_patient(cpf=VALID_CPF)
    second = make_patient()
    patients.update_patient(first.id, form(cpf="529.982.247-25"))
    with pytest.raises(ValidationError, match="já pertence"):
        patients.update_patient(second.id, form(cpf=VALID_CPF))


def test_update_unknown_patient_is_not_found(app):
    """Updating a missing patient raises NotFound."""
    with pytest.raises(NotFound, match="Paciente #404"):
        patients.update_patient(404, form())


@once_on_sqlite
@pytest.mark.parametrize("reason", ["", "  ", None, "x" * 501])
def test_deactivate_requires_a_reason(app, reason):
    """Deactivation without a written reason (or with one longer than the column) is refused."""
    patient = make_patient()
    with pytest.raises(ValidationError) as excinfo:
        patients.deactivate_patient(patient.id, reason)
    assert "reason" in excinfo.value.errors
    assert db.session.get(Patient, patient.id).is_active


def test_deactivate_and_reactivate_keep_reason_timeline_and_audit(app):
    """Deactivation stores the reason (timeline quotes it, audit says deactivate); reactivation clears it."""
    patient = make_patient()
    patients.deactivate_patient(patient.id, "Mudou-se para outra cidade")
    stored = db.session.get(Patient, patient.id)
    assert not stored.is_active and stored.deactivation_reason == "Mudou-se para outra cidade"
    assert timeline(patient.id)[-1].summary == "Cadastro desativado: Mudou-se para outra cidade"
    assert len(audit_events("deactivate", patient.id)) == 1
    with pytest.raises(ConflictError):
        patients.deactivate_patient(patient.id, "de novo")

    patients.reactivate_patient(patient.id)
    stored = db.session.get(Patient, patient.id)
    assert stored.is_active and stored.deactivation_reason is None
    assert timeline(patient.id)[-1].summary == "Cadastro reativado."
    assert len(audit_events("activate", patient.id)) == 1
    with pytest.raises(ConflictError):
        patients.reactivate_patient(patient.id)


@pytest.mark.parametrize(
    "stored, change, refusal",
    [
        ({"is_active": False}, lambda patient: patients.reactivate_patient(patient.id), None),
        ({"is_active": False}, lambda patient: patients.deactivate_patient(patient.id, "saiu"), "já está desativado"),
    ],
    ids=["reactivate", "deactivate"],
)
def test_status_changes_decide_on_the_stored_patient(app, stored, change, refusal):
    """Deactivation and reactivation re-read the patient (locks.get_for_update), not the session's older copy."""
    patient = make_patient()
    change_behind_the_session(patient, **stored)
    if refusal is None:
        change(patient)
    else:
        with pytest.raises(ConflictError, match=refusal):
            change(patient)


# --- record views -------------------------------------------------------------------------------------------


def test_open_record_is_audited_as_view_record(app):
    """Opening a record writes a `view_record` event with who opened it and which patient."""
    dentist = make_user("dentist")
    patient = make_patient()
    with acting_as(dentist.id, "/pacientes/1", "10.0.0.7"):
        assert patients.open_record(patient.id).id == patient.id
    [event] = audit_events("view_record", patient.id)
    assert (event.actor_user_id, event.row_id, event.table_name) == (dentist.id, patient.id, "patient")
    assert (event.request_path, event.client_addr) == ("/pacientes/1", "10.0.0.7")


def test_reading_and_searching_are_not_audited(app):
    """Plain reads (get, search) write no audit event: only record openings are logged."""
    patient = make_patient()
    before = len(audit_events("view_record"))
    patients.get_patient(patient.id)
    patients.search_patients("paciente")
    assert len(audit_events("view_record")) == before == 0


def test_open_record_of_unknown_patient_is_not_found(app):
    """Opening a missing record raises NotFound and audits nothing."""
    with pytest.raises(NotFound):
        patients.open_record(12345)
    assert audit_events("view_record") == []


# --- search and pagination ----------------------------------------------------------------------------------


@pytest.fixture
def people(app):
    """A few patients with accents, CPFs and phones to search for."""
    return {
        "joao": make_patient(full_name="João Pereira", cpf=VALID_CPF, phone="(11) 91234-5678"),
        "conceicao": make_patient(full_name="Maria da Conceição", phone="(21) 3222-1111"),
        "jose": make_patient(full_name="José Joaquim", phone="(31) 98888-7777"),
        "ana": make_patient(full_name="Ana Luíza Souza", phone="(41) 97777-6666"),
    }


@pytest.mark.parametrize(
    "query, expected",
    [
        ("joao", ["joao"]),
        ("JOÃO", ["joao"]),
        ("CONCEICAO", ["conceicao"]),
        ("conceição", ["conceicao"]),
        ("jo", ["joao", "jose"]),
        ("luiza", ["ana"]),
        ("ana luiza", ["ana"]),
        (VALID_CPF, ["joao"]),
        ("529.982.247-25", ["joao"]),
        ("529.982", ["joao"]),
        ("91234-5678", ["joao"]),
        ("(21) 3222-1111", ["conceicao"]),
        ("98888", ["jose"]),
        ("+55 (11) 91234-5678", ["joao"]),
        ("55 21 3222", ["conceicao"]),
        ("3222", ["conceicao"]),
        ("xavier", []),
    ],
)
def test_search_is_accent_insensitive_and_finds_cpf_and_phone(people, query, expected):
    """Names match without accents or case at any word start; CPF and phone digits match with or without marks."""
    found = patients.search_patients(query)
    assert sorted(p.id for p in found.items) == sorted(people[key].id for key in expected)
    assert found.total == len(expected)


@pytest.mark.parametrize("query", ["%", "_", "jo%o", "j_ao"])
def test_like_wildcards_typed_by_a_user_match_only_themselves(people, query):
    """`%` and `_` in a search are literal characters, not wildcards that match every patient."""
    assert patients.search_patients(query).total == 0


def test_search_excludes_inactive_patients_unless_asked(people):
    """Deactivated patients are left out by default and included on request."""
    patients.deactivate_patient(people["joao"].id, "faleceu")
    assert patients.search_patients("joao").total == 0
    assert [p.id for p in patients.search_patients("joao", include_inactive=True).items] == [people["joao"].id]
    assert patients.search_patients("").total == 3


def test_pagination_reports_total_pages_and_page_contents(app):
    """25 patients, 10 per page: 3 pages, page 2 holds the 11th to 20th by name, page 3 the last 5."""
    names = [f"Paciente {n:02d}" for n in range(25, 0, -1)]
    for name in names:
        make_patient(full_name=name)
    second = patients.search_patients("paciente", page=2, per_page=10)
    assert (second.total, second.pages, second.page) == (25, 3, 2)
    assert [p.full_name for p in second.items] == [f"Paciente {n:02d}" for n in range(11, 21)]
    third = patients.search_patients("", page=3, per_page=10)
    assert [p.full_name for p in third.items] == [f"Paciente {n:02d}" for n in range(21, 26)]


@once_on_sqlite
@pytest.mark.parametrize("page, per_page, expected", [(0, 10, (1, 10)), (-3, 0, (1, 1)), (1, 1000, (1, 100))])
def test_pagination_arguments_are_clamped(app, page, per_page, expected):
    """Out-of-range page numbers and page sizes are clamped instead of failing."""
    result = patients.search_patients("", page=page, per_page=per_page)
    assert (result.page, result.per_page) == expected
    assert result.pages == 1 and result.items == []


def test_partial_update_keeps_the_fields_it_does_not_mention(app):
    """Updating only the phone leaves name, CPF and address as they were."""
    patient = make_patient(full_name="Conceição Alves", city="Recife", state="PE")
    patients.update_patient(patient.id, {"phone": "(81) 99999-0000"})
    fresh = patients.get_patient(patient.id)
    assert (fresh.full_name, fresh.city, fresh.state, fresh.cpf) == ("Conceição Alves", "Recife", "PE", patient.cpf)
    assert fresh.phone == "+5581999990000"


def test_update_refuses_unknown_fields(app):
    """A misspelt field is an error, not silently ignored."""
    patient = make_patient()
    with pytest.raises(ValidationError) as refused:
        patients.update_patient(patient.id, {"telefone": "(11) 90000-0000"})
    assert set(refused.value.errors) == {"telefone"}
