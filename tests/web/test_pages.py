"""Dashboard, output escaping on every page a patient's name reaches, and constant query counts per page."""

import re
from datetime import UTC, datetime, time, timedelta

import pytest

from app.db.actor import acting_as
from app.services import anamnesis, patients
from app.services.clock import clinic_day, clinic_tz
from tests.factories import make_patient, make_user
from tests.factories_finance import place_appointment
from tests.support import count_queries, login_as, post_form

EVIL = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def today_at(hour: int, minute: int = 0, days: int = 0) -> tuple[datetime, datetime]:
    """A 30-minute slot at HH:MM clinic time, `days` from today."""
    start = datetime.combine(clinic_day() + timedelta(days=days), time(hour, minute), tzinfo=clinic_tz())
    return start, start + timedelta(minutes=30)


def book(patient, dentist, hour: int, minute: int = 0, days: int = 0):
    """An appointment by the dentist at any time (today's may already have started; see place_appointment)."""
    return place_appointment(patient, dentist, today_at(hour, minute, days), actor_id=dentist.id)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _dashboard_patients(page: str) -> list[str]:
    return re.findall(r'<a href="/patients/\d+">([^<]+)</a>', page)


@pytest.fixture
def day(app):
    """Two dentists with appointments today (one patient with a complete anamnesis) and one tomorrow."""
    ana, bruno = make_user("dentist", full_name="Ana Dentista"), make_user("dentist", full_name="Bruno Dentista")
    carla, davi, eva = (make_patient(full_name=n) for n in ("Carla Pendente", "Davi Completo", "Eva Amanhã"))
    with acting_as(ana.id):
        anamnesis.update_anamnesis(davi.id, "Nenhuma", None, None, None, complete=True)
    book(carla, ana, 0, 0)
    book(davi, bruno, 0, 30)
    book(eva, ana, 9, 0, days=1)
    return {"ana": ana, "bruno": bruno}


def test_dentist_dashboard_lists_only_their_own_appointments_today(client, day):
    """A dentist sees today's appointments in their own agenda, not a colleague's, not tomorrow's."""
    from tests.support import login

    login(client, day["ana"].username)
    page = _text(client.get("/"))
    assert _dashboard_patients(page) == ["Carla Pendente"]
    assert "Minha agenda de hoje" in page


def test_front_desk_dashboard_lists_the_whole_clinic(client, day):
    """A receptionist sees every dentist's appointments today, with the dentist's name."""
    login_as(client, "receptionist")
    page = _text(client.get("/"))
    assert _dashboard_patients(page) == ["Carla Pendente", "Davi Completo"]
    assert "Ana Dentista" in page and "Bruno Dentista" in page


def test_dashboard_flags_anamnesis_warnings_among_todays_patients(client, day):
    """The patient with a pending anamnesis is flagged; the one with a complete, recent anamnesis is not."""
    login_as(client, "admin")
    page = _text(client.get("/"))
    carla_row = page[page.index("Carla Pendente") : page.index("Davi Completo")]
    davi_row = page[page.index("Davi Completo") : page.index("</tbody>")]
    assert "Anamnese pendente" in carla_row and "Anamnese pendente" not in davi_row
    assert re.search(r'<div class="stat">1</div>\s*pacientes de hoje com anamnese', page)


def test_dashboard_offers_quick_search(client):
    """The dashboard's search box sends its query to the patient list."""
    login_as(client, "receptionist")
    assert re.search(r'<form method="get" action="/patients" role="search">', _text(client.get("/")))


@pytest.fixture
def evil_patient(app):
    """A patient whose name is a script, with an appointment today and a changed record."""
    dentist = make_user("dentist")
    patient = make_patient(full_name=EVIL)
    with acting_as(dentist.id):
        patients.update_patient(patient.id, {"full_name": EVIL, "cpf": patient.cpf, "notes": EVIL})
    book(patient, dentist, 0, 0)
    return patient


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/patients",
        "/patients?q=%3Cscript",
        "/patients/{id}",
        "/patients/{id}/edit",
        "/patients/{id}/deactivate",
        "/patients/{id}/anamnesis",
        "/patients/{id}/anamnesis/edit",
        "/patients/{id}/appointments",
        "/patients/{id}/plans",
        "/patients/{id}/notes",
        "/patients/{id}/documents",
        "/patients/{id}/timeline",
        "/admin/audit",
        "/admin/audit?table=patient",
    ],
)
def test_script_in_a_patient_name_is_shown_as_text(client, evil_patient, path):
    """Everywhere the name appears it is escaped text, never markup."""
    login_as(client, "admin")
    page = _text(client.get(path.format(id=evil_patient.id)))
    assert EVIL not in page
    assert ESCAPED in page


def test_script_in_a_typed_name_is_escaped_in_the_flash_and_the_form(client):
    """The success message and a re-shown form escape what the user typed."""
    login_as(client, "receptionist")
    response = post_form(client, "/patients/new", {"full_name": EVIL}, follow_redirects=True)
    assert EVIL not in _text(response) and ESCAPED in _text(response)
    response = post_form(client, "/patients/new", {"full_name": EVIL, "cpf": "123"})
    assert EVIL not in _text(response) and f'value="{ESCAPED}"' in _text(response)


def _queries(client, path: str) -> int:
    with count_queries() as statements:
        response = client.get(path)
    assert response.status_code == 200
    return len(statements)


def _grow(build, before: int, after: int):
    """Call build(n) for n in [before, after)."""
    for n in range(before, after):
        build(n)


@pytest.mark.parametrize("page", ["patients", "timeline", "audit"])
def test_query_count_does_not_grow_with_rows(client, page):
    """The same number of SQL statements (all binds) render 5 rows and 50 rows: no query per row."""
    user = login_as(client, "admin")
    patient = make_patient(actor_id=user.id, full_name="Linha 00")
    if page == "patients":
        path, row = "/patients?per_page=50", r'<a href="/patients/\d+">'

        def build(n):
            make_patient(actor_id=user.id, full_name=f"Linha {n:02d}")
    elif page == "timeline":
        path, row = f"/patients/{patient.id}/timeline?per_page=50", r"<li>\s*<time"

        def build(n):
            with acting_as(user.id):
                patients.update_patient(patient.id, {"full_name": "Linha 00", "cpf": patient.cpf, "notes": str(n)})
    else:
        path, row = "/admin/audit?table=patient&action=create&per_page=50", r'<td class="actor">'

        def build(n):
            make_patient(actor_id=make_user("receptionist").id if n % 2 else user.id, full_name=f"Linha {n:02d}")

    _grow(build, 1, 5)
    client.get(path)  # warm-up: first-request caches
    small = _queries(client, path)
    assert len(re.findall(row, _text(client.get(path)))) == 5
    _grow(build, 5, 50)
    large = _queries(client, path)
    assert len(re.findall(row, _text(client.get(path)))) == 50
    assert large == small


@pytest.mark.parametrize(
    "instant, expected_date, expected_datetime",
    [
        (datetime(2024, 3, 10, 2, 30, tzinfo=UTC), "09/03/2024", "09/03/2024 às 23:30"),
        (datetime(2024, 12, 31, 15, 0, tzinfo=UTC), "31/12/2024", "31/12/2024 às 12:00"),
    ],
)
def test_dates_are_shown_in_the_clinic_time_zone(app, instant, expected_date, expected_datetime):
    """Stored UTC instants appear as dd/mm/aaaa in São Paulo time (02:30 UTC is still the previous day there)."""
    filters = app.jinja_env.filters
    assert filters["date"](instant) == expected_date
    assert filters["datetime"](instant) == expected_datetime
