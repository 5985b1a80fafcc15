"""The patient data report (LGPD art. 18): every kind of row, the access list, its own audit event, who may."""

import json
from datetime import timedelta

import pytest

from app.db import PACIENTES
from app.db.actor import acting_as
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import Appointment, AppointmentContact
from app.services import agenda, anamnesis, data_report, documents, notes, odontogram, payments, plans, recalls
from app.services.clock import clinic_day
from app.services.errors import PermissionDenied
from tests.factories import make_patient, make_user
from tests.factories_finance import as_user, make_dentist, make_plan, slot
from tests.support import audit_events, count_queries, login, login_as


@pytest.fixture
def full_record(app):
    """A patient with one row of every kind, written by named staff; a receptionist also opened the record."""
    dentist = make_dentist(full_name="Dra. Helena Dentista")
    receptionist = make_user("receptionist", full_name="Rita Recepção")
    patient = make_patient(actor_id=receptionist.id, full_name="Paciente Completo", notes="Prefere manhãs")
    with as_user(dentist):
        anamnesis.update_anamnesis(patient.id, "Penicilina", "Losartana", "Hipertensão", None, complete=True)
        appointment = agenda.book_appointment(patient.id, dentist.id, *slot(1, 9))
        with unit_of_work(PACIENTES):
            booked = db.session.get(Appointment, appointment.id)
            db.session.add(AppointmentContact(appointment=booked, by_user_id=dentist.id))
        odontogram.record_finding(patient.id, 36, "caries", "O", "Cárie oclusal")
        notes.add_note(patient.id, "Paciente relata sensibilidade ao frio.")
        documents.issue_document(patient.id, "prescription", "Ibuprofeno 400 mg, 8/8 h por 3 dias")
    plan = make_plan(patient=patient, dentist=dentist, prices=(25_000,), approve=True)
    with as_user(dentist):
        plans.set_installments(plan.id, 2, clinic_day() + timedelta(days=30))
    with as_user(receptionist):
        payments.record_payment(plan.id, 5_000, "pix")
        recall = recalls.create_recall(patient.id, clinic_day() + timedelta(days=180), "Limpeza semestral")
        recalls.record_attempt(recall.id, "no_answer", "Caixa postal")
    return {"patient": patient, "dentist": dentist, "receptionist": receptionist, "plan": plan}


def test_report_contains_every_kind_of_row(app, client, full_record):
    """The page shows the record, anamnesis, appointment, plan and item, instalments, payment, note, document,
    finding, recall and attempt, and the timeline."""
    patient = full_record["patient"]
    login_as(client, "admin")
    response = client.get(f"/patients/{patient.id}/data-report")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for text in (
        "Paciente Completo",
        "Prefere manhãs",
        "Penicilina",
        "Hipertensão",
        "Dra. Helena Dentista",
        "agendada",
        "whatsapp",
        "Plano</th>" if False else f"#{full_record['plan'].id}",
        "R$ 250,00",
        "R$ 125,00",
        "R$ 50,00",
        "saldo R$ 200,00",
        "sensibilidade ao frio",
        "Ibuprofeno 400 mg",
        "Cárie oclusal",
        "Limpeza semestral",
        "Caixa postal",
        "Pagamento de R$ 50,00",
    ):
        assert text in page, text
    for section in ("patient", "anamnesis", "appointments", "plans", "payments", "notes", "documents", "findings"):
        assert f'data-testid="dr-{section}"' in page
    assert 'data-testid="clinic-header"' in page and "app-header" not in page


def test_access_list_names_who_opened_and_who_changed(app, client, full_record):
    """A record view by the receptionist and changes by the dentist appear with their names and actions."""
    patient, receptionist = full_record["patient"], full_record["receptionist"]
    login(client, receptionist.username)
    assert client.get(f"/patients/{patient.id}").status_code == 200
    other = client.application.test_client()
    login_as(other, "admin", full_name="Alice Administradora")
    page = other.get(f"/patients/{patient.id}/data-report").get_data(as_text=True)
    access = page.split('data-testid="dr-access"', 1)[1]
    assert "Rita Recepção</td><td>abertura de prontuário" in access
    assert "Dra. Helena Dentista</td><td>criação</td><td>evolução clínica" in access
    assert "Dra. Helena Dentista</td><td>alteração</td><td>anamnese" in access
    assert "Rita Recepção</td><td>criação</td><td>cadastro" in access
    report = data_report.gather(patient.id)
    assert {"Rita Recepção", "Dra. Helena Dentista", "Alice Administradora"} <= set(report.readers)


def test_producing_the_report_is_audited(app, client, full_record):
    """Each production (page or JSON) writes a `data_report` audit event by the producer, about the patient."""
    patient = full_record["patient"]
    admin = login_as(client, "admin")
    client.get(f"/patients/{patient.id}/data-report")
    client.get(f"/patients/{patient.id}/data-report.json")
    events = audit_events(action="data_report")
    assert [(e.actor_user_id, e.patient_id, e.table_name, e.row_id) for e in events] == [
        (admin.id, patient.id, "patient", patient.id)
    ] * 2
    assert [json.loads(e.changes)["format"][1] for e in events] == ["html", "json"]


def test_json_download_parses_and_holds_everything(app, client, full_record):
    """The JSON file is an attachment that parses, with every kind of row and the access list."""
    patient = full_record["patient"]
    login_as(client, "admin")
    response = client.get(f"/patients/{patient.id}/data-report.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    data = json.loads(response.get_data(as_text=True))
    assert data["patient"]["full_name"] == "Paciente Completo"
    assert data["anamnesis"]["allergies"] == "Penicilina"
    for key in (
        "appointments",
        "appointment_contacts",
        "treatment_plans",
        "installments",
        "payments",
        "clinical_notes",
        "issued_documents",
        "tooth_findings",
        "recalls",
        "timeline",
        "access_log",
    ):
        assert data[key], key
    assert data["treatment_plans"][0]["items"][0]["price_cents"] == 25_000
    assert data["treatment_plans"][0]["balance_cents"] == 20_000
    assert data["recalls"][0]["attempts"][0]["notes"] == "Caixa postal"
    assert any(entry["action"] == "data_report" for entry in data["access_log"])


def test_the_patients_dentist_may_and_another_dentist_may_not(app, client, full_record):
    """The patient's dentist produces the report; a dentist with no appointment or plan gets 403 (page and JSON)."""
    patient = full_record["patient"]
    login(client, full_record["dentist"].username)
    assert client.get(f"/patients/{patient.id}/data-report").status_code == 200
    stranger = client.application.test_client()
    login_as(stranger, "dentist")
    assert stranger.get(f"/patients/{patient.id}/data-report").status_code == 403
    assert stranger.get(f"/patients/{patient.id}/data-report.json").status_code == 403
    assert len(audit_events(action="data_report")) == 1


def test_service_refuses_a_dentist_without_relation(app, full_record):
    """The rule lives in the service: PermissionDenied, and nothing audited."""
    stranger = make_dentist()
    with acting_as(stranger.id), pytest.raises(PermissionDenied):
        data_report.produce_data_report(full_record["patient"].id)
    assert audit_events(action="data_report") == []


def test_receptionist_is_refused(app, client, full_record):
    """Receptionists never produce the report (403 by the policy)."""
    login_as(client, "receptionist")
    assert client.get(f"/patients/{full_record['patient'].id}/data-report").status_code == 403


def test_unknown_patient_is_404(app, client):
    """No such patient: 404, not a 500."""
    login_as(client, "admin")
    assert client.get("/patients/987654/data-report").status_code == 404


def test_record_links_to_the_report_only_for_who_may(app, client, full_record):
    """The record tab offers the link to an administrator and the patient's dentist, not to another dentist."""
    patient = full_record["patient"]
    login(client, full_record["dentist"].username)
    assert 'data-testid="data-report-link"' in client.get(f"/patients/{patient.id}").get_data(as_text=True)
    stranger = client.application.test_client()
    login_as(stranger, "dentist")
    assert 'data-testid="data-report-link"' not in stranger.get(f"/patients/{patient.id}").get_data(as_text=True)


def test_query_count_does_not_grow_with_the_rows(app, client):
    """Gathering the report reads the same number of queries with 5 or 50 rows of each kind."""
    dentist = make_dentist()
    patient = make_patient()
    login_as(client, "admin")
    counts = []
    for total in (5, 45):
        with as_user(dentist):
            for n in range(total):
                notes.add_note(patient.id, f"Nota {n}")
                odontogram.record_finding(patient.id, 11 + n % 8, "caries", None, None)
        make_plan(patient=patient, dentist=dentist, prices=(1_000,) * 3)
        with count_queries(selects_only=True) as statements:
            assert client.get(f"/patients/{patient.id}/data-report").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_head_request_writes_no_event(app, client, full_record):
    """A HEAD request checks who may but gathers and audits nothing (as for the record itself)."""
    login_as(client, "admin")
    assert client.head(f"/patients/{full_record['patient'].id}/data-report").status_code == 200
    assert audit_events(action="data_report") == []
