"""The confirmation message's values and its WhatsApp link: one function for the agenda and the confirmations page."""

from dataclasses import replace
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from app.services import confirmations, settings
from tests.factories import make_patient
from tests.factories_finance import local
from tests.support import once_on_sqlite

pytestmark = once_on_sqlite


@pytest.fixture
def visit(app):
    """A visit on the next workday at 09:05, as the agenda passes it (an appointment-like row)."""
    return SimpleNamespace(starts_at=local(1, 9, 5))


def test_message_values_are_the_visits_in_clinic_time(visit):
    """paciente, data dd/mm/aaaa, hora HH:MM, dentista and clinica, all as text."""
    patient = make_patient(full_name="Joana d'Arc")
    clinic = replace(settings.current(), name="Clínica Sorriso & Cia")
    values = confirmations.message_values(visit, patient, "Dra. Ana", clinic)
    assert values == {
        "paciente": "Joana d'Arc",
        "data": visit.starts_at.strftime("%d/%m/%Y"),
        "hora": "09:05",
        "dentista": "Dra. Ana",
        "clinica": "Clínica Sorriso & Cia",
    }


def test_link_number_is_e164_digits_and_text_round_trips(visit):
    """Accents, apostrophes and `&` in names survive URL-encoding: parse_qs gives back the filled template."""
    patient = make_patient(full_name="João D'Ávila & Filhos", phone="(11) 98765-4321")
    clinic = replace(
        settings.current(),
        name="Sorriso & Saúde",
        confirmation_template="Olá {paciente}, {data} às {hora} com {dentista} na {clinica}? #sim=1",
    )
    url = confirmations.confirmation_link(visit, patient, "Dra. Conceição O'Neil", clinic)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "wa.me", "/5511987654321")
    assert parse_qs(parts.query) == {
        "text": [
            f"Olá João D'Ávila & Filhos, {visit.starts_at:%d/%m/%Y} às 09:05 com Dra. Conceição O'Neil "
            "na Sorriso & Saúde? #sim=1"
        ]
    }
    assert "&" not in parts.query and "#" not in url


@pytest.mark.parametrize("phone", [None, "(11) 3333-4444"])
def test_no_link_without_a_mobile_phone(visit, phone):
    """A landline or no phone: no link (the page flags "sem celular")."""
    patient = make_patient(phone=phone)
    assert confirmations.confirmation_link(visit, patient, "Dra. Ana", settings.current()) is None
