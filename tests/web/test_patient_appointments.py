"""The record's appointments tab: upcoming and past appointments with their statuses, missed count, recalls."""

from datetime import timedelta

from app.services import recalls
from app.services.clock import clinic_day
from tests.factories import make_patient
from tests.factories_finance import make_dentist
from tests.factories_frontdesk import at, make_appointment
from tests.support import login_as


def test_tab_splits_upcoming_and_past_and_counts_missed(app, client):
    """Upcoming soonest first, past latest first with statuses, and the number of missed appointments."""
    login_as(client, "receptionist")
    patient, dentist = make_patient(), make_dentist()
    today = clinic_day()
    make_appointment(patient, dentist, at(today + timedelta(days=20), 9), status="scheduled")
    make_appointment(patient, dentist, at(today + timedelta(days=10), 9), status="confirmed")
    make_appointment(patient, dentist, at(today - timedelta(days=30), 9), status="missed")
    make_appointment(patient, dentist, at(today - timedelta(days=60), 9), status="missed")
    make_appointment(patient, dentist, at(today - timedelta(days=5), 9), status="attended")
    page = client.get(f"/patients/{patient.id}/appointments").get_data(as_text=True)
    upcoming, past = page.split("Próximas consultas", 1)[1].split("Consultas anteriores", 1)
    past = past.split('id="recalls"', 1)[0]
    assert upcoming.index("Confirmada") < upcoming.index("Agendada")  # soonest first
    assert "Falta" not in upcoming and "Atendida" not in upcoming
    assert past.index("Atendida") < past.index("Falta")  # latest first
    assert "2 faltas" in page


def test_tab_lists_the_patients_recalls(app, client):
    """The patient's recalls appear with their status."""
    login_as(client, "dentist")
    patient = make_patient()
    recalls.create_recall(patient.id, clinic_day() + timedelta(days=180), "Manutenção do aparelho")
    page = client.get(f"/patients/{patient.id}/appointments").get_data(as_text=True)
    assert "Manutenção do aparelho" in page and "Em aberto" in page and "0 faltas" in page
