"""Login, lock-out, logout, idle timeout, password change, safe `next`, and their audit events, through the web."""

import pytest

from app.models.users import User
from app.services.users import FAILED_MESSAGE, MAX_FAILED_LOGINS
from tests.factories import PASSWORD, make_patient, make_user
from tests.support import audit_events, fresh, login, login_as, post_form


@pytest.fixture
def receptionist(app):
    """An active receptionist account."""
    return make_user("receptionist", full_name="Rita Recepção")


def test_login_success_starts_a_session_and_is_audited(client, receptionist):
    """The right password logs in (dashboard greets by name) and leaves a `login` audit event for that account."""
    response = login(client, receptionist.username)
    assert response.status_code == 302 and response.location == "/"
    assert "Olá, Rita Recepção" in client.get("/").get_data(as_text=True)
    [event] = audit_events(action="login")
    assert event.row_id == receptionist.id
    assert event.request_path == "/login" and event.client_addr == "127.0.0.1"


def test_failed_login_shows_a_generic_message_and_is_audited(client, receptionist):
    """A wrong password stays on the form, says nothing about which part was wrong, and is audited."""
    response = login(client, receptionist.username, "senha-errada")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Usuário ou senha incorretos." in html
    assert f'value="{receptionist.username}"' in html
    assert [e.row_id for e in audit_events(action="login_failed")] == [receptionist.id]


def test_unknown_username_is_audited_without_what_was_typed(client, receptionist):
    """An unknown username gets the same message; the audit says an unknown name was tried, never the text
    (it may be a password typed in the wrong box)."""
    response = login(client, "minha-senha-secreta")
    assert "Usuário ou senha incorretos." in response.get_data(as_text=True)
    [event] = audit_events(action="login_failed")
    assert event.row_id is None and "unknown_username" in event.changes
    assert "minha-senha-secreta" not in event.changes


def test_repeated_failures_delay_the_account_from_that_address(client, receptionist):
    """After too many wrong passwords from one address even the right one is refused from there for a while,
    with the same message as any failure and a lock-out event."""
    for _ in range(MAX_FAILED_LOGINS):
        login(client, receptionist.username, "senha-errada")
    response = login(client, receptionist.username)
    assert response.status_code == 200
    assert FAILED_MESSAGE in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert len(audit_events(action="lockout")) == 1
    assert len(audit_events(action="login_refused_locked")) == 1
    assert fresh(User, receptionist.id).failed_logins == MAX_FAILED_LOGINS


def test_logout_is_post_only_and_audited(client, receptionist):
    """GET /logout is not allowed; POST ends the session and leaves a `logout` event."""
    login_as(client, "dentist")
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200
    response = post_form(client, "/logout")
    assert response.status_code == 302 and response.location == "/login"
    assert client.get("/").status_code == 302
    assert len(audit_events(action="logout")) == 1


def test_record_view_is_audited_with_actor_and_patient(client):
    """Opening a patient's record writes a `view_record` event with who, which patient, path and address."""
    user = login_as(client, "dentist")
    patient = make_patient()
    assert client.get(f"/patients/{patient.id}").status_code == 200
    [event] = audit_events(action="view_record")
    assert (event.actor_user_id, event.patient_id) == (user.id, patient.id)
    assert event.request_path == f"/patients/{patient.id}"


def test_login_clears_what_the_session_held_before(client, receptionist):
    """Session fixation: values planted in the anonymous session do not survive the login."""
    with client.session_transaction() as session:
        session["planted"] = "x"
    login(client, receptionist.username)
    with client.session_transaction() as session:
        assert "planted" not in session


def test_password_change_ends_other_sessions_but_keeps_this_one(app, client):
    """Changing the password logs out the user's other browsers; the one that changed it stays in."""
    user = login_as(client, "dentist")
    other = app.test_client()
    login(other, user.username)
    assert other.get("/").status_code == 200
    response = post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "password": "nova-senha-123", "confirm": "nova-senha-123"},
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert other.get("/").status_code == 302
    assert login(other, user.username, "nova-senha-123").location == "/"
    assert len(audit_events(action="password_change")) == 1


def test_password_change_needs_the_current_password(client):
    """A wrong current password is refused beside that field and nothing changes."""
    login_as(client, "receptionist")
    response = post_form(
        client,
        "/account/password",
        {"current_password": "errada", "password": "nova-senha-123", "confirm": "nova-senha-123"},
    )
    assert "Senha atual incorreta." in response.get_data(as_text=True)
    assert audit_events(action="password_change") == []


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/patients?q=ana", "/patients?q=ana"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_next_redirect_stays_on_this_site(client, receptionist, target, expected):
    """After login only a local path is followed; anything else goes to the dashboard (no open redirect)."""
    response = login(client, receptionist.username, next_path=target)
    assert response.status_code == 302
    assert response.location == expected


def test_protected_page_remembers_where_the_user_was_going(client, receptionist):
    """An anonymous visit to a page sends to login with `next`, and login returns there."""
    response = client.get("/patients?q=maria")
    assert response.location.startswith("/login?next=")
    follow = client.get(response.location)
    assert 'value="/patients?q=maria"' in follow.get_data(as_text=True)


def test_deactivated_user_session_ends(client, app):
    """Deactivating an account ends its open session at the next request."""
    user = login_as(client, "receptionist")
    admin = app.test_client()
    login_as(admin, "admin")
    post_form(admin, f"/admin/users/{user.id}/deactivate", {"reason": "Saiu da clínica"})
    assert client.get("/").status_code == 302
    assert login(client, user.username).status_code == 200
