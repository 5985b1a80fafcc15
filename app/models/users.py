"""Models of the `users` bind (instance/users.db): staff accounts."""

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.types import UTCDateTime, utcnow
from app.extensions import db
from app.models.outbox import OutboxMixin

ROLES = ("admin", "dentist", "receptionist")


class User(UserMixin, db.Model):
    """A staff account; never hard-deleted, so ids stored in other binds stay valid."""

    __bind_key__ = "users"
    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'dentist', 'receptionist')", name="role"),
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
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Flask-Login's alternative id: rotating it ends every other session of this user.
    session_token: Mapped[str] = mapped_column(String(64), info={"secret": True})
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def get_id(self) -> str:
        """Flask-Login's alternative id: the session token, not the primary key."""
        return self.session_token


class UsersOutbox(OutboxMixin, db.Model):
    """Audit events of users.db, committed with the change they describe."""

    __bind_key__ = "users"
