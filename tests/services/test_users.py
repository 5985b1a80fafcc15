"""Staff accounts service: validation, updates, passwords, activation, authentication and their audit events."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import PACIENTES
from app.db.actor import acting_as
from app.db.types import utcnow
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.history import AuditEvent
from app.models.pacientes import Appointment
from app.models.users import User
from app.services import login_throttle, sessions, users
from app.services.errors import ConflictError, NotFound, ValidationError
from app.vocabulary import SessionEndReason
from tests.factories import PASSWORD, change_behind_the_session, make_patient, make_user
from tests.support import once_on_sqlite

NEW_PASSWORD = "outra-senha-forte-456"


def audit_events(action: str | None = None, row_id: int | None = None) -> list[AuditEvent]:
    """Audit rows relayed to history.db for the user table, oldest first (fresh snapshot)."""
    db.session.rollback()
    query = select(AuditEvent).where(AuditEvent.table_name == "user").order_by(AuditEvent.id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if row_id is not None:
        query = query.where(AuditEvent.row_id == row_id)
    return list(db.session.scalars(query))


def book_appointment(dentist_id: int, starts_in: timedelta, status: str = "scheduled") -> Appointment:
    """An appointment for a dentist, written straight through a unit of work (no agenda service needed)."""
    patient = make_patient()
    starts_at = utcnow() + starts_in
    with unit_of_work(PACIENTES):
        appointment = Appointment(
            patient_id=patient.id,
            dentist_user_id=dentist_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=30),
            status=status,
        )
        db.session.add(appointment)
    return appointment


def fresh(user_id: int) -> User:
    """The user row as stored now."""
    db.session.expire_all()
    return db.session.get(User, user_id)


# --- create -------------------------------------------------------------------------------------------------


def test_create_user_stores_normalised_account_with_scrypt_hash(app):
    """A new account keeps a lower-case username and a scrypt hash (never the password)."""
    user = make_user("dentist", username="  Dra.Ana ", email=" ana@clinica.com.br ", cro="SP-12345")
    stored = fresh(user.id)
    assert stored.username == "dra.ana"
    assert stored.email == "ana@clinica.com.br"
    assert stored.cro == "SP-12345"
    assert stored.password_hash.startswith("scrypt:") and PASSWORD not in stored.password_hash
    assert stored.is_active and stored.failed_logins == 0


def test_create_user_is_audited_without_secrets(app):
    """Creating an account writes one `create` event whose changes redact the hash."""
    user = make_user()
    [event] = audit_events("create", user.id)
    changes = json.loads(event.changes)
    assert changes["username"] == [None, user.username]
    assert changes["password_hash"] == [None, "[redacted]"]
    assert fresh(user.id).password_hash not in event.changes


def test_cro_is_dropped_for_non_dentists(app):
    """Only dentists keep a CRO number."""
    user = make_user("receptionist", cro="SP-999")
    assert fresh(user.id).cro is None


@once_on_sqlite
@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"username": "ab"}, "username"),
        ({"username": "maria silva"}, "username"),
        ({"username": "josé"}, "username"),
        ({"username": ""}, "username"),
        ({"full_name": "   "}, "full_name"),
        ({"role": "superuser"}, "role"),
        ({"email": "sem-arroba.com"}, "email"),
        ({"role": "dentist", "cro": "  "}, "cro"),
        ({"full_name": "N" * 121}, "full_name"),
        ({"email": "a" * 250 + "@x.com"}, "email"),
        ({"role": "dentist", "cro": "9" * 21}, "cro"),
        ({"password": "curta"}, "password"),
        ({"password": ""}, "password"),
    ],
)
def test_create_user_validation_names_the_field(app, overrides, field):
    """Each bad value is refused with a Portuguese message on its own field, and nothing is stored."""
    with pytest.raises(ValidationError) as excinfo:
        make_user(**overrides)
    assert field in excinfo.value.errors and excinfo.value.errors[field]
    assert users.count_users() == 0


def test_duplicate_username_is_refused_case_insensitively(app):
    """A username that already exists (whatever its case) is a field error, not a crash."""
    make_user(username="carla")
    with pytest.raises(ValidationError) as excinfo:
        make_user(username="CARLA")
    assert excinfo.value.errors == {"username": "Este nome de usuário já existe."}
    assert users.count_users() == 1


def test_setup_is_done_once_the_first_account_exists(app):
    """First-run setup is open until an account exists, then closed for good (cached: accounts are never deleted)."""
    assert users.setup_done() is False
    make_user("admin")
    assert users.setup_done() is True
    assert app.extensions[users.SETUP_DONE] is True


# --- update -------------------------------------------------------------------------------------------------


def test_update_user_changes_fields_and_audits_the_role_change(app):
    """A role change is stored and its audit event carries the old and the new role."""
    admin = make_user("admin")
    user = make_user("receptionist")
    with acting_as(admin.id):
        users.update_user(user.id, "Beatriz Souza", "dentist", email="bia@clinica.com.br", cro="RJ-4321")
    stored = fresh(user.id)
    assert (stored.full_name, stored.role, stored.cro) == ("Beatriz Souza", "dentist", "RJ-4321")
    [event] = audit_events("update", user.id)
    changes = json.loads(event.changes)
    assert changes["role"] == ["receptionist", "dentist"]
    assert changes["full_name"][1] == "Beatriz Souza"
    assert event.actor_user_id == admin.id


def test_update_user_validation_stores_nothing(app):
    """An invalid update leaves the account unchanged."""
    user = make_user("receptionist")
    with pytest.raises(ValidationError) as excinfo:
        users.update_user(user.id, "Outro Nome", "dentist")
    assert "cro" in excinfo.value.errors
    assert fresh(user.id).role == "receptionist"
    assert audit_events("update", user.id) == []


def test_demoting_the_last_admin_is_refused(app):
    """The clinic keeps at least one active administrator: the last one cannot lose the role."""
    admin = make_user("admin")
    with pytest.raises(ConflictError, match="administrador ativo"):
        users.update_user(admin.id, admin.full_name, "receptionist")
    assert fresh(admin.id).role == "admin"


def test_dentist_with_future_appointments_cannot_change_role(app):
    """A dentist still on the agenda cannot become a receptionist."""
    dentist = make_user("dentist")
    book_appointment(dentist.id, timedelta(days=2))
    with pytest.raises(ConflictError, match="consulta"):
        users.update_user(dentist.id, dentist.full_name, "receptionist")
    assert fresh(dentist.id).role == "dentist"


# --- set_password -------------------------------------------------------------------------------------------


def test_set_password_ends_every_session_and_replaces_the_hash(app):
    """A new password ends the account's open sessions and only the new password logs in."""
    user = make_user(username="davi")
    tokens = [users.authenticate("davi", PASSWORD).session_token for _ in range(2)]
    assert all(sessions.resolve(token).user.id == user.id for token in tokens)
    users.set_password(user.id, NEW_PASSWORD)
    assert [sessions.resolve(token).ended_because for token in tokens] == [SessionEndReason.PASSWORD_CHANGE] * 2
    assert users.authenticate("davi", PASSWORD).user is None
    assert users.authenticate("davi", NEW_PASSWORD).user.id == user.id


def test_password_change_audit_event_holds_no_hash(app):
    """The `password_change` event's changes contain neither the old nor the new hash, nor the password."""
    user = make_user()
    old_hash = fresh(user.id).password_hash
    users.set_password(user.id, NEW_PASSWORD)
    after = fresh(user.id)
    [event] = audit_events("password_change", user.id)
    for secret in (old_hash, after.password_hash, NEW_PASSWORD):
        assert secret not in event.changes
    assert json.loads(event.changes)["password_hash"] == ["[redacted]", "[redacted]"]


def test_set_password_refuses_a_short_password(app):
    """A password under the minimum length is a field error and the old password keeps working."""
    user = make_user(username="elis")
    with pytest.raises(ValidationError) as excinfo:
        users.set_password(user.id, "1234567")
    assert "password" in excinfo.value.errors
    assert users.authenticate("elis", PASSWORD).user is not None


def test_set_password_unlocks_a_locked_account(app):
    """An administrator's password reset clears the failure counter and the login delay."""
    user = make_user(username="fabio")
    for _ in range(users.MAX_FAILED_LOGINS):
        users.authenticate("fabio", "errada-errada")
    assert users.login_delays([fresh(user.id)]).keys() == {user.id}
    users.set_password(user.id, NEW_PASSWORD)
    assert users.authenticate("fabio", NEW_PASSWORD).user is not None


@once_on_sqlite
@pytest.mark.parametrize(
    "call",
    [
        lambda: users.update_user(9999, "Ninguém", "receptionist"),
        lambda: users.set_password(9999, NEW_PASSWORD),
        lambda: users.deactivate_user(9999, "saiu"),
        lambda: users.activate_user(9999),
    ],
    ids=["update", "set_password", "deactivate", "activate"],
)
def test_unknown_user_id_is_not_found(app, call):
    """Acting on an account that does not exist raises NotFound."""
    with pytest.raises(NotFound, match="Usuário #9999"):
        call()


# --- deactivate / activate ----------------------------------------------------------------------------------


@once_on_sqlite
@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 501])
def test_deactivate_requires_a_written_reason(app, reason):
    """Deactivation without a reason (or with one longer than the column) is refused; the account stays active."""
    user = make_user()
    with pytest.raises(ValidationError) as excinfo:
        users.deactivate_user(user.id, reason)
    assert "reason" in excinfo.value.errors
    assert fresh(user.id).is_active


def test_deactivate_stores_reason_ends_sessions_and_is_audited(app):
    """Deactivation keeps the reason, ends the user's sessions and writes a `deactivate` event."""
    user = make_user()
    token = users.authenticate(user.username, PASSWORD).session_token
    users.deactivate_user(user.id, "  Saiu da clínica  ")
    stored = fresh(user.id)
    assert not stored.is_active
    assert stored.deactivation_reason == "Saiu da clínica"
    assert sessions.resolve(token).ended_because == SessionEndReason.DEACTIVATED
    [event] = audit_events("deactivate", user.id)
    assert json.loads(event.changes)["is_active"] == [True, False]


def test_deactivating_an_inactive_user_is_a_conflict(app):
    """Deactivating twice is refused."""
    user = make_user()
    users.deactivate_user(user.id, "férias longas")
    with pytest.raises(ConflictError, match="já está desativado"):
        users.deactivate_user(user.id, "de novo")


@pytest.mark.parametrize(
    "starts_in, status, refused",
    [
        (timedelta(days=1), "scheduled", True),
        (timedelta(days=30), "confirmed", True),
        (timedelta(days=1), "cancelled", False),
        (timedelta(days=-1), "scheduled", False),
        (timedelta(days=-1), "attended", False),
    ],
    ids=["future-scheduled", "future-confirmed", "future-cancelled", "past-scheduled", "past-attended"],
)
def test_dentist_deactivation_depends_on_future_appointments(app, starts_in, status, refused):
    """A dentist with future scheduled/confirmed appointments cannot be deactivated; past or cancelled ones are fine."""
    dentist = make_user("dentist")
    book_appointment(dentist.id, starts_in, status)
    if refused:
        with pytest.raises(ConflictError, match="1 consulta"):
            users.deactivate_user(dentist.id, "aposentou")
        assert fresh(dentist.id).is_active
    else:
        users.deactivate_user(dentist.id, "aposentou")
        assert not fresh(dentist.id).is_active


def test_last_active_admin_cannot_be_deactivated(app):
    """With two admins one may go; the remaining one may not."""
    first, second = make_user("admin"), make_user("admin")
    users.deactivate_user(first.id, "mudou de cidade")
    with pytest.raises(ConflictError, match="administrador ativo"):
        users.deactivate_user(second.id, "engano")
    assert fresh(second.id).is_active


def test_nobody_deactivates_their_own_account(app):
    """The acting user cannot deactivate their own account, even with another admin left; a colleague may."""
    first, second = make_user("admin"), make_user("admin")
    with acting_as(first.id):
        with pytest.raises(ConflictError) as excinfo:
            users.deactivate_user(first.id, "engano")
        assert excinfo.value.message == users.OWN_ACCOUNT_MESSAGE == "Você não pode desativar a própria conta."
        assert fresh(first.id).is_active
        users.deactivate_user(second.id, "saiu da clínica")
    assert not fresh(second.id).is_active


def test_without_an_acting_account_only_the_other_rules_apply(app):
    """The command line acts with no account: the own-account rule cannot trigger, the last-admin rule still does."""
    first, second = make_user("admin"), make_user("admin")
    with acting_as(None, request_path="cli:users deactivate"):
        users.deactivate_user(first.id, "saiu")
        with pytest.raises(ConflictError, match="administrador ativo"):
            users.deactivate_user(second.id, "engano")


def test_activate_restores_the_account_and_is_audited(app):
    """Activation clears the reason and the lock and writes an `activate` event."""
    user = make_user(username="gil")
    users.deactivate_user(user.id, "licença")
    users.activate_user(user.id)
    stored = fresh(user.id)
    assert stored.is_active and stored.deactivation_reason is None and stored.failed_logins == 0
    [event] = audit_events("activate", user.id)
    assert json.loads(event.changes)["is_active"] == [False, True]
    assert users.authenticate("gil", PASSWORD).user is not None


def test_activating_an_active_user_is_a_conflict(app):
    """Activating an account that is already active is refused."""
    user = make_user()
    with pytest.raises(ConflictError, match="já está ativo"):
        users.activate_user(user.id)


@pytest.mark.parametrize(
    "stored, change, refusal",
    [
        ({"is_active": False}, lambda user: users.activate_user(user.id), None),
        ({"is_active": False}, lambda user: users.deactivate_user(user.id, "saiu"), "já está desativado"),
        ({"role": "admin"}, lambda user: users.update_user(user.id, "Nome Novo", "receptionist"), "administrador"),
    ],
    ids=["activate", "deactivate", "update"],
)
def test_changes_decide_on_the_stored_account(app, stored, change, refusal):
    """A change re-reads the account (locks.get_for_update), so the session's older copy cannot mislead it."""
    user = make_user()
    change_behind_the_session(user, **stored)
    if refusal is None:
        change(user)
    else:
        with pytest.raises(ConflictError, match=refusal):
            change(user)


# --- authenticate -------------------------------------------------------------------------------------------


def test_authenticate_success_records_login(app):
    """Right credentials return the user, stamp the last login, reset failures and write a `login` event."""
    user = make_user(username="helena")
    users.authenticate("helena", "errada-errada")
    result = users.authenticate("  HELENA ", PASSWORD)
    assert result.user.id == user.id and result.message is None
    stored = fresh(user.id)
    assert stored.last_login_at is not None and stored.failed_logins == 0
    assert [e.action for e in audit_events(row_id=user.id)][-2:] == ["login_failed", "login"]


def test_wrong_password_counts_a_failure(app):
    """A wrong password fails with the generic message, counts the failure and writes `login_failed`."""
    user = make_user(username="igor")
    result = users.authenticate("igor", "errada-errada")
    assert result.user is None and result.message == users.FAILED_MESSAGE
    assert fresh(user.id).failed_logins == 1
    assert len(audit_events("login_failed", user.id)) == 1


def test_unknown_username_fails_like_a_wrong_password(app):
    """An unknown username gets the same message; the audit says an unknown name was tried, not which."""
    result = users.authenticate("ninguem", PASSWORD)
    assert result.user is None and result.message == users.FAILED_MESSAGE
    [event] = audit_events("login_failed")
    assert event.row_id is None
    assert json.loads(event.changes) == {"unknown_username": [None, True]}
    assert "ninguem" not in event.changes


def test_inactive_user_cannot_log_in_even_with_the_right_password(app):
    """A deactivated account is refused with the generic message and the attempt is audited."""
    user = make_user(username="joana")
    users.deactivate_user(user.id, "desligada")
    result = users.authenticate("joana", PASSWORD)
    assert result.user is None and result.message == users.FAILED_MESSAGE
    assert len(audit_events("login_failed", user.id)) == 1


def test_failures_delay_that_username_from_that_address_then_it_lifts(app, monkeypatch):
    """MAX_FAILED_LOGINS failures from one address delay that account from there; afterwards the password works."""
    user = make_user(username="karla")
    with acting_as(None, "/login", "10.0.0.9"):
        for _ in range(users.MAX_FAILED_LOGINS):
            assert users.authenticate("karla", "errada-errada").message == users.FAILED_MESSAGE
        assert len(audit_events("lockout", user.id)) == 1
        refused = users.authenticate("karla", PASSWORD)
        assert refused.user is None and refused.message == users.FAILED_MESSAGE
        assert len(audit_events("login_refused_locked", user.id)) == 1
        later = utcnow() + login_throttle.FIRST_DELAY + timedelta(seconds=1)
        monkeypatch.setattr(users, "utcnow", lambda: later)
        assert users.authenticate("karla", PASSWORD).user.id == user.id
    stored = fresh(user.id)
    assert stored.failed_logins == 0 and users.login_delays([stored]) == {}


def test_delay_still_holds_just_before_it_ends(app, monkeypatch):
    """One second before the delay ends, the right password is still refused from that address."""
    make_user(username="lara")
    for _ in range(users.MAX_FAILED_LOGINS):
        users.authenticate("lara", "errada-errada")
    [until] = users.login_delays(users.list_users()).values()
    monkeypatch.setattr(users, "utcnow", lambda: until - timedelta(seconds=1))
    assert users.authenticate("lara", PASSWORD).user is None


def test_logout_ends_the_session_and_is_audited(app):
    """Ending a session by its token (logout) writes a `logout` event by the user; the token no longer resolves."""
    user = make_user()
    token = users.authenticate(user.username, PASSWORD).session_token
    with acting_as(user.id):
        assert sessions.end_session(token) is True
    assert sessions.resolve(token).user is None
    db.session.rollback()
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "logout")).all()
    assert event.actor_user_id == user.id and event.table_name == "staff_session"


def test_list_users_filters_inactive_accounts(app):
    """Inactive accounts are listed only when asked for."""
    active, inactive = make_user(full_name="Ana Ativa"), make_user(full_name="Bruno Inativo")
    users.deactivate_user(inactive.id, "saiu")
    assert [u.id for u in users.list_users()] == [active.id, inactive.id]
    assert [u.id for u in users.list_users(include_inactive=False)] == [active.id]


def test_successful_login_is_audited_with_the_user_as_actor(app):
    """The audit row of a login names the person who logged in, and where from."""
    from app.services.users import authenticate

    user = make_user("receptionist")
    with acting_as(None, "/login", "10.0.0.7"):
        assert authenticate(user.username, PASSWORD).user is not None
    db.session.rollback()
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login")).one()
    assert (event.actor_user_id, event.row_id, event.request_path, event.client_addr) == (
        user.id,
        user.id,
        "/login",
        "10.0.0.7",
    )


def test_wrong_current_password_counts_like_a_failed_login(app):
    """Changing one's own password with a wrong current one is refused, audited and counted towards lock-out."""
    user = make_user("dentist")
    with acting_as(user.id), pytest.raises(ValidationError) as refused:
        users.change_own_password(user.id, "not-my-password", "uma-senha-nova-1")
    assert set(refused.value.errors) == {"current_password"}
    db.session.rollback()
    assert db.session.get(User, user.id).failed_logins == 1
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.table_name == "user")).all()
    assert "password_change_failed" in actions
    with acting_as(user.id):
        users.change_own_password(user.id, PASSWORD, "uma-senha-nova-1")
    db.session.rollback()
    assert db.session.get(User, user.id).failed_logins == 0


def test_delay_doubles_with_each_further_failure_up_to_its_cap(app, monkeypatch):
    """Each failure after the free ones doubles the wait (30 s, 60 s, ...) and the wait never exceeds MAX_DELAY."""
    make_user(username="mila")
    clock = [utcnow()]
    monkeypatch.setattr(users, "utcnow", lambda: clock[0])
    waits = []
    for _ in range(users.MAX_FAILED_LOGINS + 8):
        users.authenticate("mila", "errada-errada")
        delays = users.login_delays(users.list_users())
        if delays:
            [until] = delays.values()
            waits.append(until - clock[0])
            clock[0] = until + timedelta(seconds=1)  # wait it out, then fail again
    first = login_throttle.FIRST_DELAY
    assert waits[:3] == [first, first * 2, first * 4]
    assert max(waits) == login_throttle.MAX_DELAY


def test_old_failures_are_forgotten(app, monkeypatch):
    """Consecutive failures older than RESET_AFTER no longer count toward a delay."""
    make_user(username="nina")
    for _ in range(users.MAX_FAILED_LOGINS - 1):
        users.authenticate("nina", "errada-errada")
    later = utcnow() + login_throttle.RESET_AFTER + timedelta(seconds=1)
    monkeypatch.setattr(users, "utcnow", lambda: later)
    users.authenticate("nina", "errada-errada")
    assert users.login_delays(users.list_users()) == {}
