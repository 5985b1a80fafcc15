"""The agenda screens: day and week grids, booking / moving / cancelling through the forms, holidays, the day
sheet, remembered preferences, constant query counts."""

import re
from datetime import date, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from app.db.actor import acting_as
from app.extensions import db
from app.models.pacientes import Appointment
from app.models.users import UserPreference
from app.services import agenda
from app.services.clock import clinic_day, clinic_tz
from tests.factories import make_patient, make_user
from tests.factories_finance import local, place_appointment, slot, workday
from tests.support import HTMX, count_queries, fresh, login_as, post_form


def _text(response) -> str:
    return response.get_data(as_text=True)


def _count() -> int:
    """Appointments stored (the test's read snapshot ends first: requests commit in their own sessions)."""
    db.session.rollback()
    return db.session.query(Appointment).count()


def _start(moment: datetime) -> str:
    """The form's start value (clinic-local YYYY-MM-DDTHH:MM)."""
    return moment.strftime("%Y-%m-%dT%H:%M")


def _next_weekday(weekday: int, after: date | None = None) -> date:
    """The next given weekday (Monday = 0) strictly after `after` (today)."""
    day = (after or clinic_day()) + timedelta(days=1)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


def book_form(client, patient, dentist, start: datetime, duration: int = 30, **extra):
    """Post the booking form as the panel would (HTMX)."""
    data = {"patient_id": patient.id, "dentist": dentist.id, "starts_at": _start(start), "duration": duration}
    return post_form(client, "/agenda/book", {**data, **extra}, token_page="/agenda", headers=HTMX)


@pytest.fixture
def desk(app, client):
    """A logged-in receptionist, two dentists and a patient with a mobile phone."""
    receptionist = login_as(client, "receptionist")
    ana = make_user("dentist", full_name="Ana Souza")
    bruno = make_user("dentist", full_name="Bruno Lima")
    patient = make_patient(full_name="Joana D'Ávila & Filhos", phone="(11) 98765-4321")
    return {"me": receptionist, "ana": ana, "bruno": bruno, "patient": patient}


# --- booking ---------------------------------------------------------------------------------------------------


def test_booking_form_opens_prefilled_from_a_slot(client, desk):
    """The empty slot's link carries dentist and start; the form shows them and the clinic's slot length."""
    start = local(1, 10)
    response = client.get(f"/agenda/book?dentist={desk['ana'].id}&start={_start(start)}", headers=HTMX)
    page = _text(response)
    assert response.status_code == 200 and "<html" not in page
    assert f'value="{_start(start)}"' in page
    assert re.search(rf'<option selected value="{desk["ana"].id}">', page)
    assert '<option selected value="30">' in page


def test_booking_with_a_preset_patient_works_as_a_full_page(client, desk):
    """Without JavaScript the form is a page; the patient record's link presets the patient."""
    response = client.get(f"/agenda/book?patient={desk['patient'].id}&dentist={desk['ana'].id}")
    page = _text(response)
    assert "<html" in page and f'name="patient_id" value="{desk["patient"].id}" checked' in page
    response = post_form(
        client,
        "/agenda/book",
        {"patient_id": desk["patient"].id, "dentist": desk["ana"].id, "starts_at": _start(local(1, 9)), "duration": 30},
        token_page="/agenda",
    )
    assert response.status_code == 302 and "booked=" in response.location
    page = _text(client.get(response.location))
    assert "Consulta marcada" in page and 'data-testid="send-confirmation"' in page


def test_booking_answers_with_the_next_step_and_the_grid_trigger(client, desk):
    """Booked: the panel offers "Enviar confirmação" with the WhatsApp link, and the grid reloads."""
    response = book_form(client, desk["patient"], desk["ana"], local(1, 10))
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "appointment-changed"
    page = _text(response)
    assert "Enviar confirmação" in page
    href = re.search(r'href="(https://wa\.me/[^"]+)"[^>]*data-testid="send-confirmation"', page).group(1)
    parts = urlsplit(href.replace("&amp;", "&"))
    assert parts.path == "/5511987654321"
    assert "Joana D'Ávila & Filhos" in parse_qs(parts.query)["text"][0]


def test_overlapping_booking_is_refused_with_the_message_in_the_form(client, desk):
    """The dentist's overlap, and the patient's with another dentist, are form errors, never a 500."""
    book_form(client, desk["patient"], desk["ana"], local(1, 10))
    response = book_form(client, make_patient(), desk["ana"], local(1, 10, 15))
    assert response.status_code == 200 and "HX-Trigger" not in response.headers
    assert "Dr(a). Ana Souza já tem consulta de 10:00 às 10:30" in _text(response)
    response = book_form(client, desk["patient"], desk["bruno"], local(1, 10))
    assert "O paciente já tem consulta de 10:00 às 10:30" in _text(response)
    assert _count() == 1


@pytest.mark.parametrize(
    "start, message",
    [
        (lambda: datetime.combine(clinic_day() - timedelta(days=1), time(10), tzinfo=clinic_tz()), "já passou"),
        (lambda: local(1, 7), "Fora do horário da clínica"),
        (lambda: local(1, 17, 45), "Fora do horário da clínica"),
        (lambda: datetime.combine(_next_weekday(6), time(10), tzinfo=clinic_tz()), "A clínica não abre no domingo"),
    ],
)
def test_booking_in_the_past_or_outside_hours_is_refused_in_the_form(client, desk, start, message):
    """The service's refusal appears beside the start field."""
    response = book_form(client, desk["patient"], desk["ana"], start())
    assert response.status_code == 200
    assert re.search(r'id="starts_at-help" class="field-error">[^<]*' + message, _text(response))
    assert _count() == 0


def test_inactive_dentist_and_missing_patient_are_form_errors(client, desk):
    """A dentist no longer in the list, or no patient chosen: errors in the form."""
    response = book_form(client, desk["patient"], desk["me"], local(1, 10))
    assert response.status_code == 200 and "field-error" in _text(response)
    response = post_form(
        client,
        "/agenda/book",
        {"dentist": desk["ana"].id, "starts_at": _start(local(1, 10)), "duration": 30},
        token_page="/agenda",
        headers=HTMX,
    )
    assert "Escolha o paciente." in _text(response)
    assert _count() == 0


def _a_holiday() -> date:
    """The next national holiday on a weekday (clinic open), from the holidays package."""
    from app.services import settings

    for day, _name in settings.holidays_between(
        clinic_day() + timedelta(days=1), clinic_day() + timedelta(days=400)
    ).items():
        if day.weekday() < 5:
            return day
    raise AssertionError("no weekday holiday within a year")


def test_holiday_is_shown_and_booking_on_it_needs_a_confirmation(client, desk):
    """The day shows a banner; the form says "Feriado: <nome>" and refuses until the box is ticked."""
    from app.services import settings

    day = _a_holiday()
    name = settings.holidays_between(day, day)[day]
    page = _text(client.get(f"/agenda?date={day.isoformat()}&view=day"))
    assert f"Feriado: {name}" in page
    start = datetime.combine(day, time(10), tzinfo=clinic_tz())
    form = _text(client.get(f"/agenda/book?dentist={desk['ana'].id}&start={_start(start)}", headers=HTMX))
    assert f"Feriado: {name}" in form and 'name="confirm_holiday"' in form
    response = book_form(client, desk["patient"], desk["ana"], start)
    assert "marque a confirmação" in _text(response)
    assert _count() == 0
    response = book_form(client, desk["patient"], desk["ana"], start, confirm_holiday="y")
    assert response.headers.get("HX-Trigger") == "appointment-changed"
    assert _count() == 1
    week = _text(client.get(f"/agenda?date={day.isoformat()}&view=week&dentist={desk['ana'].id}"))
    assert f'data-testid="holiday-{day.isoformat()}"' in week


def test_patient_search_offers_accent_free_matches(client, desk):
    """Typing without accents finds the patient; the options are radios for the booking form."""
    make_patient(full_name="Outro Nome")
    page = _text(client.get("/agenda/patients?q=joana+avila", headers=HTMX))
    assert f'name="patient_id" value="{desk["patient"].id}"' in page
    assert "Outro Nome" not in page


# --- move and cancel -------------------------------------------------------------------------------------------


def test_move_into_a_conflict_is_refused_and_a_free_time_moves_it(client, desk):
    """Moving onto another appointment of the dentist is a form error; to a free time it moves."""
    with acting_as(desk["me"].id):
        first = agenda.book_appointment(desk["patient"].id, desk["ana"].id, *slot(1, 10))
        other = agenda.book_appointment(make_patient().id, desk["ana"].id, *slot(1, 11))
    data = {"dentist": desk["ana"].id, "starts_at": _start(local(1, 10)), "duration": 30}
    response = post_form(client, f"/agenda/{other.id}/move", data, token_page="/agenda", headers=HTMX)
    assert response.status_code == 200 and "já tem consulta de 10:00 às 10:30" in _text(response)
    assert fresh(Appointment, other.id).starts_at == local(1, 11)
    data = {"dentist": desk["bruno"].id, "starts_at": _start(local(1, 10)), "duration": 45}
    response = post_form(client, f"/agenda/{other.id}/move", data, token_page="/agenda", headers=HTMX)
    assert response.headers["HX-Trigger"] == "appointment-changed" and "Consulta remarcada" in _text(response)
    moved = fresh(Appointment, other.id)
    assert (moved.dentist_user_id, moved.starts_at, moved.ends_at) == (
        desk["bruno"].id,
        local(1, 10),
        local(1, 10, 45),
    )
    assert fresh(Appointment, first.id).starts_at == local(1, 10)


def test_move_form_shows_the_current_time(client, desk):
    """The move form opens with the appointment's dentist, start and length."""
    with acting_as(desk["me"].id):
        appointment = agenda.book_appointment(desk["patient"].id, desk["ana"].id, *slot(1, 10, minutes=45))
    page = _text(client.get(f"/agenda/{appointment.id}/move", headers=HTMX))
    assert f'value="{_start(local(1, 10))}"' in page and '<option selected value="45">' in page


def test_cancel_needs_a_reason(client, desk):
    """No reason: a field error and the appointment stays; with one, it is cancelled and the grid reloads."""
    with acting_as(desk["me"].id):
        appointment = agenda.book_appointment(desk["patient"].id, desk["ana"].id, *slot(1, 10))
    response = post_form(
        client, f"/agenda/{appointment.id}/cancel", {"reason": "  "}, token_page="/agenda", headers=HTMX
    )
    assert response.status_code == 200 and "Informe o motivo do cancelamento." in _text(response)
    assert fresh(Appointment, appointment.id).status == "scheduled"
    response = post_form(
        client, f"/agenda/{appointment.id}/cancel", {"reason": "Viagem"}, token_page="/agenda", headers=HTMX
    )
    assert response.headers["HX-Trigger"] == "appointment-changed"
    assert fresh(Appointment, appointment.id).status == "cancelled"


def test_plain_post_move_redirects_to_the_day(client, desk):
    """Without HTMX a successful change goes back to that day's agenda."""
    with acting_as(desk["me"].id):
        appointment = agenda.book_appointment(desk["patient"].id, desk["ana"].id, *slot(1, 10))
    data = {"dentist": desk["ana"].id, "starts_at": _start(local(1, 14)), "duration": 30}
    response = post_form(client, f"/agenda/{appointment.id}/move", data, token_page="/agenda")
    assert response.status_code == 302 and f"date={workday(1).isoformat()}" in response.location


# --- the grid --------------------------------------------------------------------------------------------------


def _columns(page: str) -> list[str]:
    """The data-column keys of the grid's header, in order."""
    return re.findall(r'<th scope="col" data-column="([^"]+)"', page)


def _cell_column(page: str, appointment_id: int) -> str:
    """The data-dentist of an appointment card."""
    return re.search(rf'data-testid="appointment-{appointment_id}" data-dentist="(\d+)"', page).group(1)


def test_day_view_has_a_column_per_dentist_and_cards_in_their_rows(client, desk):
    """One column per active dentist; an hour-long visit spans two 30-minute rows; status as text and icon."""
    with acting_as(desk["me"].id):
        a = agenda.book_appointment(desk["patient"].id, desk["ana"].id, *slot(1, 9, minutes=60))
        b = agenda.book_appointment(make_patient(phone=None).id, desk["bruno"].id, *slot(1, 11))
    page = _text(client.get(f"/agenda?date={workday(1).isoformat()}&view=day&dentist="))
    assert _columns(page) == [str(desk["ana"].id), str(desk["bruno"].id)]
    assert _cell_column(page, a.id) == str(desk["ana"].id)
    assert _cell_column(page, b.id) == str(desk["bruno"].id)
    row_09 = re.search(r"<th scope=\"row\" class=\"agenda-timecol\">09:00</th>(.*?)</tr>", page, re.S).group(1)
    assert 'rowspan="2"' in row_09 and f"appointment-{a.id}" in row_09
    assert "◷</span> Agendada" in page and "sem celular" in page and "wa.me/5511987654321" in page
    assert f'href="/patients/{desk["patient"].id}"' in page
    assert f'data-testid="book-{desk["ana"].id}-{workday(1).isoformat()}T08:00"' in page
    assert '<th scope="row" class="agenda-timecol">17:30</th>' in page
    assert '<th scope="row" class="agenda-timecol">18:00</th>' not in page


def test_closed_day_says_so(client, desk):
    """Sunday is closed by default."""
    page = _text(client.get(f"/agenda?date={_next_weekday(6).isoformat()}&view=day"))
    assert "Clínica fechada neste dia (domingo)" in page


def test_week_view_shows_one_dentists_week_with_closed_days(client, desk):
    """Monday to Sunday of one dentist; Sunday closed; other dentists' appointments are not shown."""
    monday = _next_weekday(0)
    tuesday = monday + timedelta(days=1)
    with acting_as(desk["me"].id):
        mine = agenda.book_appointment(
            desk["patient"].id,
            desk["ana"].id,
            *(datetime.combine(tuesday, time(h), tzinfo=clinic_tz()) for h in (9, 10)),
        )
        theirs = agenda.book_appointment(
            make_patient().id,
            desk["bruno"].id,
            *(datetime.combine(tuesday, time(h), tzinfo=clinic_tz()) for h in (9, 10)),
        )
    page = _text(client.get(f"/agenda?date={monday.isoformat()}&view=week&dentist={desk['ana'].id}"))
    assert _columns(page) == [(monday + timedelta(days=n)).isoformat() for n in range(7)]
    assert f"appointment-{mine.id}" in page and f"appointment-{theirs.id}" not in page
    assert page.count("Fechado</span>") == 1
    # Saturday closes at 12:00: its afternoon rows are closed cells, not bookable
    saturday = (monday + timedelta(days=5)).isoformat()
    assert f"book-{desk['ana'].id}-{saturday}T11:30" in page and f"book-{desk['ana'].id}-{saturday}T12:00" not in page


def test_navigation_links_keep_the_view(client, desk):
    """Previous / today / next move by a day in the day view and by a week in the week view."""
    day = workday(2)
    page = _text(client.get(f"/agenda?date={day.isoformat()}&view=day&dentist="))
    assert (
        f"date={(day - timedelta(days=1)).isoformat()}" in page
        and f"date={(day + timedelta(days=1)).isoformat()}" in page
    )
    page = _text(client.get(f"/agenda?date={day.isoformat()}&view=week&dentist={desk['ana'].id}"))
    assert f"date={(day + timedelta(days=7)).isoformat()}" in page
    assert f"date={clinic_day().isoformat()}" in page


def test_grid_partial_reloads_alone(client, desk):
    """The grid container asks for the grid only (HX-Target agenda-grid) on `appointment-changed`."""
    page = _text(client.get("/agenda?view=day&dentist="))
    assert 'hx-trigger="appointment-changed from:body"' in page
    partial = _text(client.get("/agenda?view=day&dentist=", headers={**HTMX, "HX-Target": "agenda-grid"}))
    assert "<html" not in partial and ("agenda-table" in partial or "Clínica fechada" in partial)


# --- preferences -----------------------------------------------------------------------------------------------


def test_agenda_opens_as_the_user_left_it(client, desk):
    """Choosing the week of a dentist is remembered: /agenda without arguments opens there; density too."""
    client.get(f"/agenda?view=week&dentist={desk['bruno'].id}")
    prefs = fresh(UserPreference, desk["me"].id)
    assert (prefs.agenda_view, prefs.agenda_dentist_id) == ("week", desk["bruno"].id)
    page = _text(client.get("/agenda"))
    assert "agenda-week" in page and f'<option value="{desk["bruno"].id}" selected>' in page
    response = post_form(
        client, "/agenda/preferences", {"slot_density": "compact", "agenda_view": "week"}, token_page="/agenda"
    )
    assert response.status_code == 302
    assert "density-compact" in _text(client.get("/agenda"))


def test_preferences_are_per_user(app, client, desk):
    """Another user's agenda keeps the defaults."""
    client.get(f"/agenda?view=week&dentist={desk['bruno'].id}")
    other = app.test_client()
    login_as(other, "dentist")
    assert "agenda-day" in _text(other.get("/agenda")) or "Clínica fechada" in _text(other.get("/agenda"))


# --- the printable sheet ---------------------------------------------------------------------------------------


def test_day_sheet_has_the_clinic_header_and_no_navigation(client, desk):
    """The printable day of a dentist: clinic header, the appointments, no app navigation."""
    with acting_as(desk["me"].id):
        agenda.book_appointment(desk["patient"].id, desk["ana"].id, *slot(1, 10))
        agenda.book_appointment(make_patient(full_name="De Outro").id, desk["bruno"].id, *slot(1, 10))
    page = _text(client.get(f"/agenda/sheet?date={workday(1).isoformat()}&dentist={desk['ana'].id}"))
    assert 'data-testid="clinic-header"' in page and "Clínica Odontológica" in page
    assert "Joana D&#39;Ávila &amp; Filhos" in page and "De Outro" not in page
    assert "Dr(a). Ana Souza" in page
    assert "nav-sections" not in page and "app-header" not in page


# --- query counts ----------------------------------------------------------------------------------------------


def _fill(count: int, day: date, view: str) -> list:
    """`count` dentists and `count` appointments (placed at any time): the day view spreads them over the
    dentists of one day, the week view gives them all to the first dentist over that week's days."""
    dentists = [make_user("dentist") for _ in range(count)]
    monday = day - timedelta(days=day.weekday())
    for n in range(count):
        when = day if view == "day" else monday + timedelta(days=n % 7)
        start = datetime.combine(when, time(8), tzinfo=clinic_tz()) + timedelta(minutes=30 * (n // 7 % 20))
        dentist = dentists[n % count] if view == "day" else dentists[0]
        place_appointment(make_patient(), dentist, (start, start + timedelta(minutes=30)))
    return dentists


@pytest.mark.parametrize("view", ["day", "week"])
def test_query_count_is_constant_in_appointments_and_dentists(app, client, view):
    """5 or 50 dentists and appointments: the same number of queries for the day and the week view."""
    login_as(client, "receptionist")
    day = workday(1)
    counts = []
    for count in (5, 50):
        target = day + timedelta(days=7 * (count // 5))
        dentists = _fill(count, target, view)
        url = f"/agenda?date={target.isoformat()}&view={view}&dentist={dentists[0].id if view == 'week' else ''}"
        client.get(url)  # the preference write happens on the first visit
        with count_queries(selects_only=True) as statements:
            response = client.get(url)
        assert response.status_code == 200
        assert response.get_data(as_text=True).count('<article class="appt ') == count
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


def test_search_without_javascript_lists_patients_in_the_form_page(client, desk):
    """The form's own search button (a GET form) reloads the page with the matches as options."""
    page = _text(client.get(f"/agenda/book?dentist={desk['ana'].id}&start={_start(local(1, 10))}&q=joana"))
    assert "<html" in page and f'name="patient_id" value="{desk["patient"].id}"' in page
    assert f'value="{_start(local(1, 10))}"' in page


@pytest.mark.parametrize("patient_id", ["987654", "99999999999999999999999", "abc", "-1"])
def test_unknown_patient_is_a_form_error(client, desk, patient_id):
    """A patient id that names nobody (or is no id at all) asks to choose the patient, never a 500."""
    data = {"patient_id": patient_id, "dentist": desk["ana"].id, "starts_at": _start(local(1, 10)), "duration": 30}
    response = post_form(client, "/agenda/book", data, token_page="/agenda", headers=HTMX)
    assert response.status_code == 200 and "Escolha o paciente." in _text(response)
    assert _count() == 0


def test_status_buttons_post_to_the_status_endpoint(app):
    """Each card offers the allowed next statuses only, as forms to `appointments.set_status`."""
    client = app.test_client()
    login_as(client, "receptionist")
    dentist = make_user("dentist")
    future = agenda.book_appointment(make_patient().id, dentist.id, *slot(1, 10))
    page = _text(client.get(f"/agenda?date={workday(1).isoformat()}&view=day&dentist="))
    card = re.search(rf'data-testid="appointment-{future.id}".*?</article>', page, re.S).group(0)
    assert f'action="/appointments/{future.id}/status"' in card
    assert re.findall(r'name="status" value="(\w+)"', card) == ["confirmed"]  # not attended/missed before it starts


def test_moving_onto_a_holiday_needs_the_confirmation_too(client, desk):
    """The move form warns of the holiday and refuses until confirmed."""
    day = _a_holiday()
    with acting_as(desk["me"].id):
        appointment = agenda.book_appointment(desk["patient"].id, desk["ana"].id, *slot(1, 10))
    data = {"dentist": desk["ana"].id, "starts_at": f"{day.isoformat()}T10:00", "duration": 30}
    response = post_form(client, f"/agenda/{appointment.id}/move", data, token_page="/agenda", headers=HTMX)
    assert "marque a confirmação" in _text(response) and "Feriado:" in _text(response)
    assert fresh(Appointment, appointment.id).starts_at == local(1, 10)
    data["confirm_holiday"] = "y"
    response = post_form(client, f"/agenda/{appointment.id}/move", data, token_page="/agenda", headers=HTMX)
    assert response.headers["HX-Trigger"] == "appointment-changed"


@pytest.mark.parametrize("start", ["9999-12-31T23:59", "0001-01-01T10:00", "2026-02-30T10:00"])
def test_absurd_start_is_a_field_error(client, desk, start):
    """Dates no agenda holds are refused beside the field, never a 500."""
    data = {"patient_id": desk["patient"].id, "dentist": desk["ana"].id, "starts_at": start, "duration": 30}
    response = post_form(client, "/agenda/book", data, token_page="/agenda", headers=HTMX)
    assert response.status_code == 200 and 'id="starts_at-help" class="field-error"' in _text(response)
    assert client.get(f"/agenda/book?start={start}&dentist={desk['ana'].id}", headers=HTMX).status_code == 200
