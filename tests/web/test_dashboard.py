"""The dashboard: today's worklist with status buttons, the waiting room, warnings, confirmations, recalls."""

import re
from datetime import timedelta

import pytest

from app.db.actor import acting_as
from app.models.pacientes import Appointment
from app.services import anamnesis, recalls
from app.services.clock import clinic_day
from tests.factories import make_patient
from tests.factories_finance import make_dentist
from tests.factories_frontdesk import make_next_day_appointment, make_today_appointment
from tests.support import HTMX, count_queries, csrf_token, fresh, login, login_as, post_form


def status_url(appointment) -> str:
    return f"/appointments/{appointment.id}/status"


def htmx_status(client, appointment, status: str, view: str = "worklist"):
    """Post a status button as HTMX does (token in the header)."""
    return client.post(
        status_url(appointment),
        data={"status": status, "view": view},
        headers={**HTMX, "X-CSRFToken": csrf_token(client, "/")},
    )


def worklist_names(page: str) -> list[str]:
    """Patients of the worklist rows, in order."""
    return re.findall(r'data-testid="worklist-row">.*?<a href="/patients/\d+">([^<]+)</a>', page, re.S)


def test_a_dentist_sees_only_their_own_day_a_receptionist_the_whole_clinic(app, client):
    """Scope of the worklist: own appointments for a dentist, every dentist's for the front desk."""
    mine, other = make_dentist(full_name="Ana Souza"), make_dentist(full_name="Bruno Reis")
    make_today_appointment(make_patient(full_name="Paciente da Ana"), mine)
    make_today_appointment(make_patient(full_name="Paciente do Bruno"), other)
    make_next_day_appointment(make_patient(full_name="Paciente de Amanhã"), mine)
    login(client, mine.username)
    page = client.get("/").get_data(as_text=True)
    assert worklist_names(page) == ["Paciente da Ana"] and "Minha agenda de hoje" in page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login_as(client, "receptionist")
    page = client.get("/").get_data(as_text=True)
    assert sorted(worklist_names(page)) == ["Paciente da Ana", "Paciente do Bruno"]
    assert "Dr(a). Bruno Reis" in page


def test_arrival_button_updates_the_row_and_the_waiting_room(app, client):
    """ "Chegou" answers with the row (HX-Trigger for the rest of the page); the waiting room lists the patient."""
    login_as(client, "receptionist")
    appointment = make_today_appointment(make_patient(full_name="Carla Lima"), make_dentist())
    page = client.get("/").get_data(as_text=True)
    assert 'name="status" value="arrived"' in page and "Ninguém aguardando." in page
    response = htmx_status(client, appointment, "arrived")
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "appointment-changed"
    row = response.get_data(as_text=True)
    assert row.lstrip().startswith(f'<tr id="worklist-{appointment.id}"')  # one element to swap in place
    assert f'id="worklist-{appointment.id}"' in row and "Aguardando atendimento" in row and "desde" in row
    stored = fresh(Appointment, appointment.id)
    assert stored.status == "arrived" and stored.arrived_at is not None
    page = client.get("/").get_data(as_text=True)
    waiting = page.split('id="waiting-room"', 1)[1].split("</section>", 1)[0]
    assert "Carla Lima" in waiting and "chegou às" in waiting


def test_a_transition_the_agenda_forbids_is_refused_with_its_reason(app, client):
    """An attended appointment cannot go back to confirmed: the row shows why (no trigger), nothing changes."""
    login_as(client, "receptionist")
    appointment = make_today_appointment(make_patient(), make_dentist(), status="attended")
    response = htmx_status(client, appointment, "confirmed")
    assert response.status_code == 200 and "HX-Trigger" not in response.headers
    assert "Uma consulta atendida não pode passar a confirmada." in response.get_data(as_text=True)
    assert fresh(Appointment, appointment.id).status == "attended"


def test_attended_before_the_start_is_refused_and_without_htmx_goes_back_with_a_message(app, client):
    """A plain form post: the refusal is flashed on the page it came from (a safe `next` only)."""
    login_as(client, "receptionist")
    appointment = make_next_day_appointment(make_patient(), make_dentist())
    response = post_form(client, status_url(appointment), {"status": "attended", "next": "/agenda/confirmations"})
    assert response.status_code == 302 and response.location == "/agenda/confirmations"
    assert "A consulta ainda não começou." in client.get("/agenda/confirmations").get_data(as_text=True)
    assert fresh(Appointment, appointment.id).status == "scheduled"
    response = post_form(client, status_url(appointment), {"status": "confirmed", "next": "https://evil.example/"})
    assert response.status_code == 302 and response.location == "/"
    assert fresh(Appointment, appointment.id).status == "confirmed"


@pytest.mark.parametrize("status", ["cancelled", "gone", ""])
def test_unknown_or_cancel_status_is_a_message_not_a_500(app, client, status):
    """Cancelling needs the agenda's cancel form with a reason; unknown statuses are refused."""
    login_as(client, "receptionist")
    appointment = make_today_appointment(make_patient(), make_dentist())
    response = htmx_status(client, appointment, status)
    assert response.status_code == 200 and "HX-Trigger" not in response.headers
    assert 'role="alert"' in response.get_data(as_text=True)
    assert fresh(Appointment, appointment.id).status == "scheduled"


def test_after_attended_the_dentist_is_offered_the_clinical_note(app, client):
    """A dentist marks the visit attended; the row offers writing the clinical note next."""
    dentist = make_dentist()
    appointment = make_today_appointment(make_patient(), dentist, status="arrived")
    login(client, dentist.username)
    row = htmx_status(client, appointment, "attended").get_data(as_text=True)
    assert "Atendida" in row and 'data-testid="next-step"' in row
    assert f'href="/patients/{appointment.patient_id}/notes"' in row
    assert 'value="attended"' not in row  # attended is final: no more buttons


def test_the_receptionist_is_not_offered_the_clinical_note(app, client):
    """The front desk cannot write clinical notes: the next step links elsewhere."""
    login_as(client, "receptionist")
    appointment = make_today_appointment(make_patient(), make_dentist(), status="attended")
    page = client.get("/").get_data(as_text=True)
    assert f'href="/patients/{appointment.patient_id}/notes"' not in page
    assert 'data-testid="next-step"' in page


def test_anamnesis_warnings_of_todays_patients(app, client):
    """Today's patients with a pending anamnesis are listed; a complete one is not."""
    login_as(client, "receptionist")
    dentist = make_dentist()
    make_today_appointment(make_patient(full_name="Sem Anamnese"), dentist)
    reviewed = make_patient(full_name="Anamnese em Dia")
    with acting_as(dentist.id):
        anamnesis.update_anamnesis(reviewed.id, None, None, None, None, complete=True)
    make_today_appointment(reviewed, dentist)
    page = client.get("/").get_data(as_text=True)
    section = page.split('id="anamnesis-title"', 1)[1].split("</section>", 1)[0]
    assert "Sem Anamnese" in section and "Anamnese em Dia" not in section


def test_next_days_unconfirmed_count_links_to_the_confirmations(app, client):
    """Two scheduled and one confirmed appointment on the next clinic day: 2, linking to the page."""
    login_as(client, "receptionist")
    dentist = make_dentist()
    make_next_day_appointment(make_patient(), dentist, hour=9)
    make_next_day_appointment(make_patient(), dentist, hour=10)
    make_next_day_appointment(make_patient(), dentist, hour=11, status="confirmed")
    page = client.get("/").get_data(as_text=True)
    assert re.search(
        r'<div class="stat">2</div>\s*<a href="/agenda/confirmations" data-testid="unconfirmed-link">', page
    )


def test_recalls_due_this_week(app, client):
    """This week's open recalls are counted and named; next week's are not."""
    login_as(client, "receptionist")
    today = clinic_day()
    monday = today - timedelta(days=today.weekday())
    recalls.create_recall(make_patient(full_name="Retorno da Semana").id, monday + timedelta(days=6), "Limpeza")
    recalls.create_recall(make_patient(full_name="Retorno Depois").id, monday + timedelta(days=7), "Limpeza")
    page = client.get("/").get_data(as_text=True)
    section = page.split('id="recalls-title"', 1)[1].split("</section>", 1)[0]
    assert "Retorno da Semana" in section and "Retorno Depois" not in section


def _fill_today(rows: int, dentists: list) -> None:
    """`rows` more appointments today over the dentists, in assorted statuses, some recalls this week."""
    statuses = ["scheduled", "confirmed", "arrived", "attended", "missed"]
    for n in range(rows):
        patient = make_patient()
        make_today_appointment(patient, dentists[n % len(dentists)], status=statuses[n % 5])
        make_next_day_appointment(patient, dentists[n % len(dentists)])
        if n % 2:
            recalls.create_recall(patient.id, clinic_day(), "Limpeza")


@pytest.mark.parametrize("role", ["receptionist", "dentist"])
def test_query_count_is_the_same_for_5_and_50_appointments(app, client, role):
    """No query per row on the dashboard, for the clinic-wide and the dentist's own worklist."""
    user = login_as(client, role)
    dentists = [user] if role == "dentist" else [make_dentist() for _ in range(5)]
    counts = []
    for rows in (5, 45):
        _fill_today(rows, dentists)
        with count_queries() as statements:
            page = client.get("/").get_data(as_text=True)
        counts.append((len(worklist_names(page)), len(statements)))
    assert [shown for shown, _ in counts] == [5, 50]
    assert counts[0][1] == counts[1][1]
