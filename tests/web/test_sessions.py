"""Server-side sessions (logout, idle and absolute lifetime, admin list and end) and login throttling, via the web."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.db.types import utcnow
from app.extensions import db
from app.models.users import LoginThrottle, StaffSession, User
from app.services import login_throttle, sessions
from app.services import users as users_service
from app.services.users import ADDRESS_BLOCKED_MESSAGE, FAILED_MESSAGE, MAX_FAILED_LOGINS
from app.vocabulary import SessionEndReason
from tests.conftest import IsolatedClient, build_app, dispose
from tests.factories import PASSWORD, make_patient, make_user
from tests.support import audit_events, fresh, login, login_as, post_form


def _client_at(app, address: str):
    """A new browser on another machine of the network."""
    app.test_client_class = IsolatedClient
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = address
    return other


def _sessions_of(user_id: int) -> list[StaffSession]:
    db.session.rollback()
    return list(db.session.scalars(select(StaffSession).where(StaffSession.user_id == user_id)))


def _set_session_times(user_id: int, **values) -> None:
    """Move a user's session clocks back, as if time had passed (straight SQL: no service does this)."""
    db.session.rollback()
    db.session.execute(update(StaffSession).where(StaffSession.user_id == user_id).values(**values))
    db.session.commit()


# --- finding 2: logout ends the session on the server -------------------------------------------------------


def test_logout_ends_the_session_on_the_server_so_a_saved_cookie_is_useless(app, client):
    """A cookie saved before POST /logout no longer opens a record when replayed afterwards."""
    login_as(client, "receptionist")
    patient = make_patient()
    saved = client.get_cookie("session").value
    assert client.get(f"/patients/{patient.id}").status_code == 200
    post_form(client, "/logout")
    replay = _client_at(app, "127.0.0.1")
    replay.set_cookie("session", saved)
    response = replay.get(f"/patients/{patient.id}")
    assert response.status_code == 302 and response.location == "/login"


def test_login_stores_a_session_row_with_address_and_browser_but_not_the_token(app, client):
    """The cookie holds an opaque token; users.db keeps only its hash, with when, where and which browser."""
    client.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (Recepção)"
    user = login_as(client, "receptionist")
    [row] = _sessions_of(user.id)
    assert (row.client_addr, row.user_agent, row.ended_at) == ("127.0.0.1", "Mozilla/5.0 (Recepção)", None)
    with client.session_transaction() as cookie:
        token = cookie["sid"]
    assert row.token_hash == sessions.token_hash(token) and token not in row.token_hash
    assert [e.row_id for e in audit_events(action="session_start")] == [row.id]


def test_logout_marks_the_session_ended_and_is_audited(client):
    """Logging out stamps the session row as ended (reason logout) and writes one `logout` event."""
    user = login_as(client, "dentist")
    post_form(client, "/logout")
    [row] = _sessions_of(user.id)
    assert row.ended_at is not None and row.end_reason == SessionEndReason.LOGOUT
    [event] = audit_events(action="logout")
    assert (event.actor_user_id, event.table_name, event.row_id) == (user.id, "staff_session", row.id)


def test_idle_session_expires(client, app):
    """A session unused for longer than IDLE_TIMEOUT_MINUTES is ended on the server and the user is told why."""
    user = login_as(client, "receptionist")
    idle = utcnow() - timedelta(minutes=app.config["IDLE_TIMEOUT_MINUTES"], seconds=5)
    _set_session_times(user.id, last_seen_at=idle)
    response = client.get("/patients")
    assert response.status_code == 302 and response.location == "/login"
    assert "expirou por inatividade" in client.get("/login").get_data(as_text=True)
    assert client.get("/").status_code == 302
    [row] = _sessions_of(user.id)
    assert row.end_reason == SessionEndReason.IDLE
    assert len(audit_events(action="session_end")) == 1


def test_active_session_is_kept_alive(client, app):
    """A request within the idle timeout keeps the session and renews its clock on the server."""
    user = login_as(client, "receptionist")
    almost = utcnow() - timedelta(minutes=app.config["IDLE_TIMEOUT_MINUTES"]) + timedelta(seconds=30)
    _set_session_times(user.id, last_seen_at=almost)
    assert client.get("/").status_code == 200
    [row] = _sessions_of(user.id)
    assert row.last_seen_at > almost + timedelta(minutes=1) and row.ended_at is None


def test_absolute_lifetime_ends_a_session_in_constant_use(client, app):
    """A session older than SESSION_LIFETIME_HOURS ends even if it was used a moment ago."""
    user = login_as(client, "receptionist")
    old = utcnow() - timedelta(hours=app.config["SESSION_LIFETIME_HOURS"], minutes=1)
    _set_session_times(user.id, created_at=old, last_seen_at=utcnow())
    response = client.get("/")
    assert response.status_code == 302 and response.location == "/login"
    assert "tempo máximo" in client.get("/login").get_data(as_text=True)
    assert _sessions_of(user.id)[0].end_reason == SessionEndReason.EXPIRED


def test_session_lifetime_is_configurable(db_dir):
    """SESSION_LIFETIME_HOURS comes from the configuration (12 h by default)."""
    assert build_app(db_dir).config["SESSION_LIFETIME_HOURS"] == 12
    assert build_app(db_dir, SESSION_LIFETIME_HOURS=2).config["SESSION_LIFETIME_HOURS"] == 2


def test_admin_password_reset_ends_every_session_of_that_user(app, client):
    """An administrator's reset logs the account out of every browser."""
    user = login_as(client, "receptionist")
    admin = _client_at(app, "127.0.0.2")
    login_as(admin, "admin")
    post_form(admin, f"/admin/users/{user.id}/password", {"password": "nova-senha-123", "confirm": "nova-senha-123"})
    assert client.get("/").status_code == 302
    assert [r.end_reason for r in _sessions_of(user.id)] == [SessionEndReason.PASSWORD_CHANGE]


def test_admin_sees_a_users_sessions_and_ends_one(app, client):
    """The sessions page lists each live session with address and browser; ending one logs that browser out."""
    user = login_as(client, "dentist")
    laptop = _client_at(app, "192.168.0.20")
    laptop.environ_base["HTTP_USER_AGENT"] = "Firefox do consultório"
    login(laptop, user.username)
    admin = _client_at(app, "192.168.0.2")
    login_as(admin, "admin")
    html = admin.get(f"/admin/users/{user.id}/sessions").get_data(as_text=True)
    assert "192.168.0.20" in html and "Firefox do consultório" in html and "127.0.0.1" in html
    laptop_session = next(r for r in _sessions_of(user.id) if r.client_addr == "192.168.0.20")
    response = post_form(admin, f"/admin/users/{user.id}/sessions/{laptop_session.id}/end", token_page="/admin/users")
    assert response.status_code == 302
    assert laptop.get("/").status_code == 302
    assert client.get("/").status_code == 200
    [event] = audit_events(action="session_end")
    assert event.row_id == laptop_session.id and '"admin"' in event.changes
    html = admin.get(f"/admin/users/{user.id}/sessions").get_data(as_text=True)
    assert "192.168.0.20" not in html


def test_admin_ends_all_sessions_of_a_user(app, client):
    """'Encerrar todas' ends every live session of the account."""
    user = login_as(client, "receptionist")
    admin = _client_at(app, "10.1.1.1")
    login_as(admin, "admin")
    post_form(admin, f"/admin/users/{user.id}/sessions/end-all", token_page="/admin/users")
    assert client.get("/").status_code == 302
    assert sessions.active_sessions(user.id) == []


def test_ending_a_session_of_another_user_is_not_found(app, client):
    """A session id must belong to the account in the URL."""
    user = login_as(client, "receptionist")
    other = make_user("receptionist")
    admin = _client_at(app, "10.1.1.1")
    login_as(admin, "admin")
    [row] = _sessions_of(user.id)
    response = post_form(admin, f"/admin/users/{other.id}/sessions/{row.id}/end", token_page="/admin/users")
    assert response.status_code == 404
    assert client.get("/").status_code == 200


# --- finding 3: throttling without revealing accounts or locking real users out ----------------------------


def test_every_failed_login_gets_the_same_message(app, client):
    """Wrong password, unknown name, inactive account and a delayed account all read alike."""
    active, inactive = make_user("receptionist"), make_user("receptionist")
    users_service.deactivate_user(inactive.id, "saiu")
    delayed = make_user("receptionist")
    for _ in range(MAX_FAILED_LOGINS):
        login(client, delayed.username, "errada-123")
    answers = {
        "wrong password": login(client, active.username, "errada-123"),
        "unknown": login(client, "nao-existe"),
        "inactive": login(client, inactive.username),
        "delayed, right password": login(client, delayed.username),
    }
    for name, response in answers.items():
        html = response.get_data(as_text=True)
        assert response.status_code == 200, name
        assert FAILED_MESSAGE in html, name
        assert "bloquead" not in html.lower(), name


def test_every_failed_login_runs_the_password_hash_once(app, client, monkeypatch):
    """Same timing: the scrypt check runs once for a wrong password, an unknown name and a delayed account."""
    calls = []
    real = users_service.check_password_hash
    monkeypatch.setattr(users_service, "check_password_hash", lambda *a: calls.append(1) or real(*a))
    user = make_user("receptionist")
    for _ in range(MAX_FAILED_LOGINS):
        login(client, user.username, "errada-123")
    for username, password in ((user.username, PASSWORD), ("nao-existe", "x"), (user.username, "errada")):
        calls.clear()
        login(client, username, password)
        assert calls == [1], username


def test_failures_from_elsewhere_do_not_keep_a_real_user_out(app, client):
    """An attacker's wrong passwords from another machine never stop the user logging in from their own."""
    user = make_user("receptionist")
    attacker = _client_at(app, "10.9.9.9")
    for _ in range(MAX_FAILED_LOGINS * 3):
        login(attacker, user.username, "chute-errado")
    assert login(attacker, user.username).status_code == 200  # the attacker's address is delayed...
    response = login(client, user.username)  # ...the user's is not
    assert response.status_code == 302 and response.location == "/"


def test_too_many_failures_from_one_address_refuse_that_address(app, client, monkeypatch):
    """Password spraying: many usernames from one address get that address refused; others are unaffected."""
    monkeypatch.setattr(login_throttle, "ADDRESS_LIMIT", 4)
    user = make_user("receptionist")
    sprayer = _client_at(app, "10.6.6.6")
    for name in ("ana", "bia", "caio", "davi"):
        login(sprayer, name, "123456")
    response = login(sprayer, user.username)
    assert ADDRESS_BLOCKED_MESSAGE in response.get_data(as_text=True)
    assert len(audit_events(action="login_refused_address")) == 1
    assert login(client, user.username).location == "/"


def test_throttle_counters_are_shared_by_every_worker(db_dir):
    """Two app instances (two gunicorn workers) on the same databases see the same failure counters."""
    first, second = build_app(db_dir), build_app(db_dir)
    try:
        with first.app_context():
            user = make_user("receptionist")
            client_one = _client_at(first, "10.2.2.2")
            for _ in range(MAX_FAILED_LOGINS):
                login(client_one, user.username, "errada-123")
        with second.app_context():
            response = login(_client_at(second, "10.2.2.2"), user.username)
            assert response.status_code == 200 and FAILED_MESSAGE in response.get_data(as_text=True)
            assert db.session.scalar(select(LoginThrottle.failures).where(LoginThrottle.key.like("acct:%"))) == (
                MAX_FAILED_LOGINS
            )
    finally:
        dispose(first)
        dispose(second)


def test_throttle_rows_never_hold_the_typed_username(app, client):
    """What was typed as a username is kept only as an HMAC (it may be a password typed in the wrong box)."""
    make_user("admin")  # setup done: the login page is there
    login(client, "Senha-Do-Banco-123", "x")
    keys = db.session.execute(select(LoginThrottle.key, LoginThrottle.account_key)).all()
    assert keys and all("senha-do-banco" not in (key + (account or "")).lower() for key, account in keys)


def test_admin_unlocks_a_delayed_account(app, client):
    """The administrator sees the delay on the staff list and lifts it; the right password works at once."""
    user = make_user("receptionist", full_name="Rita Recepção")
    for _ in range(MAX_FAILED_LOGINS):
        login(client, user.username, "errada-123")
    admin = _client_at(app, "10.1.1.1")
    login_as(admin, "admin")
    assert "Entrada bloqueada até" in admin.get("/admin/users").get_data(as_text=True)
    response = post_form(admin, f"/admin/users/{user.id}/unlock", token_page="/admin/users")
    assert response.status_code == 302
    assert "Entrada bloqueada até" not in admin.get("/admin/users").get_data(as_text=True)
    assert login(client, user.username).location == "/"
    assert [e.row_id for e in audit_events(action="unlock")] == [user.id]
    assert fresh(User, user.id).failed_logins == 0


@pytest.mark.parametrize("action", ["sessions", "unlock"])
def test_session_and_unlock_pages_are_for_admins_only(client, action):
    """A receptionist cannot list sessions or unlock accounts."""
    user = login_as(client, "receptionist")
    if action == "sessions":
        assert client.get(f"/admin/users/{user.id}/sessions").status_code == 403
    else:
        assert post_form(client, f"/admin/users/{user.id}/unlock").status_code == 403
