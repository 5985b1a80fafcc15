"""The validation module on its libraries: CPF and CNPJ (python-stdnum), phones (phonenumbers), e-mail, column
limits, money (Babel); property tests with hypothesis. Pure functions: no database, run once."""

import inspect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.br import cnpj as stdnum_cnpj
from stdnum.br import cpf as stdnum_cpf
from wtforms import SelectField
from wtforms.fields.core import UnboundField
from wtforms.validators import Length

from app.blueprints.admin.forms import AccountForm, NewAccountForm, ReasonForm
from app.blueprints.auth.forms import LoginForm, SetupForm
from app.blueprints.patients.forms import DeactivateForm, PatientForm
from app.blueprints.plans.forms import AddItemForm, CancelPlanForm, NewPlanForm
from app.blueprints.procedures.forms import ProcedureForm
from app.models.pacientes import Patient, Procedure, TreatmentItem, TreatmentPlan
from app.models.users import User
from app.ops.demo_data import cpf_from
from app.services.clock import format_money
from app.services.errors import ValidationError
from app.services.validation import (
    CONTROL_MESSAGE,
    column_limit,
    fit_column,
    format_cnpj,
    format_cpf,
    format_phone,
    parse_cnpj,
    parse_cpf,
    parse_email,
    parse_phone,
    phone_digit_forms,
    phone_national_digits,
)

# No deadline: the first phone parsed loads phonenumbers' metadata, and the CPU is shared.
no_deadline = settings(deadline=None)
DIGITS = st.text("0123456789", min_size=11, max_size=11)
# Area codes (DDD) in use in Brazil.
DDDS = (11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24, 27, 28, 31, 32, 33, 34, 35, 37, 38, 41, 42, 43, 44, 45, 46, 47)
DDDS += (48, 49, 51, 53, 54, 55, 61, 62, 63, 64, 65, 66, 67, 68, 69, 71, 73, 74, 75, 77, 79, 81, 82, 83, 84, 85, 86)
DDDS += (87, 88, 89, 91, 92, 93, 94, 95, 96, 97, 98, 99)


def refusal(parse, typed) -> str:
    """The one message `parse` gives for `typed`."""
    with pytest.raises(ValidationError) as refused:
        parse(typed)
    [message] = refused.value.errors.values()
    return message


# --- CPF and CNPJ ---------------------------------------------------------------------------------------------


@no_deadline
@given(DIGITS)
def test_cpf_validity_agrees_with_python_stdnum(number):
    """Any 11 digits, bare or punctuated, are a CPF exactly when python-stdnum says so and not one digit repeated."""
    valid = stdnum_cpf.is_valid(number) and len(set(number)) > 1
    for typed in (number, stdnum_cpf.format(number), " ".join((number[:3], number[3:6], number[6:]))):
        if valid:
            assert parse_cpf(typed) == number
        else:
            assert refusal(parse_cpf, typed) == "CPF inválido: confira os 11 dígitos."


@no_deadline
@given(st.integers(1, 999_999_999).map("{:09d}".format))
def test_demo_and_test_cpfs_carry_python_stdnums_check_digits(base9):
    """demo_data.cpf_from (the demo seeder's and the test factories' CPFs) completes any nine digits validly."""
    cpf = cpf_from(base9)
    assert cpf[:9] == base9 and stdnum_cpf.is_valid(cpf)
    assert format_cpf(cpf) == f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}"


@no_deadline
@given(st.text("0123456789", min_size=14, max_size=14))
def test_cnpj_validity_agrees_with_python_stdnum(number):
    """Any 14 digits, bare or as 00.000.000/0000-00, are a CNPJ exactly when python-stdnum says so."""
    for typed in (number, stdnum_cnpj.format(number)):
        if stdnum_cnpj.is_valid(number):
            assert parse_cnpj(typed) == number
        else:
            assert refusal(parse_cnpj, typed) == "CNPJ inválido: confira os 14 caracteres."


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("11.222.333/0001-81", "11222333000181"),
        ("11222333000181", "11222333000181"),
        (" 11 222 333 0001 81 ", "11222333000181"),
        ("12.abc.345/01de-35", "12ABC34501DE35"),  # the alphanumeric CNPJ of July 2026
        ("", None),
        (None, None),
    ],
)
def test_cnpj_is_stored_compact(typed, stored):
    """A CNPJ keeps its 14 characters (letters upper-cased), shown again as 00.000.000/0000-00."""
    assert parse_cnpj(typed) == stored
    if stored:
        assert parse_cnpj(format_cnpj(stored)) == stored


@pytest.mark.parametrize(
    "typed, message",
    [
        ("11.222.333/0001-82", "CNPJ inválido: confira os 14 caracteres."),
        ("11.222.333/0001", "CNPJ inválido: confira os 14 caracteres."),
        ("11.222.333/0001-81 (matriz)", "CNPJ inválido: use apenas números, letras, pontos, barra e hífen."),
        ("11.222.333\x00/0001-81", CONTROL_MESSAGE),
    ],
)
def test_a_cnpj_that_does_not_parse_is_an_error(typed, message):
    """Wrong check digits, length or characters are a field error, never an empty value."""
    assert refusal(parse_cnpj, typed) == message


# --- phones ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, stored, shown",
    [
        ("(11) 98765-4321", "+5511987654321", "(11) 98765-4321"),
        ("11987654321", "+5511987654321", "(11) 98765-4321"),
        ("+55 11 98765-4321", "+5511987654321", "(11) 98765-4321"),
        ("+55 (11) 9 8765 - 4321", "+5511987654321", "(11) 98765-4321"),
        ("011 98765-4321", "+5511987654321", "(11) 98765-4321"),
        ("(21) 3333-2222", "+552133332222", "(21) 3333-2222"),
        ("11 3222.1111", "+551132221111", "(11) 3222-1111"),
        ("+1 650 253 0000", "+16502530000", "+1 650-253-0000"),
    ],
)
def test_usual_phone_typings_are_stored_in_e164_and_shown_formatted(typed, stored, shown):
    """Mobiles and landlines, with or without +55, punctuation or trunk 0, store one E.164 form."""
    assert parse_phone(typed) == stored
    assert format_phone(stored) == shown


@pytest.mark.parametrize(
    "typed, message",
    [
        ("98765-4321", "Telefone inválido: informe DDD e número."),
        ("4004-0001", "Telefone inválido: informe DDD e número."),
        ("(10) 98765-4321", "Telefone inválido: confira o DDD e o número."),
        ("(11) 1234-5678", "Telefone inválido: confira o DDD e o número."),
        ("+55 11 8765-4321", "Telefone inválido: confira o DDD e o número."),
        ("(11) 98765-43210", "Telefone inválido: confira o DDD e o número."),
    ],
)
def test_an_impossible_phone_is_an_error(typed, message):
    """A number without area code, or one no Brazilian line can have, is refused beside the field."""
    assert refusal(parse_phone, typed) == message


def test_a_phone_stored_before_phones_were_parsed_is_shown_and_found_as_stored():
    """A phone migration 0007 could not parse stays as typed: shown so, found by its digits as before."""
    assert format_phone("(11) 1234-5678") == "(11) 1234-5678"
    assert phone_national_digits("(11) 1234-5678") == "1112345678"
    assert phone_digit_forms("(11) 1234-5678") == {"1112345678", "12345678"}
    assert (format_phone(None), phone_national_digits(None), phone_digit_forms(None)) == ("", None, set())


@st.composite
def brazilian_phones(draw) -> tuple[str, str]:
    """(area code, number) of a Brazilian mobile (9 + 8 digits) or landline (2–5 + 7 digits)."""
    ddd = str(draw(st.sampled_from(DDDS)))
    if draw(st.booleans()):
        return ddd, "9" + draw(st.text("0123456789", min_size=8, max_size=8))
    return ddd, draw(st.sampled_from("2345")) + draw(st.text("0123456789", min_size=7, max_size=7))


@no_deadline
@given(brazilian_phones())
def test_phone_typings_round_trip_and_every_typed_prefix_finds_the_phone(phone):
    """Every usual typing stores the same E.164; its display parses back to it; the digits of a typing with or
    without +55 and area code begin one of its search tokens."""
    ddd, number = phone
    local = f"{number[:-4]}-{number[-4:]}"
    stored = parse_phone(f"({ddd}) {local}")
    assert stored == f"+55{ddd}{number}"
    assert {parse_phone(typed) for typed in (f"{ddd}{number}", f"+55 {ddd} {local}", f"0{ddd} {local}")} == {stored}
    assert format_phone(stored) == f"({ddd}) {local}"
    assert parse_phone(format_phone(stored)) == stored
    assert phone_national_digits(stored) == ddd + number
    assert phone_digit_forms(stored) == {f"55{ddd}{number}", ddd + number, number}


@no_deadline
@given(st.text("0123456789 ()+.-", max_size=24))
def test_any_typed_phone_is_stored_in_e164_or_refused(typed):
    """Digits and phone punctuation either parse to an E.164 phone that parses to itself, or are a field error."""
    try:
        stored = parse_phone(typed)
    except ValidationError as refused:
        assert set(refused.errors) == {"phone"}
        return
    assert stored is None or (stored.startswith("+") and parse_phone(stored) == stored)


# --- e-mail, column limits, money -----------------------------------------------------------------------------


@pytest.mark.parametrize("typed, stored", [(" maria@example.com ", "maria@example.com"), ("", None), (None, None)])
def test_an_email_is_trimmed_and_an_empty_one_clears(typed, stored):
    """One e-mail check for patients and staff."""
    assert parse_email(typed) == stored


@pytest.mark.parametrize(
    "typed, message",
    [("maria@", "E-mail inválido."), ("maria silva@x.com", "E-mail inválido."), ("a\x1b@x.com", CONTROL_MESSAGE)],
)
def test_an_email_that_does_not_look_like_one_is_refused(typed, message):
    """No @, a space, no dot after the @, or a control character: a field error."""
    assert refusal(parse_email, typed) == message


def test_column_limits_come_from_the_models():
    """String columns give their length, text and dates none; fit_column refuses longer text."""
    assert (column_limit(Patient, "full_name"), column_limit(User, "email")) == (160, 254)
    assert (column_limit(Patient, "notes"), column_limit(Patient, "birth_date")) == (None, None)
    assert fit_column("x" * 80, Patient, "city") == "x" * 80
    assert refusal(lambda value: fit_column(value, Patient, "city"), "x" * 81) == "Máximo de 80 caracteres."


# Fields bounded as typed (punctuation included), not by the column of their parsed value.
TYPED_AS_NUMBERS = {"cpf", "phone", "cep", "birth_date"}
FORMS = [
    (PatientForm, Patient, {}),
    (DeactivateForm, Patient, {"reason": "deactivation_reason"}),
    (AccountForm, User, {}),
    (NewAccountForm, User, {}),
    (ReasonForm, User, {"reason": "deactivation_reason"}),
    (LoginForm, User, {}),
    (SetupForm, User, {}),
    (ProcedureForm, Procedure, {}),
    (NewPlanForm, TreatmentPlan, {}),
    (AddItemForm, TreatmentItem, {}),
    (CancelPlanForm, TreatmentPlan, {"reason": "cancellation_reason"}),
]


@pytest.mark.parametrize("form, model, columns", FORMS, ids=[form.__name__ for form, _, _ in FORMS])
def test_form_length_bounds_are_the_columns(form, model, columns):
    """Every form field stored in a String column is bounded by that column's length, never a number typed again."""
    checked = 0
    for name, field in inspect.getmembers(form, lambda member: isinstance(member, UnboundField)):
        column = columns.get(name, name)
        if name in TYPED_AS_NUMBERS or issubclass(field.field_class, SelectField) or column not in model.__table__.c:
            continue
        if column_limit(model, column) is None:  # a Text column: the form's bound is its own
            continue
        lengths = [v.max for v in field.kwargs.get("validators", []) if isinstance(v, Length)]
        assert lengths == [column_limit(model, column)], name
        checked += 1
    assert checked


@pytest.mark.parametrize(
    "cents, written",
    [(123456, "R$ 1.234,56"), (5, "R$ 0,05"), (0, "R$ 0,00"), (-500, "-R$ 5,00"), (100_000_000, "R$ 1.000.000,00")],
)
def test_money_is_written_by_babel_in_brazilian_reais(cents, written):
    """Babel's pt_BR currency format, with a plain space after R$ (timeline lines store this text)."""
    assert format_money(cents) == written
