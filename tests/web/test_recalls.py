"""The recall list: this month's and overdue open recalls, attempts, WhatsApp link; setting a recall on the record."""

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from app.db.actor import acting_as
from app.models.pacientes import Recall, RecallAttempt
from app.services import patients, recalls, settings
from app.services.clock import add_months, clinic_day
from tests.factories import make_patient, make_user
from tests.support import audit_events, count_queries, csrf_token, fresh, login_as, post_form

URL = "/recalls"


def make_recall(patient=None, due=None, reason="Limpeza semestral"):
    """An open recall (due today unless told otherwise)."""
    return recalls.create_recall((patient or make_patient()).id, due or clinic_day(), reason)


def rows_in_order(page: str) -> list[str]:
    """Patient names in the list's order."""
    return re.findall(r'data-testid="recall-row">.*?<a href="/patients/\d+/appointments">([^<]+)</a>', page, re.S)


def test_list_has_overdue_and_this_months_recalls_oldest_first_but_not_next_month(app, client):
    """Overdue and due this month appear, oldest first; next month's, closed ones and inactive patients do not."""
    login_as(client, "receptionist")
    today = clinic_day()
    make_recall(make_patient(full_name="Este Mês"), today.replace(day=1))
    make_recall(make_patient(full_name="Atrasado"), today - timedelta(days=40))
    make_recall(make_patient(full_name="Mês Que Vem"), add_months(today.replace(day=1), 1))
    done = make_recall(make_patient(full_name="Já Agendou"), today)
    with acting_as(make_user().id):
        recalls.record_attempt(done.id, "scheduled")
    gone = make_patient(full_name="Desativado")
    make_recall(gone, today)
    patients.deactivate_patient(gone.id, "Mudou de cidade")
    page = client.get(URL).get_data(as_text=True)
    assert rows_in_order(page) == ["Atrasado", "Este Mês"]
    assert "atrasado" in page


def test_list_is_paginated(app, client):
    """25 a page by default; the second page holds the rest."""
    login_as(client, "receptionist")
    for n in range(27):
        make_recall(make_patient(full_name=f"Paciente {n:02d}"), clinic_day().replace(day=1))
    first = client.get(URL).get_data(as_text=True)
    assert len(rows_in_order(first)) == 25 and "Página 1 de 2" in first
    assert len(rows_in_order(client.get(URL + "?page=2").get_data(as_text=True))) == 2


def test_recording_an_attempt_shows_it_as_the_last_one_and_is_audited(app, client):
    """Outcome and note are stored by the current user and shown as the last attempt."""
    user = login_as(client, "receptionist", full_name="Rita Recepção")
    recall = make_recall(make_patient(full_name="Carla Lima"))
    response = post_form(
        client,
        f"{URL}/{recall.id}/attempts",
        {"outcome": "no_answer", "notes": "Caixa postal", "next": "/recalls?page=1"},
    )
    assert response.status_code == 302 and response.location == "/recalls?page=1"
    attempt = fresh(RecallAttempt, 1)
    assert (attempt.recall_id, attempt.outcome, attempt.notes, attempt.by_user_id) == (
        recall.id,
        "no_answer",
        "Caixa postal",
        user.id,
    )
    assert audit_events(table_name="recall_attempt", row_id=attempt.id)[0].actor_user_id == user.id
    page = client.get(URL).get_data(as_text=True)
    assert "Tentativa de contato registrada." in page
    assert "Não atendeu" in page and "Caixa postal" in page and "Rita Recepção" in page


def test_an_attempt_that_schedules_closes_the_recall(app, client):
    """'Consulta agendada' takes the recall off the list."""
    login_as(client, "receptionist")
    recall = make_recall(make_patient(full_name="Carla Lima"))
    post_form(client, f"{URL}/{recall.id}/attempts", {"outcome": "scheduled"})
    assert fresh(Recall, recall.id).status == "done"
    assert "Carla Lima" not in client.get(URL).get_data(as_text=True)


def test_a_bad_outcome_and_an_unsafe_next_are_handled(app, client):
    """An unknown outcome is a flashed message, not a 500; an off-site `next` is ignored."""
    login_as(client, "receptionist")
    recall = make_recall()
    response = post_form(client, f"{URL}/{recall.id}/attempts", {"outcome": "bribed", "next": "//evil.example"})
    assert response.status_code == 302 and response.location == "/recalls"
    assert "Resultado do contato inválido." in client.get(URL).get_data(as_text=True)
    assert fresh(RecallAttempt, 1) is None


def test_whatsapp_link_uses_the_recall_template(app, client):
    """The link's text is the recall template filled for the patient, URL-encoded (accents, ' and & round-trip)."""
    login_as(client, "receptionist")
    make_recall(make_patient(full_name="João D'Ávila & Filhos", phone="(21) 99876-5432"))
    page = client.get(URL).get_data(as_text=True)
    (href,) = [html.unescape(h) for h in re.findall(r'href="(https://wa\.me/[^"]+)"', page)]
    parts = urlsplit(href)
    assert parts.path == "/5521998765432"
    clinic = settings.current()
    expected = settings.fill_template(
        clinic.recall_template, {"paciente": "João D'Ávila & Filhos", "clinica": clinic.name}
    )
    assert parse_qs(parts.query)["text"] == [expected]


def test_setting_a_recall_from_the_record(app, client):
    """The appointments tab offers the form; posting due_date and reason puts the patient on the list."""
    login_as(client, "dentist")
    patient = make_patient(full_name="Carla Lima")
    tab = client.get(f"/patients/{patient.id}/appointments").get_data(as_text=True)
    assert f'action="/recalls/patient/{patient.id}"' in tab and 'name="due_date"' in tab and 'name="reason"' in tab
    due = clinic_day().replace(day=1)
    response = post_form(client, f"/recalls/patient/{patient.id}", {"due_date": due.isoformat(), "reason": "Revisão"})
    assert response.status_code == 302 and response.location == f"/patients/{patient.id}/appointments"
    recall = fresh(Recall, 1)
    assert (recall.patient_id, recall.due_date, recall.reason, recall.status) == (patient.id, due, "Revisão", "open")
    tab = client.get(f"/patients/{patient.id}/appointments").get_data(as_text=True)
    assert "Retorno marcado para" in tab and "Revisão" in tab


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"due_date": "31/02/2026", "reason": "Revisão"}, "Data do retorno inválida"),
        ({"due_date": "2026-12-01", "reason": ""}, "Informe o motivo do retorno."),
    ],
)
def test_a_bad_recall_is_explained_not_stored(app, client, fields, message):
    """Service validation errors come back as a message on the record."""
    login_as(client, "receptionist")
    patient = make_patient()
    post_form(client, f"/recalls/patient/{patient.id}", fields)
    assert message in client.get(f"/patients/{patient.id}/appointments").get_data(as_text=True)
    assert fresh(Recall, 1) is None


def _fill(rows: int) -> None:
    """`rows` more open recalls due this month, each with two attempts by different users."""
    users = [make_user() for _ in range(3)]
    for n in range(rows):
        recall = make_recall(make_patient(), clinic_day().replace(day=1))
        for k in range(2):
            with acting_as(users[(n + k) % 3].id):
                recalls.record_attempt(recall.id, "no_answer", "Sem resposta")


def test_query_count_is_the_same_for_5_and_50_recalls(app, client):
    """No query per row (per_page=100 so that all 50 show)."""
    login_as(client, "receptionist")
    counts = []
    for rows in (5, 45):
        _fill(rows)
        with count_queries() as statements:
            page = client.get(URL + "?per_page=100").get_data(as_text=True)
        counts.append((len(rows_in_order(page)), len(statements)))
    assert [shown for shown, _ in counts] == [5, 50]
    assert counts[0][1] == counts[1][1]


def test_csrf_is_required(app, client):
    """A post without the token is refused."""
    login_as(client, "receptionist")
    recall = make_recall()
    csrf_token(client, "/")
    assert client.post(f"{URL}/{recall.id}/attempts", data={"outcome": "no_answer"}).status_code == 400
