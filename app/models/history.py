"""Models of the `history` bind (instance/history.db): audit trail and patient timeline.

Append-only: triggers created by migration refuse UPDATE and DELETE on both tables.
Ids from other binds (actor, patient, source row) are plain integers, never ForeignKey.
"""

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.types import UTCDateTime
from app.extensions import db

APPEND_ONLY_TABLES = ("audit_event", "timeline_event")


class AuditEvent(db.Model):
    """Who did what, when and where; each row's HMAC chains to the previous row's."""

    __bind_key__ = "history"
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_patient_id_occurred_at", "patient_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(32), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    bind: Mapped[str] = mapped_column(String(20))
    table_name: Mapped[str] = mapped_column(String(60), index=True)
    row_id: Mapped[int | None] = mapped_column(Integer)
    patient_id: Mapped[int | None] = mapped_column(Integer)
    changes: Mapped[str] = mapped_column(Text, default="{}")
    request_path: Mapped[str | None] = mapped_column(String(500))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class TimelineEvent(db.Model):
    """A readable line of a patient's history tab."""

    __bind_key__ = "history"
    __tablename__ = "timeline_event"
    __table_args__ = (Index("ix_timeline_event_patient_id_occurred_at", "patient_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(32), unique=True)
    patient_id: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(500))
    actor_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    source_table: Mapped[str | None] = mapped_column(String(60))
    source_row_id: Mapped[int | None] = mapped_column(Integer)
