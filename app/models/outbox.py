"""The audit outbox columns, shared by the outbox table of each audited bind."""

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.types import UTCDateTime, utcnow


class OutboxMixin:
    """An audit (and optional timeline) event waiting to be relayed to history.db."""

    __tablename__ = "audit_outbox"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    payload: Mapped[str] = mapped_column(Text)
