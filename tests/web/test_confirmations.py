"""The confirmations page: the next clinic day's appointments, WhatsApp links, contact attempts, confirm or not."""

import html
import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest

from app.db.actor import acting_as
from app.models.pacientes import Appointment, AppointmentContact
from app.services import contacts, settings
from app.services.clock import clinic_day, format_date, format_time
from tests.factories import make_patient
from tests.factories_finance import make_dentist
from tests.factories_frontdesk import make_next_day_appointment
from tests.support import HTMX, audit_events, count_queries, csrf_token, fresh, login_as

URL = "/agenda/confirmations"
ODD_NAME = "João D'Ávila & Filhos"


def contact_url(appointment) -> str:
    return f"{URL}/{appointment.id}/contacts"


def status_url(appointment) -> str:
    return f"/appointments/{appointment.id}/status"


def whatsapp_hrefs(page: str) -> list[str]:
    """The wa.me links of a page, as the browser reads them (entities decoded)."""
    return [html.unescape(href) for href in re.findall(r'href="(https://wa\.me/[^"]+)"', page)]


@pytest.fixture
def dentist(app):
    return make_dentist(full_name="Ana Souza")


def test_next_clinic_day_skips_days_the_clinic_is_closed(app):
    """With the default hours (closed on Sundays) a Saturday's next clinic day is Monday; a Monday's is Tuesday."""
    assert contacts.next_clinic_day(date(2026, 11, 28)) == date(2026, 11, 30)
    assert contacts.next_clinic_day(date(2026, 11, 30)) == date(2026, 12, 1)


def test_list_shows_the_next_clinic_days_appointments_with_formatted_phone(app, client, dentist):
    """Each booked appointment of the next clinic day appears with time, patient and phone as (11) 98765-4321."""
    login_as(client, "receptionist")
    appointment = make_next_day_appointment(make_patient(full_name="Carla Lima"), dentist, hour=10, minute=30)
    page = client.get(URL).get_data(as_text=True)
    assert "Carla Lima" in page and "(11) 98765-4321" in page
    assert format_date(contacts.next_clinic_day()) in page and format_time(appointment.starts_at) in page
    assert "Dr(a). Ana Souza" in page


def test_whatsapp_link_is_e164_digits_and_the_filled_url_encoded_template(app, client, dentist):
    """The href is https://wa.me/<E.164 digits>?text=<template>; accents, apostrophes and & round-trip."""
    login_as(client, "receptionist")
    patient = make_patient(full_name=ODD_NAME, phone="(11) 98765-4321")
    appointment = make_next_day_appointment(patient, dentist, hour=14)
    page = client.get(URL).get_data(as_text=True)
    (href,) = whatsapp_hrefs(page)
    parts = urlsplit(href)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "wa.me", "/5511987654321")
    (text,) = parse_qs(parts.query, strict_parsing=True)["text"]
    expected = settings.fill_template(
        settings.current().confirmation_template,
        {
            "paciente": ODD_NAME,
            "data": format_date(clinic_day(appointment.starts_at)),
            "hora": format_time(appointment.starts_at),
            "dentista": "Dr(a). Ana Souza",
            "clinica": settings.current().name,
        },
    )
    assert text == expected and ODD_NAME in text
    assert "&" not in parts.query.split("text=", 1)[1]  # the name's & is encoded, not a new parameter
    assert 'target="_blank" rel="noopener"' in page


@pytest.mark.parametrize("phone", ["(11) 3333-4444", ""])
def test_patient_without_a_mobile_is_flagged_and_has_no_link(app, client, dentist, phone):
    """A landline or no phone at all: "sem celular" and no WhatsApp link."""
    login_as(client, "receptionist")
    make_next_day_appointment(make_patient(full_name="Sem Celular", phone=phone), dentist)
    page = client.get(URL).get_data(as_text=True)
    assert "Sem Celular" in page and "sem celular" in page
    assert whatsapp_hrefs(page) == []


def test_opening_the_link_records_an_audited_contact_shown_on_the_row(app, client, dentist):
    """The link's hx-post records who opened it and when; the row comes back with the attempt."""
    user = login_as(client, "receptionist", full_name="Rita Recepção")
    appointment = make_next_day_appointment(make_patient(), dentist)
    response = client.post(
        contact_url(appointment),
        data={"outcome": "message_sent"},
        headers={**HTMX, "X-CSRFToken": csrf_token(client, URL)},
    )
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "appointment-changed"
    row = response.get_data(as_text=True)
    assert f'id="confirmation-{appointment.id}"' in row and "1 tentativa" in row and "Rita Recepção" in row
    contact = fresh(AppointmentContact, 1)
    assert (contact.appointment_id, contact.by_user_id, contact.outcome) == (appointment.id, user.id, "message_sent")
    events = audit_events(table_name="appointment_contact", row_id=contact.id)
    assert [(e.action, e.actor_user_id, e.patient_id) for e in events] == [("create", user.id, appointment.patient_id)]
    assert fresh(Appointment, appointment.id).status == "scheduled"


def test_page_offers_the_link_with_its_contact_post(app, client, dentist):
    """The page wires the link to the contact endpoint (the click posts, the link still opens)."""
    login_as(client, "receptionist")
    appointment = make_next_day_appointment(make_patient(), dentist)
    page = client.get(URL).get_data(as_text=True)
    assert f'hx-post="{contact_url(appointment)}"' in page
    assert "message_sent" in page


def test_not_confirmed_records_the_outcome_and_keeps_the_appointment(app, client, dentist):
    """ "Não confirmou" is a contact outcome: the visit stays booked (not missed, not cancelled)."""
    login_as(client, "receptionist")
    appointment = make_next_day_appointment(make_patient(), dentist)
    response = client.post(
        contact_url(appointment), data={"outcome": "not_confirmed", "csrf_token": csrf_token(client, URL)}
    )
    assert response.status_code == 302 and URL in response.location
    assert fresh(AppointmentContact, 1).outcome == "not_confirmed"
    assert fresh(Appointment, appointment.id).status == "scheduled"
    page = client.get(URL).get_data(as_text=True)
    assert "não confirmou" in page and "Contato registrado." in page


def test_confirmed_button_confirms_and_the_row_says_so(app, client, dentist):
    """ "Confirmado" posts to the status endpoint; the HTMX answer is the row, now confirmed, without the buttons."""
    login_as(client, "receptionist")
    appointment = make_next_day_appointment(make_patient(), dentist)
    page = client.get(URL).get_data(as_text=True)
    assert 'name="status" value="confirmed"' in page
    response = client.post(
        status_url(appointment),
        data={"status": "confirmed", "view": "confirmation"},
        headers={**HTMX, "X-CSRFToken": csrf_token(client, URL)},
    )
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "appointment-changed"
    row = response.get_data(as_text=True)
    assert "Confirmada" in row and "Não confirmou" not in row and 'data-testid="confirmation-row"' in row
    assert fresh(Appointment, appointment.id).status == "confirmed"


def test_not_confirmed_after_a_confirmation_is_refused_in_the_row(app, client, dentist):
    """A confirmed appointment cannot be recorded as not confirmed: the row comes back with the reason."""
    login_as(client, "receptionist")
    appointment = make_next_day_appointment(make_patient(), dentist, status="confirmed")
    response = client.post(
        contact_url(appointment),
        data={"outcome": "not_confirmed"},
        headers={**HTMX, "X-CSRFToken": csrf_token(client, URL)},
    )
    assert response.status_code == 200 and "HX-Trigger" not in response.headers
    assert "já está confirmada" in response.get_data(as_text=True)
    assert fresh(AppointmentContact, 1) is None


def test_bad_outcome_is_a_message_not_a_500(app, client, dentist):
    """An outcome outside the vocabulary is refused with a readable message."""
    login_as(client, "receptionist")
    appointment = make_next_day_appointment(make_patient(), dentist)
    response = client.post(
        contact_url(appointment), data={"outcome": "bribed"}, headers={**HTMX, "X-CSRFToken": csrf_token(client, URL)}
    )
    assert "HX-Trigger" not in response.headers and "Resultado do contato inválido." in response.get_data(as_text=True)


def test_dentists_use_the_page_too(app, client, dentist):
    """Confirmations are for the whole staff."""
    login_as(client, "dentist")
    make_next_day_appointment(make_patient(full_name="Paciente do Dia"), dentist)
    assert "Paciente do Dia" in client.get(URL).get_data(as_text=True)


def _fill_next_day(rows: int, dentists: list) -> None:
    """`rows` more appointments on the next clinic day, spread over the dentists, every third with a contact."""
    for n in range(rows):
        appointment = make_next_day_appointment(make_patient(), dentists[n % 5], hour=8 + n // 10, minute=n % 2 * 30)
        if n % 3 == 0:
            with acting_as(dentists[0].id):
                contacts.record_contact(appointment.id)


def _page_queries(client) -> tuple[int, int]:
    """(rows shown, queries sent) for one request of the page."""
    with count_queries() as statements:
        page = client.get(URL).get_data(as_text=True)
    return page.count('data-testid="confirmation-row"'), len(statements)


def test_query_count_is_the_same_for_5_and_50_appointments(app, client):
    """No query per row: 5 and 50 appointments (five dentists, contacts on some) cost the same."""
    login_as(client, "receptionist")
    dentists = [make_dentist() for _ in range(5)]
    _fill_next_day(5, dentists)
    shown, few = _page_queries(client)
    assert shown == 5
    _fill_next_day(45, dentists)
    shown, many = _page_queries(client)
    assert shown == 50
    assert many == few
