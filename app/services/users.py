"""Staff accounts: create, update, passwords, activation, authentication with throttling."""

import functools
import re
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.db import USERS
from app.db.actor import acting_as, current_actor
from app.db.audit import label_change, record_event
from app.db.types import utcnow
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import Appointment
from app.models.users import User
from app.services import agenda, login_throttle, sessions
from app.services.errors import ConflictError, ValidationError
from app.services.guards import get_or_404
from app.services.locks import get_for_update
from app.services.validation import clean_text, column_limit, fit_column, parse_cro, parse_email, required_text
from app.vocabulary import Role, SessionEndReason

MAX_FAILED_LOGINS = login_throttle.FREE_FAILURES  # consecutive failures from one address before a delay
MIN_PASSWORD_LENGTH = 8
MAX_REASON = column_limit(User, "deactivation_reason")
USERNAME_RE = re.compile(r"^[a-z0-9_.-]{3,64}$")
SETUP_DONE = "sorriso_setup_done"  # app.extensions key: first-run setup is over
OWN_ACCOUNT_MESSAGE = "Você não pode desativar a própria conta."


@functools.cache
def _dummy_hash(method: str) -> str:
    """A hash to check an unknown username's password against, so timing does not reveal it (made on first use)."""
    return generate_password_hash("sorriso-dummy-password", method=method)


def hash_password(password: str) -> str:
    """A memory-hard scrypt hash (PASSWORD_HASH_METHOD; only the test suite lowers its cost)."""
    return generate_password_hash(password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


def _check_password(password: str | None) -> None:
    if not password or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError({"password": f"A senha deve ter pelo menos {MIN_PASSWORD_LENGTH} caracteres."})


def _clean_fields(full_name: str | None, role: str | None, email: str | None, cro: str | None) -> dict:
    """Validate the editable fields of an account (shared text check; only a dentist keeps a CRO, parsed)."""
    errors, clean = {}, {}
    parsers = {"full_name": clean_text, "email": parse_email, "cro": parse_cro}
    typed = {"full_name": full_name, "email": email, "cro": cro if role == Role.DENTIST else None}
    for name, value in typed.items():
        try:
            clean[name] = fit_column(parsers[name](value, name), User, name)
        except ValidationError as exc:
            errors.update(exc.errors)
    if not clean.get("full_name") and "full_name" not in errors:
        errors["full_name"] = "Informe o nome completo."
    if role not in Role.values():
        errors["role"] = "Papel inválido: use administrador, dentista ou recepcionista."
    if role == Role.DENTIST and not clean.get("cro") and "cro" not in errors:
        errors["cro"] = "Dentistas precisam do número de registro no CRO."
    if errors:
        raise ValidationError(errors)
    return {"full_name": clean["full_name"], "role": role, "email": clean["email"], "cro": clean["cro"]}


def create_user(
    username: str, full_name: str, role: str, password: str, email: str | None = None, cro: str | None = None
) -> User:
    """Create a staff account."""
    username = (username or "").strip().lower()
    if not USERNAME_RE.fullmatch(username):
        raise ValidationError({"username": "Use de 3 a 64 letras minúsculas, números, ponto, hífen ou sublinhado."})
    fields = _clean_fields(full_name, role, email, cro)
    _check_password(password)
    with unit_of_work(USERS):
        if db.session.scalar(select(User.id).where(User.username == username)) is not None:
            raise ValidationError({"username": "Este nome de usuário já existe."})
        user = User(username=username, password_hash=hash_password(password), **fields)
        db.session.add(user)
    return user


def count_users() -> int:
    """How many staff accounts exist."""
    return db.session.scalar(select(func.count()).select_from(User))


def setup_done() -> bool:
    """Whether first-run setup is over (an account exists); cached once true, since accounts are never deleted."""
    if current_app.extensions.get(SETUP_DONE):
        return True
    done = db.session.scalar(select(User.id).limit(1)) is not None
    if done:
        current_app.extensions[SETUP_DONE] = True
    return done


def list_users(include_inactive: bool = True) -> list[User]:
    """Staff accounts ordered by name."""
    query = select(User).order_by(User.full_name)
    if not include_inactive:
        query = query.where(User.is_active.is_(True))
    return list(db.session.scalars(query))


def update_user(user_id: int, full_name: str, role: str, email: str | None = None, cro: str | None = None) -> User:
    """Change name, role, e-mail or CRO; a role change is audited like any other change."""
    fields = _clean_fields(full_name, role, email, cro)
    with unit_of_work(USERS):
        user = get_for_update(User, user_id, "Usuário")
        if user.role == Role.DENTIST and fields["role"] != Role.DENTIST:
            _refuse_if_future_appointments(user, "mudar o papel")
        if user.role == Role.ADMIN and fields["role"] != Role.ADMIN:
            _refuse_if_last_admin(user)
        for name, value in fields.items():
            setattr(user, name, value)
    return user


def set_password(user_id: int, password: str) -> User:
    """Set a new password; every session of this user ends and its login delays are lifted."""
    _check_password(password)
    with unit_of_work(USERS):
        user = get_for_update(User, user_id, "Usuário")
        user.password_hash = hash_password(password)
        user.failed_logins = 0
        label_change(db.session, user, "password_change")
        sessions.end_user_sessions(user.id, SessionEndReason.PASSWORD_CHANGE)
        login_throttle.clear_account(user.username)
    return user


def refuse_own_deactivation(user_id: int) -> None:
    """Nobody deactivates the account they are acting with (the command line acts with none, so it never is)."""
    if user_id is not None and current_actor().user_id == user_id:
        raise ConflictError(OWN_ACCOUNT_MESSAGE)


def deactivate_user(user_id: int, reason: str) -> User:
    """Deactivate an account with a written reason; refused for one's own account, the last active admin,
    and a dentist with future appointments."""
    refuse_own_deactivation(user_id)
    reason = required_text(reason, "reason", "Informe o motivo da desativação.", MAX_REASON, multiline=True)
    with unit_of_work(USERS):
        user = get_for_update(User, user_id, "Usuário")
        if not user.is_active:
            raise ConflictError(f"{user.full_name} já está desativado.")
        if user.role == Role.DENTIST:
            _refuse_if_future_appointments(user, "desativar")
        if user.role == Role.ADMIN:
            _refuse_if_last_admin(user)
        user.is_active = False
        user.deactivation_reason = reason
        sessions.end_user_sessions(user.id, SessionEndReason.DEACTIVATED)
    return user


def activate_user(user_id: int) -> User:
    """Reactivate an account."""
    with unit_of_work(USERS):
        user = get_for_update(User, user_id, "Usuário")
        if user.is_active:
            raise ConflictError(f"{user.full_name} já está ativo.")
        user.is_active = True
        user.deactivation_reason = None
        user.failed_logins = 0
        login_throttle.clear_account(user.username)
    return user


def unlock_user(user_id: int) -> User:
    """An administrator lifts every login delay of an account and resets its failure count (audited)."""
    with unit_of_work(USERS):
        user = get_for_update(User, user_id, "Usuário")
        cleared = login_throttle.clear_account(user.username)
        if user.failed_logins:
            user.failed_logins = 0
            label_change(db.session, user, "unlock")
        else:
            record_event(db.session, USERS, "unlock", "user", user.id, changes={"delays_lifted": [None, cleared]})
    return user


def login_delays(accounts) -> dict[int, datetime]:
    """Accounts whose logins are being delayed from some address: user id -> when the delay ends."""
    by_name = {account.username: account.id for account in accounts}
    return {by_name[name]: until for name, until in login_throttle.blocked_accounts(by_name).items()}


def _refuse_if_future_appointments(user: User, what: str) -> None:
    """The reverse cross-bind check: a dentist with future appointments must be reassigned first."""
    count = db.session.scalar(
        select(func.count())
        .select_from(Appointment)
        .where(
            Appointment.dentist_user_id == user.id,
            Appointment.starts_at >= utcnow(),
            Appointment.status.in_(agenda.OPEN),
        )
    )
    if count:
        raise ConflictError(
            f"Não é possível {what} {user.full_name}: há {count} consulta(s) futura(s) na agenda. "
            "Remarque-as para outro dentista ou cancele-as antes."
        )


def _refuse_if_last_admin(user: User) -> None:
    """The clinic must keep at least one active administrator."""
    admins = db.session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.is_active.is_(True))
    )
    if admins <= 1:
        raise ConflictError("A clínica precisa de pelo menos um administrador ativo.")


@dataclass
class LoginResult:
    """The outcome of a login attempt: the user and the new session's token when it succeeded, else a message."""

    user: User | None
    message: str | None = None
    session_token: str | None = None


# One message for every failed login: it never tells whether the username exists, is delayed or inactive.
FAILED_MESSAGE = (
    "Usuário ou senha incorretos. Depois de várias tentativas erradas, aguarde alguns minutos antes de tentar de novo."
)
ADDRESS_BLOCKED_MESSAGE = (
    "Tentativas de entrada demais a partir deste computador. Aguarde 15 minutos ou peça ajuda ao administrador."
)
UNKNOWN_USERNAME = {"unknown_username": [None, True]}  # what is audited instead of a name no account has


def authenticate(username: str, password: str, user_agent: str | None = None) -> LoginResult:
    """Check credentials, throttle failures (login_throttle), audit every attempt, open a session on success.

    The scrypt check runs for every attempt the address may make (an unknown username is checked against a
    dummy hash, a delayed one against its real hash), before the write transaction, so the answer takes the
    same time whatever the username, and a login never holds users.db's write lock while hashing.
    A successful login is audited with the user as its actor.
    """
    username = (username or "").strip().lower()
    where, now = current_actor(), utcnow()
    if login_throttle.address_blocked(where.client_addr, now):
        with unit_of_work(USERS):
            record_event(db.session, USERS, "login_refused_address", "user", None)
        return LoginResult(None, ADDRESS_BLOCKED_MESSAGE)
    found = db.session.scalar(select(User).where(User.username == username))
    stored = found.password_hash if found else _dummy_hash(current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))
    password_ok = check_password_hash(stored, password or "")
    with unit_of_work(USERS):
        user = get_for_update(User, found.id, "Usuário") if found else None
        if login_throttle.account_blocked_until(username, where.client_addr, now):
            _audit_attempt(user, "login_refused_locked")
            return LoginResult(None, FAILED_MESSAGE)
        if user is None or not user.is_active or not password_ok:
            _count_failure(user, username, now, "login_failed")
            return LoginResult(None, FAILED_MESSAGE)
        login_throttle.clear_pair(username, where.client_addr)
        user.failed_logins, user.last_login_at = 0, now
        label_change(db.session, user, "login")
        with acting_as(user.id, where.request_path, where.client_addr):
            token = sessions.open_session(user, where.client_addr, user_agent)
            db.session.flush()  # the audit events are captured now, with the user as their actor
    return LoginResult(user, session_token=token)


def _audit_attempt(user: User | None, action: str) -> None:
    """Audit an attempt on an account, or on a name no account has (without the name: it may be a password)."""
    if user is not None:
        record_event(db.session, USERS, action, "user", user.id)
    else:
        record_event(db.session, USERS, action, "user", None, changes=UNKNOWN_USERNAME)


def _count_failure(user: User | None, username: str, now: datetime, action: str) -> None:
    """Count a wrong password (audited as `action`) for the throttle and the account; audit a delay it starts."""
    delayed_until = login_throttle.register_failure(username, current_actor().client_addr, now)
    if user is not None:
        user.failed_logins += 1
        label_change(db.session, user, action)
    else:
        _audit_attempt(None, action)
    if delayed_until is not None:
        record_event(
            db.session,
            USERS,
            "lockout",
            "user",
            user.id if user is not None else None,
            changes={"delayed_until": [None, delayed_until.isoformat()], **({} if user else UNKNOWN_USERNAME)},
        )


def change_own_password(user_id: int, current_password: str, new_password: str) -> User:
    """A user changes their own password; a wrong current password counts (and is throttled) like a failed login."""
    _check_password(new_password)
    found = get_or_404(User, user_id, "Usuário")
    password_ok = check_password_hash(found.password_hash, current_password or "")
    with unit_of_work(USERS):
        user, now = get_for_update(User, user_id, "Usuário"), utcnow()
        delayed = login_throttle.account_blocked_until(user.username, current_actor().client_addr, now)
        if delayed:
            _audit_attempt(user, "password_change_refused")
        elif not password_ok:
            _count_failure(user, user.username, now, "password_change_failed")
    if delayed or not password_ok:
        raise ValidationError({"current_password": "Senha atual incorreta."})
    return set_password(user_id, new_password)
