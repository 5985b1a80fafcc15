"""Reading a patient's record is audited whatever the client sends (finding 1 of the security review)."""

import pytest

from tests.factories import make_patient
from tests.support import audit_events, login, login_as

TABS = ["", "/anamnesis", "/appointments", "/plans", "/timeline", "/chart"]
TAB_FRAGMENT = {"HX-Request": "true", "HX-Target": "record-tabs"}


@pytest.mark.parametrize("tab", TABS)
def test_an_htmx_fragment_of_a_record_is_audited(client, tab):
    """Asking for only the tabs (HTMX headers) still writes the `view_record` event of that patient."""
    user = login_as(client, "receptionist")
    patient = make_patient(cpf="52998224725")
    response = client.get(f"/patients/{patient.id}{tab}", headers=TAB_FRAGMENT)
    assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)
    [event] = audit_events(action="view_record")
    assert (event.actor_user_id, event.patient_id) == (user.id, patient.id)


def test_one_event_per_visit_within_the_window(client):
    """Switching tabs of the same record in one login session is one visit: one event, decided by the server."""
    login_as(client, "dentist")
    patient = make_patient()
    for tab in TABS:
        assert client.get(f"/patients/{patient.id}{tab}").status_code == 200
        assert client.get(f"/patients/{patient.id}{tab}", headers=TAB_FRAGMENT).status_code == 200
    assert len(audit_events(action="view_record")) == 1


def test_another_patient_or_another_login_is_another_visit(app, client):
    """A different patient, or the same patient in a new login session, is audited again."""
    user = login_as(client, "dentist")
    first, second = make_patient(), make_patient()
    client.get(f"/patients/{first.id}")
    client.get(f"/patients/{second.id}/anamnesis", headers=TAB_FRAGMENT)
    other_browser = app.test_client()
    login(other_browser, user.username)
    other_browser.get(f"/patients/{first.id}/timeline", headers=TAB_FRAGMENT)
    assert [e.patient_id for e in audit_events(action="view_record")] == [first.id, second.id, first.id]


def test_every_read_is_audited_when_the_window_is_zero(app, client):
    """RECORD_VIEW_AUDIT_MINUTES=0 audits every page and fragment."""
    app.config["RECORD_VIEW_AUDIT_MINUTES"] = 0
    login_as(client, "receptionist")
    patient = make_patient()
    client.get(f"/patients/{patient.id}")
    client.get(f"/patients/{patient.id}/plans", headers=TAB_FRAGMENT)
    assert len(audit_events(action="view_record")) == 2


def test_head_writes_no_audit_event(client):
    """HEAD returns no patient data and writes nothing; the following GET is still audited."""
    login_as(client, "receptionist")
    patient = make_patient()
    response = client.head(f"/patients/{patient.id}")
    assert response.status_code == 200 and response.get_data() == b""
    assert audit_events(action="view_record") == []
    client.get(f"/patients/{patient.id}")
    assert len(audit_events(action="view_record")) == 1
