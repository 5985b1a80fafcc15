"""Fetching a row to change it: fresh from the database and locked until the unit of work ends.

Check-then-write rules need no lock of their own here: the unit of work already holds each written
bind's write lock (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL). What remains is
freshness: sessions keep objects after commit (expire_on_commit=False), so a service that changes a row
re-reads it with SELECT ... FOR UPDATE (ignored by SQLite, whose write lock already excludes writers).
"""

from app.extensions import db
from app.services.errors import NotFound


def get_for_update(model, row_id, entity: str):
    """The row `row_id` of `model`, re-read and locked until the unit of work ends, or NotFound."""
    row = db.session.get(model, row_id, with_for_update=True, populate_existing=True) if row_id is not None else None
    if row is None:
        raise NotFound(entity, row_id)
    return row
