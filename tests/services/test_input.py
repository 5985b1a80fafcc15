"""Input rules shared by every service: the one text check, CPF/CEP/phone/CRO parse-or-error, inactive = read-only."""

import inspect
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.db.actor import acting_as
from app.extensions import db
from app.models.pacientes import Patient
from app.models.users import User
from app.services import (
    agenda,
    anamnesis,
    documents,
    notes,
    odontogram,
    patients,
    payments,
    plans,
    procedures,
    recalls,
    users,
)
from app.services.clock import clinic_day
from app.services.errors import ConflictError, PatientReadOnly, RelatedEntityNotFound, ValidationError
from app.services.validation import (
    BIDI_CONTROLS,
    CONTROL_MESSAGE,
    clean_text,
    parse_cep,
    parse_cpf,
    parse_cro,
    parse_phone,
)
from app.vocabulary import RecallStatus
from tests.factories import make_patient, make_user
from tests.factories_finance import make_procedure, slot
from tests.support import once_on_sqlite

VALID_CPF = "52998224725"
NUL_NAME = "Ana\x00Maria"  # the review's example
BIDI_NAME = "Ana\u202eairaM"  # renders as "AnaMaria" reversed: a spoofed name


def snapshot() -> dict[str, list]:
    """Every row of every table of the three databases: a refused call must leave all of them as they were."""
    db.session.rollback()
    rows = {}
    for bind_key, metadata in db.metadatas.items():
        engine = {"bind": db.engines[bind_key]}
        for table in metadata.sorted_tables:
            result = db.session.execute(select(table), bind_arguments=engine)
            rows[table.name] = sorted((tuple(row) for row in result), key=repr)
    return rows


# --- the one text check -------------------------------------------------------------------------------------

SINGLE_LINE_REFUSED = ["\x00", "\x1b", "\x7f", "\x85", "\t", "\n", "\r", "\u200b", "\ufeff", "\u2028", "\ud800"]
EVERYWHERE_REFUSED = [
    "\x00",
    "\x07",
    "\x0b",
    "\x1f",
    "\x7f",
    "\x9b",
    "\u200b",
    "\u200e",
    "\ufeff",
    *sorted(BIDI_CONTROLS),
]


@pytest.mark.parametrize("char", SINGLE_LINE_REFUSED + sorted(BIDI_CONTROLS), ids=ascii)
def test_single_line_text_refuses_every_control_and_format_character(char):
    """Names and other one-line fields refuse NUL, ESC, DEL, C1, tab, line breaks, zero-width and bidi characters."""
    with pytest.raises(ValidationError) as refused:
        clean_text(f"Ana{char}Maria", "full_name")
    assert refused.value.errors == {"full_name": CONTROL_MESSAGE}


@pytest.mark.parametrize("char", EVERYWHERE_REFUSED, ids=ascii)
def test_multi_line_text_refuses_controls_and_bidi_overrides(char):
    """Notes and reasons refuse the same controls (bidi overrides and isolates included), except LF and tab."""
    with pytest.raises(ValidationError) as refused:
        clean_text(f"Primeira linha{char}segunda", "notes", multiline=True)
    assert refused.value.errors == {"notes": CONTROL_MESSAGE}


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("linha 1\nlinha 2", "linha 1\nlinha 2"),
        ("linha 1\r\nlinha 2\rlinha 3", "linha 1\nlinha 2\nlinha 3"),
        ("item:\tvalor", "item:\tvalor"),
        ("  \r\n recuado\n\n", "recuado"),
        ("Dentista \U0001f468\u200d\u2695\ufe0f", "Dentista \U0001f468\u200d\u2695\ufe0f"),
    ],
    ids=["lf", "crlf-and-cr", "tab", "trimmed", "emoji-joiner"],
)
def test_multi_line_text_keeps_newlines_and_tabs(typed, stored):
    """Multi-line text keeps LF and tab (CR LF and CR become LF) and the joiners of emoji sequences."""
    assert clean_text(typed, "notes", multiline=True) == stored


@pytest.mark.parametrize("typed", ["Conceição Ñandú", "José  d'Ávila", "Ana\u00a0Maria", "王小明", "Ana 😀"])
def test_ordinary_text_passes_unchanged(typed):
    """Accents, apostrophes, non-breaking spaces, other scripts and emoji are text, not controls."""
    assert clean_text(typed, "full_name") == typed


def test_text_of_another_type_is_refused():
    """A number where text belongs is a field error, not an AttributeError deep in a service."""
    with pytest.raises(ValidationError) as refused:
        clean_text(42, "city")
    assert set(refused.value.errors) == {"city"}


# --- CPF, CEP, phone, CRO: parse or error -------------------------------------------------------------------


@pytest.mark.parametrize(
    "parse, typed, message",
    [
        (parse_cpf, "não sei", "CPF inválido: use apenas números, pontos e hífen."),
        (parse_cpf, "Ana 😀 Souza", "CPF inválido: use apenas números, pontos e hífen."),
        (parse_cpf, "529.982.247-25 (dela)", "CPF inválido: use apenas números, pontos e hífen."),
        (parse_cpf, "５２９９８２２４７２５", "CPF inválido: use apenas números, pontos e hífen."),
        (parse_cpf, "529.982.247-24", "CPF inválido: confira os 11 dígitos."),
        (parse_cep, "sem cep", "CEP inválido: use apenas números e hífen."),
        (parse_cep, "01310-100 SP", "CEP inválido: use apenas números e hífen."),
        (parse_cep, "0131-010", "CEP deve ter 8 dígitos."),
        (parse_phone, "não tem", "Telefone inválido: use apenas números, espaços, parênteses, + e hífen."),
        (
            parse_phone,
            "(11) 98765-4321 ramal 12",
            "Telefone inválido: use apenas números, espaços, parênteses, + e hífen.",
        ),
        (parse_phone, "1234-5678", "Telefone inválido: informe DDD e número."),
    ],
)
def test_unparseable_numbers_are_errors_not_empty_values(parse, typed, message):
    """Anything typed that is not a CPF, CEP or phone is refused beside its field, never turned into None."""
    with pytest.raises(ValidationError) as refused:
        parse(typed)
    assert list(refused.value.errors.values()) == [message]


@pytest.mark.parametrize(
    "parse, typed, stored",
    [
        (parse_cpf, "529.982.247-25", VALID_CPF),
        (parse_cpf, " 529 982 247 25 ", VALID_CPF),
        (parse_cep, "01310-100", "01310100"),
        (parse_cep, "01.310-100", "01310100"),
        (parse_phone, "+55 (11) 98765-4321", "+5511987654321"),
        (parse_phone, "11 3222.1111", "+551132221111"),
    ],
)
def test_usual_typings_of_numbers_are_accepted(parse, typed, stored):
    """Dots, dashes, spaces, parentheses and + are punctuation people type; CPF and CEP keep only their digits,
    a phone is stored in E.164."""
    assert parse(typed) == stored


@pytest.mark.parametrize("parse", [parse_cpf, parse_cep, parse_phone, parse_cro])
@pytest.mark.parametrize("typed", [None, "", "   "])
def test_only_an_empty_field_clears_a_number(parse, typed):
    """An empty or blank field means "none"."""
    assert parse(typed) is None


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("CRO-SP 12345", "SP-12345"),
        ("SP-12345", "SP-12345"),
        ("12345/SP", "SP-12345"),
        ("CRO/SP 12345", "SP-12345"),
        ("cro-rj 4321", "RJ-4321"),
        ("CRO 123.456-MG", "MG-123456"),
        ("df1", "DF-1"),
    ],
)
def test_cro_in_any_usual_typing_is_stored_in_one_form(typed, stored):
    """The common ways of writing a CRO registration become `UF-digits`."""
    assert parse_cro(typed) == stored


@pytest.mark.parametrize(
    "typed, message",
    [
        ("12345", "CRO inválido: informe a UF e o número (até 6 dígitos), como SP-12345."),
        ("SP-1234567", "CRO inválido: informe a UF e o número (até 6 dígitos), como SP-12345."),
        ("CRO-SP", "CRO inválido: informe a UF e o número (até 6 dígitos), como SP-12345."),
        ("SP-12a45", "CRO inválido: informe a UF e o número (até 6 dígitos), como SP-12345."),
        ("XX-12345", "CRO inválido: XX não é uma UF."),
        ("SP\x00-12345", CONTROL_MESSAGE),
    ],
)
def test_cro_needs_a_state_and_one_to_six_digits(typed, message):
    """A CRO without a Brazilian state, with letters or with more than six digits is refused."""
    with pytest.raises(ValidationError) as refused:
        parse_cro(typed)
    assert refused.value.errors == {"cro": message}


# --- the review's examples through the services -------------------------------------------------------------


@once_on_sqlite
@pytest.mark.parametrize("field", ["full_name", "street", "city", "complement", "notes"])
@pytest.mark.parametrize("value", [NUL_NAME, BIDI_NAME], ids=["nul", "bidi"])
def test_patient_with_control_characters_is_refused_on_create_and_update(app, field, value):
    """The review's `Ana\\x00Maria` (and a bidi override) in name, street or notes: a field error, nothing stored."""
    patient = make_patient(full_name="Ana Maria", street="Rua A", notes="Sem observações.")
    before = snapshot()
    with pytest.raises(ValidationError) as on_create:
        patients.create_patient({"full_name": "Outra Pessoa", field: value})
    with pytest.raises(ValidationError) as on_update:
        patients.update_patient(patient.id, {field: value})
    assert on_create.value.errors == on_update.value.errors == {field: CONTROL_MESSAGE}
    assert snapshot() == before


def test_patient_notes_keep_their_lines(app):
    """Patient notes are multi-line: the line break typed in the form (CR LF) is stored as LF."""
    patient = make_patient(notes="Prefere manhãs.\r\nVem de ônibus.")
    assert db.session.get(Patient, patient.id).notes == "Prefere manhãs.\nVem de ônibus."


@once_on_sqlite
@pytest.mark.parametrize(
    "fields, field",
    [
        ({"full_name": NUL_NAME}, "full_name"),
        ({"full_name": BIDI_NAME}, "full_name"),
        ({"email": "ana\x00@clinica.com.br"}, "email"),
        ({"role": "dentist", "cro": "SP-\x0012345"}, "cro"),
    ],
)
def test_staff_account_with_control_characters_is_refused(app, fields, field):
    """A staff name, e-mail or CRO with NUL or a bidi override is refused on create and on update; nothing changes."""
    user = make_user("dentist")
    before = snapshot()
    values = {"full_name": "Bia Souza", "role": "dentist", "email": None, "cro": "SP-1234", **fields}
    with pytest.raises(ValidationError) as on_create:
        users.create_user(
            "bia", values["full_name"], values["role"], "senha-segura-123", values["email"], values["cro"]
        )
    with pytest.raises(ValidationError) as on_update:
        users.update_user(user.id, values["full_name"], values["role"], values["email"], values["cro"])
    assert on_create.value.errors == on_update.value.errors == {field: CONTROL_MESSAGE}
    assert snapshot() == before


def test_cro_is_stored_in_one_form_and_checked(app):
    """`CRO-SP 12345` is stored as `SP-12345`; a CRO without state is refused and the account keeps its CRO."""
    user = make_user("dentist", cro="CRO-SP 12345")
    assert db.session.get(User, user.id).cro == "SP-12345"
    with pytest.raises(ValidationError) as refused:
        users.update_user(user.id, user.full_name, "dentist", cro="12345")
    assert set(refused.value.errors) == {"cro"}
    db.session.expire_all()
    assert db.session.get(User, user.id).cro == "SP-12345"


def test_garbage_cpf_or_cep_does_not_erase_the_stored_value(app):
    """The review: editing with cpf="não sei" or cep="sem cep" is an error and both stay as they were."""
    patient = make_patient(cpf=VALID_CPF, cep="01310-100")
    with pytest.raises(ValidationError) as refused:
        patients.update_patient(patient.id, {"cpf": "não sei", "cep": "sem cep"})
    assert set(refused.value.errors) == {"cpf", "cep"}
    db.session.expire_all()
    stored = db.session.get(Patient, patient.id)
    assert (stored.cpf, stored.cep) == (VALID_CPF, "01310100")


def test_garbage_cpf_on_a_new_patient_stores_nothing(app):
    """The review: a new patient with cpf="Ana 😀 Souza" is refused, not saved without CPF."""
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        patients.create_patient({"full_name": "Ana Souza", "cpf": "Ana 😀 Souza"})
    assert set(refused.value.errors) == {"cpf"}
    assert snapshot() == before


def test_emptying_cpf_cep_and_phone_clears_them(app):
    """Only a field the user emptied clears the stored value."""
    patient = make_patient(cpf=VALID_CPF, cep="01310-100", phone="(11) 98765-4321")
    patients.update_patient(patient.id, {"cpf": "", "cep": "  ", "phone": None})
    db.session.expire_all()
    stored = db.session.get(Patient, patient.id)
    assert (stored.cpf, stored.cep, stored.phone, stored.phone_digits) == (None, None, None, None)


# --- every service that stores text uses the shared check ---------------------------------------------------


@dataclass
class World:
    """One of everything a write can act on, all belonging to one patient, and the dentist acting."""

    dentist: User
    staff: User
    patient: Patient
    note: object
    appointment: object
    proposed: object
    item: object
    approved: object
    approved_item: object
    payment: object
    recall: object
    procedure: object


@pytest.fixture
def world(app):
    """A patient with a note, an appointment, a proposed and an approved (partly paid) plan and a recall."""
    dentist, staff = make_user("dentist"), make_user("receptionist")
    patient = make_patient(full_name="Ana Maria")
    procedure = make_procedure()
    with acting_as(dentist.id):
        note = notes.add_note(patient.id, "Dor ao mastigar.")
        appointment = agenda.book_appointment(patient.id, dentist.id, *slot(1))
        proposed = plans.create_plan(patient.id, dentist.id, "Proposta")
        item = plans.add_item(proposed.id, procedure.id)
        approved = plans.create_plan(patient.id, dentist.id, "Aprovado")
        approved_item = plans.add_item(approved.id, procedure.id)
        plans.approve_plan(approved.id)
        payment = payments.record_payment(approved.id, 1_000, "pix")
        recall = recalls.create_recall(patient.id, clinic_day() + timedelta(days=30), "Revisão")
    return World(
        dentist, staff, patient, note, appointment, proposed, item, approved, approved_item, payment, recall, procedure
    )


# name: (field, call with a text value, multi-line)
TEXT_WRITES = {
    "create_patient": ("street", lambda w, v: patients.create_patient({"full_name": "Bia", "street": v}), False),
    "update_patient": ("full_name", lambda w, v: patients.update_patient(w.patient.id, {"full_name": v}), False),
    "update_patient_notes": ("notes", lambda w, v: patients.update_patient(w.patient.id, {"notes": v}), True),
    "deactivate_patient": ("reason", lambda w, v: patients.deactivate_patient(w.patient.id, v), True),
    "update_anamnesis": (
        "allergies",
        lambda w, v: anamnesis.update_anamnesis(w.patient.id, v, None, None, None, True),
        True,
    ),
    "create_user": ("full_name", lambda w, v: users.create_user("novo", v, "admin", "senha-segura-123"), False),
    "update_user": ("full_name", lambda w, v: users.update_user(w.staff.id, v, "receptionist"), False),
    "update_user_cro": ("cro", lambda w, v: users.update_user(w.dentist.id, "Dra. Ana", "dentist", cro=v), False),
    "deactivate_user": ("reason", lambda w, v: users.deactivate_user(w.staff.id, v), True),
    "add_note": ("text", lambda w, v: notes.add_note(w.patient.id, v), True),
    "correct_note": ("text", lambda w, v: notes.correct_note(w.note.id, v), True),
    "issue_document": ("content", lambda w, v: documents.issue_document(w.patient.id, "prescription", v), True),
    "book_appointment": (
        "notes",
        lambda w, v: agenda.book_appointment(w.patient.id, w.dentist.id, *slot(2), notes=v),
        True,
    ),
    "cancel_appointment": ("reason", lambda w, v: agenda.cancel_appointment(w.appointment.id, v), True),
    "create_plan": ("title", lambda w, v: plans.create_plan(w.patient.id, w.dentist.id, v), False),
    "cancel_plan": ("reason", lambda w, v: plans.cancel_plan(w.proposed.id, v), True),
    "record_adjustment": ("reason", lambda w, v: payments.record_adjustment(w.approved.id, 100, v), True),
    "refund_payment": ("reason", lambda w, v: payments.refund_payment(w.payment.id, v), True),
    "create_recall": ("reason", lambda w, v: recalls.create_recall(w.patient.id, date(2031, 1, 2), v), False),
    "record_attempt": ("notes", lambda w, v: recalls.record_attempt(w.recall.id, "no_answer", v), True),
    "create_procedure": ("name", lambda w, v: procedures.create_procedure("NV01", v, 1_000), False),
    "update_procedure_code": (
        "code",
        lambda w, v: procedures.update_procedure(w.procedure.id, v, "Limpeza", 1_000),
        False,
    ),
    "record_finding": ("notes", lambda w, v: odontogram.record_finding(w.patient.id, 16, "caries", "O", v), True),
}


@once_on_sqlite
@pytest.mark.parametrize("value", [NUL_NAME, BIDI_NAME], ids=["nul", "bidi"])
@pytest.mark.parametrize("name", TEXT_WRITES)
def test_every_service_that_stores_text_refuses_control_characters(world, name, value):
    """Each service write that stores text answers the shared check's message on its field and writes nothing."""
    field, call, _ = TEXT_WRITES[name]
    before = snapshot()
    with acting_as(world.dentist.id), pytest.raises(ValidationError) as refused:
        call(world, value)
    assert refused.value.errors == {field: CONTROL_MESSAGE}
    assert snapshot() == before


@pytest.mark.parametrize("name", [name for name, (_, _, multiline) in TEXT_WRITES.items() if multiline])
def test_multi_line_fields_accept_line_breaks_and_tabs(world, name):
    """The same writes accept a text with CR LF and a tab where the field is multi-line (notes, reasons...)."""
    _, call, _ = TEXT_WRITES[name]
    with acting_as(world.dentist.id):
        assert call(world, "Primeira linha,\r\n\tsegunda linha.") is not None


@once_on_sqlite
@pytest.mark.parametrize("name", [name for name, (_, _, multiline) in TEXT_WRITES.items() if not multiline])
def test_single_line_fields_refuse_line_breaks(world, name):
    """Names, titles, codes and the like refuse a line break like any other control character."""
    field, call, _ = TEXT_WRITES[name]
    with acting_as(world.dentist.id), pytest.raises(ValidationError) as refused:
        call(world, "Primeira\nsegunda")
    assert refused.value.errors == {field: CONTROL_MESSAGE}


# --- a deactivated patient is read-only ---------------------------------------------------------------------

# Every service write that changes a patient's data or adds to their record.
PATIENT_WRITES = {
    "patients.update_patient": lambda w: patients.update_patient(w.patient.id, {"phone": "(11) 90000-0000"}),
    "anamnesis.update_anamnesis": lambda w: anamnesis.update_anamnesis(
        w.patient.id, "Dipirona", None, None, None, True
    ),
    "agenda.book_appointment": lambda w: agenda.book_appointment(w.patient.id, w.dentist.id, *slot(2)),
    "agenda.move_appointment": lambda w: agenda.move_appointment(w.appointment.id, *slot(3)),
    "agenda.set_appointment_status": lambda w: agenda.set_appointment_status(w.appointment.id, "confirmed"),
    "plans.create_plan": lambda w: plans.create_plan(w.patient.id, w.dentist.id),
    "plans.add_item": lambda w: plans.add_item(w.proposed.id, w.procedure.id),
    "plans.add_item_to_proposed_plan": lambda w: plans.add_item_to_proposed_plan(
        w.patient.id, w.dentist.id, w.procedure.id, 16, "O"
    ),
    "plans.update_item": lambda w: plans.update_item(w.item.id, 16, "O", 9_000),
    "plans.remove_item": lambda w: plans.remove_item(w.item.id),
    "plans.approve_plan": lambda w: plans.approve_plan(w.proposed.id),
    "plans.mark_item_done": lambda w: plans.mark_item_done(w.approved_item.id),
    "plans.complete_plan": lambda w: plans.complete_plan(w.approved.id),
    "plans.cancel_plan": lambda w: plans.cancel_plan(w.proposed.id, "Desistiu"),
    "plans.set_installments": lambda w: plans.set_installments(w.approved.id, 2, clinic_day()),
    "payments.record_payment": lambda w: payments.record_payment(w.approved.id, 1_000, "cash"),
    "payments.record_adjustment": lambda w: payments.record_adjustment(w.approved.id, 500, "Desconto"),
    "payments.refund_payment": lambda w: payments.refund_payment(w.payment.id, "Desistiu"),
    "notes.add_note": lambda w: notes.add_note(w.patient.id, "Nova nota."),
    "notes.correct_note": lambda w: notes.correct_note(w.note.id, "Dor ao mastigar no 36."),
    "documents.issue_document": lambda w: documents.issue_document(w.patient.id, "certificate", "Atestado."),
    "odontogram.record_finding": lambda w: odontogram.record_finding(w.patient.id, 16, "caries", "O"),
    "recalls.create_recall": lambda w: recalls.create_recall(w.patient.id, date(2031, 1, 2), "Revisão"),
    "recalls.record_attempt": lambda w: recalls.record_attempt(w.recall.id, "no_answer"),
}
# Writes that may act on a deactivated patient, and why.
ALLOWED_ON_INACTIVE = {
    "patients.create_patient": "there is no patient yet",
    "patients.deactivate_patient": "refuses an inactive patient itself (already deactivated)",
    "patients.reactivate_patient": "the way out of read-only",
    "patients.open_record": "an audited read",
    "documents.print_document": "an audited read of what was issued",
    "payments.print_receipt": "an audited read of what was issued",
    "agenda.cancel_appointment": "frees the dentist's slot of a patient who left",
    "recalls.cancel_recall": "takes the patient off the call-back list",
    "payments.close_cash_day": "the clinic's day, not a patient's record",
    "procedures.create_procedure": "the catalogue",
    "procedures.update_procedure": "the catalogue",
    "procedures.set_procedure_active": "the catalogue",
}
WRITES_PACIENTES = re.compile(r"unit_of_work\(PACIENTES(\)|, durable=)")
SERVICE_MODULES = (agenda, anamnesis, documents, notes, odontogram, patients, payments, plans, procedures, recalls)


def test_every_write_on_patient_data_is_classified():
    """Each service function that writes to pacientes is either guarded (tested below) or allowed, with a reason."""
    writers = {
        f"{module.__name__.rsplit('.', 1)[-1]}.{name}"
        for module in SERVICE_MODULES
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if function.__module__ == module.__name__ and WRITES_PACIENTES.search(inspect.getsource(function))
    }
    assert writers == set(PATIENT_WRITES) | set(ALLOWED_ON_INACTIVE)


@pytest.mark.parametrize("name", PATIENT_WRITES)
def test_every_write_on_a_deactivated_patient_is_refused(world, name):
    """One rule: a deactivated patient's record is read-only; each write says so and changes no row anywhere."""
    patients.deactivate_patient(world.patient.id, "Mudou-se")
    before = snapshot()
    with acting_as(world.dentist.id), pytest.raises(PatientReadOnly) as refused:
        PATIENT_WRITES[name](world)
    assert refused.value.message == "Paciente desativado: o cadastro é somente leitura até ser reativado."
    assert isinstance(refused.value, ConflictError) and isinstance(refused.value, RelatedEntityNotFound)
    assert (refused.value.entity, refused.value.entity_id) == ("Paciente", world.patient.id)
    assert snapshot() == before


@once_on_sqlite
@pytest.mark.parametrize("name", PATIENT_WRITES)
def test_the_same_writes_succeed_once_the_patient_is_reactivated(world, name):
    """Reactivation lifts the rule: the very same calls go through (so the refusal above is the patient's state)."""
    patients.deactivate_patient(world.patient.id, "Mudou-se")
    patients.reactivate_patient(world.patient.id)
    if name == "plans.complete_plan":
        plans.mark_item_done(world.approved_item.id)
    with acting_as(world.dentist.id):
        PATIENT_WRITES[name](world)


def test_a_deactivated_patients_appointment_and_recall_can_still_be_cancelled(world):
    """Cancelling frees the dentist's slot and the call-back list even after the patient was deactivated."""
    patients.deactivate_patient(world.patient.id, "Mudou-se")
    with acting_as(world.dentist.id):
        assert agenda.cancel_appointment(world.appointment.id, "Paciente mudou-se").status == "cancelled"
        assert recalls.cancel_recall(world.recall.id).status == RecallStatus.CANCELLED
