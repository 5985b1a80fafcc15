"""Models of the `users` bind (instance/users.db): staff accounts, their login sessions, login throttling."""

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.types import UTCDateTime, utcnow
from app.extensions import db
from app.models.outbox import OutboxMixin
from app.vocabulary import AgendaView, Role, SlotDensity


class User(UserMixin, db.Model):
    """A staff account; never hard-deleted, so ids stored in other binds stay valid."""

    __bind_key__ = "users"
    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint(Role.sql_in("role"), name="role"),
        CheckConstraint("failed_logins >= 0", name="failed_logins"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255), info={"secret": True})
    role: Mapped[str] = mapped_column(String(20), index=True)
    cro: Mapped[str | None] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(default=True, index=True)
    deactivation_reason: Mapped[str | None] = mapped_column(String(500))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Wrong passwords since the last successful login, from any address (shown to the administrator);
    # what actually slows guessing down is LoginThrottle.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class StaffSession(db.Model):
    """A login session: the cookie holds only an opaque token whose SHA-256 is stored here.

    A session is alive while `ended_at` is empty, it has been used within the idle timeout and it is younger
    than the absolute lifetime. Logout, a password change, a deactivation or an administrator ends it.
    """

    __bind_key__ = "users"
    __tablename__ = "staff_session"
    __table_args__ = (Index("ix_staff_session_user_id_ended_at", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, info={"secret": True})
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Refreshed at most once a minute; not audited (it is not a change anyone made).
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, info={"audited": False})
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(20))
    client_addr: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))


class LoginThrottle(db.Model):
    """A failed-login counter shared by every worker: per client address, or per typed username and address.

    `account_key` is an HMAC of the typed username (never the text itself: it may be a password typed in the
    wrong box), so an administrator can unlock an account without the table naming what was typed.
    Rows are bookkeeping, not domain data: the attempts themselves are audited on the user.
    """

    __bind_key__ = "users"
    __tablename__ = "login_throttle"
    __audited__ = False

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    account_key: Mapped[str | None] = mapped_column(String(64), index=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, index=True)


class UserPreference(db.Model):
    """How one staff member likes the agenda: the view it opens in, the dentist it shows, the slot density."""

    __bind_key__ = "users"
    __tablename__ = "user_preference"
    __table_args__ = (
        CheckConstraint(AgendaView.sql_in("agenda_view"), name="agenda_view"),
        CheckConstraint(SlotDensity.sql_in("slot_density"), name="slot_density"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    agenda_view: Mapped[str] = mapped_column(String(5), default=AgendaView.DAY)
    # A dentist's user id (same bind, so a real foreign key); None = every dentist.
    agenda_dentist_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    slot_density: Mapped[str] = mapped_column(String(12), default=SlotDensity.NORMAL)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class UsersOutbox(OutboxMixin, db.Model):
    """Audit events of users.db, committed with the change they describe."""

    __bind_key__ = "users"
