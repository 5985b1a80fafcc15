"""Login sessions kept on the server (users.db): open, resolve, end, and list them.

The browser's cookie carries only an opaque random token; the table stores its SHA-256, so a copy of
users.db does not hand out live sessions. A session ends on logout, on a password change or deactivation
(all of that user's sessions), when an administrator ends it, after IDLE_TIMEOUT_MINUTES without use, and
SESSION_LIFETIME_HOURS after it began whatever its use. Starting and ending a session are audited.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.db import USERS
from app.db.actor import current_actor
from app.db.audit import label_change
from app.db.types import utcnow
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.users import StaffSession, User
from app.services.errors import ConflictError, NotFound
from app.services.locks import find_for_update, for_update
from app.vocabulary import SessionEndReason

# How often a session's `last_seen_at` is written: the idle timeout is exact to within this much, and a
# busy user costs one small write a minute instead of one per request.
TOUCH_INTERVAL = timedelta(seconds=60)
USER_AGENT_MAX = 255


@dataclass(frozen=True)
class Resolved:
    """What a cookie's token turned out to be: the live session and its user, or why there is none."""

    session: StaffSession | None = None
    user: User | None = None
    ended_because: str | None = None


def token_hash(token: str) -> str:
    """The stored form of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _idle_limit() -> timedelta:
    return timedelta(minutes=current_app.config["IDLE_TIMEOUT_MINUTES"])


def _lifetime() -> timedelta:
    return timedelta(hours=current_app.config["SESSION_LIFETIME_HOURS"])


def open_session(user: User, client_addr: str | None, user_agent: str | None) -> str:
    """Start a session for `user` inside the caller's unit of work on users; returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = StaffSession(
        user_id=user.id,
        token_hash=token_hash(token),
        created_at=now,
        last_seen_at=now,
        client_addr=client_addr,
        user_agent=(user_agent or "")[:USER_AGENT_MAX] or None,
    )
    db.session.add(row)
    label_change(db.session, row, "session_start")
    return token


def start_session(user_id: int, user_agent: str | None) -> str:
    """Open a fresh session for an active user from the current actor's address (after a password change)."""
    with unit_of_work(USERS):
        user = db.session.get(User, user_id)
        if user is None or not user.is_active:
            raise NotFound("Usuário", user_id)
        token = open_session(user, current_actor().client_addr, user_agent)
    return token


def _why_dead(row: StaffSession, user: User, now: datetime) -> str | None:
    """The reason a stored session can no longer be used, or None while it is alive."""
    if row.ended_at is not None:
        return row.end_reason or SessionEndReason.LOGOUT
    if not user.is_active:
        return SessionEndReason.DEACTIVATED
    if now - row.created_at > _lifetime():
        return SessionEndReason.EXPIRED
    if now - row.last_seen_at > _idle_limit():
        return SessionEndReason.IDLE
    return None


def resolve(token: str | None) -> Resolved:
    """The live session behind a cookie's token (its use is noted), or the reason it no longer counts.

    A session found expired is ended here, so the administrator's list and the audit log say so.
    """
    if not token:
        return Resolved()
    found = _lookup(token)
    if found is None:
        return Resolved(ended_because=SessionEndReason.LOGOUT)
    row, user = found
    now = utcnow()
    reason = _why_dead(row, user, now)
    if reason in (SessionEndReason.IDLE, SessionEndReason.EXPIRED):
        _end_one(row.id, reason)
    if reason is not None:
        return Resolved(ended_because=reason)
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        with unit_of_work(USERS, durable=False):  # a last-seen time lost to a power cut only ages a session
            db.session.execute(
                update(StaffSession)
                .where(StaffSession.id == row.id, StaffSession.ended_at.is_(None))
                .values(last_seen_at=now)
                .execution_options(synchronize_session=False)
            )
        set_committed_value(row, "last_seen_at", now)  # what was written, without a pending change
    return Resolved(row, user)


def _lookup(token: str) -> tuple[StaffSession, User] | None:
    """The session row of a token and its user; the read transaction ends at once, so a request that goes on
    to read a slow client's body holds no pooled connection meanwhile."""
    found = db.session.execute(
        select(StaffSession, User)
        .join(User, User.id == StaffSession.user_id)
        .where(StaffSession.token_hash == token_hash(token))
    ).first()
    db.session.commit()  # ends the read-only transaction (objects stay loaded: expire_on_commit is off)
    return found


def _end_one(session_id: int, reason: str) -> bool:
    """End one session if it is still open (audited as `session_end`); True when it was open."""
    with unit_of_work(USERS):
        row = find_for_update(StaffSession, session_id)
        if row is None or row.ended_at is not None:
            return False
        row.ended_at, row.end_reason = utcnow(), reason
        label_change(db.session, row, "logout" if reason == SessionEndReason.LOGOUT else "session_end")
    return True


def end_session(token: str | None, reason: str = SessionEndReason.LOGOUT) -> bool:
    """End the session behind a cookie's token (logout); True when an open session was ended."""
    if not token:
        return False
    session_id = db.session.scalar(select(StaffSession.id).where(StaffSession.token_hash == token_hash(token)))
    return session_id is not None and _end_one(session_id, reason)


def end_user_sessions(user_id: int, reason: str) -> int:
    """End every open session of a user, inside the caller's unit of work on users; returns how many."""
    rows = db.session.scalars(
        for_update(select(StaffSession).where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None)))
    ).all()
    now = utcnow()
    for row in rows:
        row.ended_at, row.end_reason = now, reason
        label_change(db.session, row, "session_end")
    return len(rows)


def end_all_sessions_of(user_id: int) -> int:
    """An administrator ends every open session of a user; returns how many."""
    with unit_of_work(USERS):
        if db.session.get(User, user_id) is None:
            raise NotFound("Usuário", user_id)
        return end_user_sessions(user_id, SessionEndReason.ADMIN)


def end_session_of(user_id: int, session_id: int) -> None:
    """An administrator ends one session of a user (it must belong to that user and still be open)."""
    row = db.session.get(StaffSession, session_id)
    if row is None or row.user_id != user_id:
        raise NotFound("Sessão", session_id)
    if not _end_one(session_id, SessionEndReason.ADMIN):
        raise ConflictError("Esta sessão já estava encerrada.")


def _alive():
    """SQL conditions of a live session: not ended, used within the idle timeout, younger than its lifetime."""
    now = utcnow()
    return (
        StaffSession.ended_at.is_(None),
        StaffSession.last_seen_at > now - _idle_limit(),
        StaffSession.created_at > now - _lifetime(),
    )


def active_sessions(user_id: int) -> list[StaffSession]:
    """A user's sessions that are still alive, most recently used first (expired ones are left out)."""
    rows = db.session.scalars(
        select(StaffSession)
        .where(StaffSession.user_id == user_id, *_alive())
        .order_by(StaffSession.last_seen_at.desc(), StaffSession.id.desc())
    )
    return list(rows)


def active_session_counts(user_ids) -> dict[int, int]:
    """How many live sessions each of these users has (one query)."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(StaffSession.user_id, func.count())
        .where(StaffSession.user_id.in_(ids), *_alive())
        .group_by(StaffSession.user_id)
    )
    return dict(rows.all())
