"""Clinic settings: defaults without a row, every field validated, templates filled without evaluation, holidays."""

from datetime import date, datetime, time

import pytest

from app.db.actor import acting_as
from app.services import settings
from app.services.errors import ValidationError
from tests.factories import make_user

VALID = {
    "name": "Clínica Sorriso Feliz",
    "cnpj": "11.222.333/0001-81",
    "address": "Rua das Flores, 100 – São Paulo/SP",
    "phone": "(11) 3333-4444",
    "state": "SP",
    "opening_hours": {
        0: ("08:00", "18:00"),
        1: ("08:00", "18:00"),
        2: ("09:00", "17:00"),
        3: None,
        4: ("08:00", "12:00"),
        5: None,
        6: None,
    },
    "slot_minutes": 20,
    "paper_size": "A5",
    "confirmation_template": "Olá, {paciente}! Consulta em {data} às {hora} com {dentista} na {clinica}.",
    "recall_template": "Olá, {paciente}! Hora do retorno na {clinica}.",
    "pix_key": "11222333000181",
    "merchant_name": "SORRISO FELIZ",
    "merchant_city": "SAO PAULO",
}


def _with(**changes) -> dict:
    return {**VALID, **changes}


def test_defaults_without_a_row(app):
    """With nothing saved, the settings are the documented defaults."""
    current = settings.current()
    assert current.name == "Clínica Odontológica"
    assert current.state == "SP" and current.slot_minutes == 30 and current.paper_size == "A4"
    assert current.opening_hours == settings.DEFAULT_HOURS
    assert current.updated_at is None and current.cnpj is None


def test_update_saves_every_field_and_who_saved(app):
    """A valid save stores each field (CNPJ as 14 characters, phone in E.164, hours as times) and the author."""
    admin = make_user("admin")
    with acting_as(admin.id):
        saved = settings.update_settings(**VALID)
    current = settings.current()
    assert current == saved
    assert current.cnpj == "11222333000181" and current.phone == "+551133334444"
    assert current.opening_hours[2] == (time(9), time(17)) and current.opening_hours[3] is None
    assert current.slot_minutes == 20 and current.paper_size == "A5"
    assert current.merchant_city == "SAO PAULO" and current.updated_by_user_id == admin.id


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 161}, "name"),
        ({"cnpj": "11.222.333/0001-82"}, "cnpj"),
        ({"phone": "123"}, "phone"),
        ({"state": "XX"}, "state"),
        ({"state": ""}, "state"),
        ({"slot_minutes": 25}, "slot_minutes"),
        ({"slot_minutes": None}, "slot_minutes"),
        ({"paper_size": "A3"}, "paper_size"),
        ({"opening_hours": {0: ("18:00", "08:00")}}, "hours_0"),
        ({"opening_hours": {4: ("25:00", "26:00")}}, "hours_4"),
        ({"opening_hours": {1: ("08:00", "")}}, "hours_1"),
        ({"opening_hours": "sempre"}, "opening_hours"),
        ({"confirmation_template": ""}, "confirmation_template"),
        ({"recall_template": "x" * 1001}, "recall_template"),
        ({"pix_key": "x" * 78}, "pix_key"),
        ({"merchant_name": "x" * 26}, "merchant_name"),
        ({"merchant_city": "x" * 16}, "merchant_city"),
        ({"address": "Rua\x00 1"}, "address"),
    ],
)
def test_update_validates_every_field(app, changes, field):
    """Each invalid field is refused with a message under its own name, and nothing is saved."""
    with pytest.raises(ValidationError) as refused:
        settings.update_settings(**_with(**changes))
    assert field in refused.value.errors
    assert settings.current().updated_at is None


def test_every_error_is_reported_at_once(app):
    """Several bad fields give one message each in a single refusal."""
    with pytest.raises(ValidationError) as refused:
        settings.update_settings(**_with(name="", state="ZZ", paper_size="B5"))
    assert {"name", "state", "paper_size"} <= set(refused.value.errors)


@pytest.mark.parametrize("template", ["Olá {nome}", "{paciente.__class__}", "{paciente[0]}", "{0}", "{}"])
def test_unknown_or_attribute_placeholders_are_refused(app, template):
    """Only the five named placeholders pass; attribute or index access is an unknown placeholder."""
    with pytest.raises(ValidationError) as refused:
        settings.update_settings(**_with(confirmation_template=template))
    assert "Marcador desconhecido" in refused.value.errors["confirmation_template"]


def test_fill_template_never_evaluates_attributes():
    """fill_template substitutes plain names only: `{paciente.__class__}` stays as typed, never reaches Python."""

    class Sneaky:
        def __str__(self):
            return "Ana"

    filled = settings.fill_template("{paciente} {paciente.__class__} {data!r} {clinica}", {"paciente": Sneaky()})
    assert filled == "Ana {paciente.__class__} {data!r} "


def test_fill_template_fills_every_placeholder():
    """Each known placeholder is replaced by its value."""
    values = {"paciente": "Ana", "data": "09/07/2026", "hora": "14:00", "dentista": "Dr. Bruno", "clinica": "Sorriso"}
    text = "{paciente}|{data}|{hora}|{dentista}|{clinica}"
    assert settings.fill_template(text, values) == "Ana|09/07/2026|14:00|Dr. Bruno|Sorriso"


def test_holidays_between_for_sao_paulo_2026(app):
    """SP in 2026: the Revolução Constitucionalista (9 July) and Consciência Negra (20 Nov) among the holidays."""
    found = settings.holidays_between(date(2026, 1, 1), date(2026, 12, 31), "SP")
    assert date(2026, 7, 9) in found and "Constitucionalista" in found[date(2026, 7, 9)]
    assert date(2026, 11, 20) in found
    assert date(2026, 12, 25) in found and date(2026, 7, 10) not in found


def test_holidays_between_uses_the_clinic_state(app):
    """Without a state, the clinic's saved UF decides: 9 July is not a holiday in Rio de Janeiro."""
    settings.update_settings(**_with(state="RJ"))
    found = settings.holidays_between(date(2026, 7, 1), date(2026, 7, 31))
    assert date(2026, 7, 9) not in found


@pytest.mark.parametrize(
    "start, end, inside",
    [
        (datetime(2026, 7, 6, 8, 0), datetime(2026, 7, 6, 8, 30), True),  # Monday, at opening
        (datetime(2026, 7, 6, 17, 30), datetime(2026, 7, 6, 18, 0), True),  # ends at closing
        (datetime(2026, 7, 6, 7, 30), datetime(2026, 7, 6, 8, 0), False),  # before opening
        (datetime(2026, 7, 6, 17, 45), datetime(2026, 7, 6, 18, 15), False),  # past closing
        (datetime(2026, 7, 11, 11, 0), datetime(2026, 7, 11, 11, 30), True),  # Saturday morning
        (datetime(2026, 7, 11, 12, 0), datetime(2026, 7, 11, 12, 30), False),  # Saturday afternoon
        (datetime(2026, 7, 12, 10, 0), datetime(2026, 7, 12, 10, 30), False),  # Sunday: closed
        (datetime(2026, 7, 6, 17, 0), datetime(2026, 7, 7, 9, 0), False),  # across days
    ],
)
def test_within_hours_with_default_hours(start, end, inside):
    """The default week: 8–18 on weekdays, 8–12 on Saturday, closed on Sunday."""
    assert settings.Settings().within_hours(start, end) is inside
