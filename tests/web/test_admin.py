"""Admin pages: staff accounts, the audit log viewer with its filters, the system page."""

import re
import sqlite3

import pytest

from app.db.probe import head_revision
from app.extensions import db
from app.models.users import User
from tests.factories import PASSWORD, make_patient, make_user
from tests.support import audit_events, fresh, login, login_as, post_form

NEW_ACCOUNT = {
    "full_name": "Davi Dentista",
    "username": "davi",
    "role": "dentist",
    "cro": "SP-12345",
    "email": "davi@clinica.example",
    "password": "senha-davi-1",
    "confirm": "senha-davi-1",
}


@pytest.fixture
def admin(client):
    """A client logged in as an administrator."""
    login_as(client, "admin", full_name="Alice Admin")
    return client


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_admin_creates_an_account_that_can_log_in(app, admin):
    """A new dentist account appears in the list with its role and can log in."""
    response = post_form(admin, "/admin/users/new", NEW_ACCOUNT)
    assert response.status_code == 302
    listing = _text(admin.get("/admin/users"))
    assert "Davi Dentista" in listing and "CRO SP-12345" in listing
    other = app.test_client()
    assert login(other, "davi", "senha-davi-1").location == "/"


def test_account_form_errors_are_shown_beside_fields(app, admin):
    """A dentist without CRO and a taken username are explained next to their fields; input is kept."""
    make_user("receptionist", username="davi")
    response = post_form(admin, "/admin/users/new", {**NEW_ACCOUNT, "cro": ""})
    page = _text(response)
    assert 'id="cro-help" class="field-error">Dentistas precisam do número de registro no CRO.' in page
    assert 'value="Davi Dentista"' in page
    response = post_form(admin, "/admin/users/new", NEW_ACCOUNT)
    assert 'id="username-help" class="field-error">Este nome de usuário já existe.' in _text(response)


def test_role_change_is_saved_and_audited_with_old_and_new_values(app, admin):
    """Editing the role updates the account, and the audit viewer shows role: receptionist → admin."""
    user = make_user("receptionist", full_name="Rita Recepção")
    response = post_form(
        admin, f"/admin/users/{user.id}/edit", {"full_name": "Rita Recepção", "role": "admin", "email": "", "cro": ""}
    )
    assert response.status_code == 302
    assert fresh(User, user.id).role == "admin"
    page = _text(admin.get("/admin/audit", query_string={"table": "user", "action": "update"}))
    assert re.search(r"<strong>role</strong>: <del>receptionist</del> → <ins>admin</ins>", page)


def test_last_admin_cannot_lose_the_role(app, admin):
    """Demoting the only administrator is refused with the service's explanation."""
    me = audit_events(action="login")[0].row_id
    response = post_form(admin, f"/admin/users/{me}/edit", {"full_name": "Alice Admin", "role": "receptionist"})
    assert "pelo menos um administrador ativo" in _text(response)
    assert fresh(User, me).role == "admin"


def test_password_reset_ends_the_accounts_sessions(app, admin):
    """After an admin resets a password, that account's open session ends and the new password works."""
    user = make_user("receptionist")
    other = app.test_client()
    login(other, user.username)
    assert other.get("/").status_code == 200
    response = post_form(
        admin, f"/admin/users/{user.id}/password", {"password": "trocada-123", "confirm": "trocada-123"}
    )
    assert response.status_code == 302
    assert other.get("/").status_code == 302
    assert login(other, user.username, PASSWORD).status_code == 200
    assert login(other, user.username, "trocada-123").location == "/"


def test_deactivate_needs_a_reason_then_activate_restores(app, admin):
    """Deactivation without a reason is refused; with one the account cannot log in until reactivated."""
    user = make_user("receptionist")
    response = post_form(admin, f"/admin/users/{user.id}/deactivate", {"reason": ""})
    assert "Informe o motivo da desativação." in _text(response)
    post_form(admin, f"/admin/users/{user.id}/deactivate", {"reason": "Licença"})
    other = app.test_client()
    assert login(other, user.username).status_code == 200
    post_form(admin, f"/admin/users/{user.id}/activate")
    assert login(other, user.username).location == "/"
    assert [
        e.action for e in audit_events(table_name="user", row_id=user.id) if e.action in ("activate", "deactivate")
    ] == ["deactivate", "activate"]


def test_admin_cannot_deactivate_themselves(app, admin):
    """The deactivate page refuses one's own account."""
    me = audit_events(action="login")[0].row_id
    response = admin.get(f"/admin/users/{me}/deactivate", follow_redirects=True)
    assert "não pode desativar a própria conta" in _text(response)
    assert fresh(User, me).is_active


@pytest.fixture
def audit_data(app):
    """Two staff members, each registering one patient, so the log has distinct actors and patients."""
    ana, bia = make_user("receptionist", full_name="Ana Lima"), make_user("receptionist", full_name="Bia Reis")
    p1 = make_patient(actor_id=ana.id, full_name="Paciente Um")
    p2 = make_patient(actor_id=bia.id, full_name="Paciente Dois")
    return {"ana": ana, "bia": bia, "p1": p1, "p2": p2}


def _audited_patients(page: str) -> list[str]:
    """Patient names in the audit table's patient column."""
    return re.findall(r'<a href="/admin/audit\?patient=\d+">([^<]+)</a>', page)


@pytest.mark.parametrize(
    "filters, expected",
    [
        (lambda d: {"user": d["ana"].id, "table": "patient"}, ["Paciente Um"]),
        (lambda d: {"patient": d["p2"].id}, ["Paciente Dois", "Paciente Dois"]),  # the patient and its anamnesis
        (lambda d: {"action": "create", "table": "patient"}, ["Paciente Dois", "Paciente Um"]),
        (lambda d: {"table": "anamnesis"}, ["Paciente Dois", "Paciente Um"]),
        (lambda d: {"table": "patient", "from": "2000-01-01", "to": "2000-12-31"}, []),
    ],
)
def test_audit_viewer_filters(app, admin, audit_data, filters, expected):
    """User, patient, action, table and date range narrow the log; newest first."""
    page = _text(admin.get("/admin/audit", query_string=filters(audit_data)))
    assert _audited_patients(page) == expected


def test_audit_viewer_date_filter_includes_today(app, admin, audit_data):
    """A range ending today (clinic time) includes today's events."""
    from app.services.clock import clinic_day

    today = clinic_day().isoformat()
    page = _text(admin.get("/admin/audit", query_string={"table": "patient", "from": today, "to": today}))
    assert sorted(_audited_patients(page)) == ["Paciente Dois", "Paciente Um"]


def test_audit_viewer_ignores_garbage_filters(app, admin, audit_data):
    """Malformed filter values are ignored rather than crashing the page."""
    response = admin.get("/admin/audit", query_string={"user": "abc", "from": "31/12/2020", "page": "-3"})
    assert response.status_code == 200


def test_audit_viewer_shows_who_did_it(app, admin, audit_data):
    """Each row names the staff member who acted."""
    page = _text(admin.get("/admin/audit", query_string={"patient": audit_data["p1"].id, "table": "patient"}))
    assert re.findall(r'<td class="actor">([^<]+)</td>', page) == ["Ana Lima"]


def test_secrets_never_reach_the_audit_viewer(app, admin):
    """Password hashes and session tokens show only as [redacted]."""
    user = make_user("receptionist")
    page = _text(admin.get("/admin/audit", query_string={"table": "user"}))
    assert "[redacted]" in page
    assert fresh(User, user.id).password_hash not in page


def test_system_page_reports_each_database(app, admin, db_dir):
    """Journal mode, synchronous, revision vs head, size and pending outbox for the three binds, SQLite version."""
    page = _text(admin.get("/admin/system"))
    for bind in ("pacientes", "users", "history"):
        assert f"<strong>{bind}</strong>" in page
    assert page.count("<td>WAL</td>") == 3 and page.count("<td>FULL</td>") == 3
    assert page.count(f"{head_revision()} / {head_revision()}") == 3
    assert sqlite3.sqlite_version in page
    assert "em dia" in page


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("full_name", "Davi\x00Dentista", "Contém caracteres de controle não permitidos."),
        ("full_name", "Davi\u202eatsitneD", "Contém caracteres de controle não permitidos."),
        ("cro", "SP-\x0012345", "Contém caracteres de controle não permitidos."),
        ("cro", "12345", "CRO inválido: informe a UF e o número (até 6 dígitos), como SP-12345."),
        ("cro", "XX-12345", "CRO inválido: XX não é uma UF."),
    ],
)
def test_bad_staff_name_or_cro_is_refused_beside_the_field(app, admin, field, value, message):
    """A staff name with control characters or a CRO without a valid state: error beside it, no account changes."""
    dentist = make_user("dentist", full_name="Dra. Ana", cro="SP-1234")
    created = post_form(admin, "/admin/users/new", {**NEW_ACCOUNT, field: value})
    edited = post_form(admin, f"/admin/users/{dentist.id}/edit", {**NEW_ACCOUNT, field: value})
    for response in (created, edited):
        assert response.status_code == 200
        assert f'id="{field}-help" class="field-error">{message}' in _text(response)
    stored = fresh(User, dentist.id)
    assert (stored.full_name, stored.cro) == ("Dra. Ana", "SP-1234")
    assert db.session.query(User).filter_by(username="davi").count() == 0


def test_cro_typed_in_another_usual_form_is_stored_in_one_form(app, admin):
    """`CRO-SP 12345` typed in the form is stored and listed as SP-12345."""
    response = post_form(admin, "/admin/users/new", {**NEW_ACCOUNT, "cro": "CRO-SP 12345"})
    assert response.status_code == 302
    db.session.rollback()
    assert db.session.query(User).filter_by(username="davi").one().cro == "SP-12345"
    assert "CRO SP-12345" in _text(admin.get("/admin/users"))
