"""Staff accounts: create, update, passwords, activation, authentication with throttling and lock-out."""

import functools
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

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
from app.models.users import ROLES, User
from app.services.errors import ConflictError, ValidationError
from app.services.guards import get_or_404
from app.services.locks import get_for_update
from app.services.validation import clean_text, parse_cro, required_text

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8
MAX_REASON = 500
USERNAME_RE = re.compile(r"^[a-z0-9_.-]{3,64}$")


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
    errors, text = {}, {}
    typed = {"full_name": full_name, "email": email, "cro": cro if role == "dentist" else None}
    for name, value in typed.items():
        try:
            text[name] = clean_text(value, name)
        except ValidationError as exc:
            errors.update(exc.errors)
    full_name, email, cro = text.get("full_name"), text.get("email"), text.get("cro")
    if not full_name and "full_name" not in errors:
        errors["full_name"] = "Informe o nome completo."
    if role not in ROLES:
        errors["role"] = "Papel inválido: use administrador, dentista ou recepcionista."
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        errors["email"] = "E-mail inválido."
    if role == "dentist" and not cro and "cro" not in errors:
        errors["cro"] = "Dentistas precisam do número de registro no CRO."
    elif cro:
        try:
            cro = parse_cro(cro)
        except ValidationError as exc:
            errors.update(exc.errors)
    for name, value in (("full_name", full_name), ("email", email), ("cro", cro)):
        limit = User.__table__.c[name].type.length  # PostgreSQL refuses longer strings
        if value and len(value) > limit:
            errors.setdefault(name, f"Máximo de {limit} caracteres.")
    if errors:
        raise ValidationError(errors)
    return {"full_name": full_name, "role": role, "email": email, "cro": cro}


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
        user = User(
            username=username, password_hash=hash_password(password), session_token=secrets.token_hex(32), **fields
        )
        db.session.add(user)
    return user


def count_users() -> int:
    """How many staff accounts exist (zero means first-run setup)."""
    return db.session.scalar(select(func.count()).select_from(User))


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
        user = get_or_404(User, user_id, "Usuário")
        if user.role == "dentist" and fields["role"] != "dentist":
            _refuse_if_future_appointments(user, "mudar o papel")
        if user.role == "admin" and fields["role"] != "admin":
            _refuse_if_last_admin(user)
        for name, value in fields.items():
            setattr(user, name, value)
    return user


def set_password(user_id: int, password: str) -> User:
    """Set a new password; rotating the session token ends every other session of this user."""
    _check_password(password)
    with unit_of_work(USERS):
        user = get_or_404(User, user_id, "Usuário")
        user.password_hash = hash_password(password)
        user.session_token = secrets.token_hex(32)
        user.failed_logins, user.locked_until = 0, None
        label_change(db.session, user, "password_change")
    return user


def deactivate_user(user_id: int, reason: str) -> User:
    """Deactivate an account with a written reason; refused while a dentist has future appointments."""
    reason = required_text(reason, "reason", "Informe o motivo da desativação.", MAX_REASON, multiline=True)
    with unit_of_work(USERS):
        user = get_or_404(User, user_id, "Usuário")
        if not user.is_active:
            raise ConflictError(f"{user.full_name} já está desativado.")
        if user.role == "dentist":
            _refuse_if_future_appointments(user, "desativar")
        if user.role == "admin":
            _refuse_if_last_admin(user)
        user.is_active = False
        user.deactivation_reason = reason
        user.session_token = secrets.token_hex(32)
    return user


def activate_user(user_id: int) -> User:
    """Reactivate an account."""
    with unit_of_work(USERS):
        user = get_or_404(User, user_id, "Usuário")
        if user.is_active:
            raise ConflictError(f"{user.full_name} já está ativo.")
        user.is_active = True
        user.deactivation_reason = None
        user.failed_logins, user.locked_until = 0, None
    return user


def _refuse_if_future_appointments(user: User, what: str) -> None:
    """The reverse cross-bind check: a dentist with future appointments must be reassigned first."""
    count = db.session.scalar(
        select(func.count())
        .select_from(Appointment)
        .where(
            Appointment.dentist_user_id == user.id,
            Appointment.starts_at >= utcnow(),
            Appointment.status.in_(("scheduled", "confirmed")),
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
        select(func.count()).select_from(User).where(User.role == "admin", User.is_active.is_(True))
    )
    if admins <= 1:
        raise ConflictError("A clínica precisa de pelo menos um administrador ativo.")


@dataclass
class LoginResult:
    """The outcome of a login attempt: `user` when it succeeded, else a message for the form."""

    user: User | None
    message: str | None = None
    locked_until: datetime | None = None


FAILED_MESSAGE = "Usuário ou senha incorretos."


def authenticate(username: str, password: str) -> LoginResult:
    """Check credentials; count failures, lock the account for a while after too many, audit every attempt.

    The slow scrypt check runs before the write transaction, so a login never holds users.db's write lock
    while hashing. A successful login is audited with the user as its actor.
    """
    username = (username or "").strip().lower()
    found = db.session.scalar(select(User).where(User.username == username))
    stored = found.password_hash if found else _dummy_hash(current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))
    password_ok = check_password_hash(stored, password or "")
    with unit_of_work(USERS):
        if found is None:
            record_event(db.session, USERS, "login_failed", "user", None, changes={"username": [None, username]})
            return LoginResult(None, FAILED_MESSAGE)
        user, now = get_for_update(User, found.id, "Usuário"), utcnow()
        if user.locked_until is not None and user.locked_until > now:
            record_event(db.session, USERS, "login_refused_locked", "user", user.id)
            return LoginResult(
                None,
                "Conta bloqueada temporariamente por excesso de tentativas. "
                "Tente de novo mais tarde ou peça ao administrador.",
                user.locked_until,
            )
        if not user.is_active or not password_ok:
            if _count_wrong_password(user, now, "login_failed"):
                return LoginResult(
                    None, "Conta bloqueada por 15 minutos após tentativas erradas demais.", user.locked_until
                )
            return LoginResult(None, FAILED_MESSAGE)
        user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
        label_change(db.session, user, "login")
        where = current_actor()
        with acting_as(user.id, where.request_path, where.client_addr):
            db.session.flush()  # the audit event is captured now, with the user as its actor
    return LoginResult(user)


def _count_wrong_password(user: User, now: datetime, action: str) -> bool:
    """Count a wrong password (audited as `action`); lock the account after too many. True when it just locked."""
    user.failed_logins += 1
    label_change(db.session, user, action)
    if user.failed_logins < MAX_FAILED_LOGINS:
        return False
    user.locked_until, user.failed_logins = now + LOCKOUT, 0
    label_change(db.session, user, "lockout")
    return True


def change_own_password(user_id: int, current_password: str, new_password: str) -> User:
    """A user changes their own password; a wrong current password counts (and locks) like a failed login."""
    _check_password(new_password)
    found = get_or_404(User, user_id, "Usuário")
    if not check_password_hash(found.password_hash, current_password or ""):
        with unit_of_work(USERS):
            _count_wrong_password(get_for_update(User, user_id, "Usuário"), utcnow(), "password_change_failed")
        raise ValidationError({"current_password": "Senha atual incorreta."})
    return set_password(user_id, new_password)


def record_logout(user_id: int) -> None:
    """Audit a logout."""
    with unit_of_work(USERS):
        record_event(db.session, USERS, "logout", "user", user_id)
