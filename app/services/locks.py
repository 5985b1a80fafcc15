"""Fetching a row to change it: fresh from the database and locked until the unit of work ends.

The rule: a service that changes a row re-reads it here, inside its unit of work (`get_for_update`, or
`find_for_update` / `for_update` for an optional row or a query); `guards.get_or_404` is for reading.
Check-then-write rules need no lock of their own here: the unit of work already holds each written
bind's write lock (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL). What remains is
freshness: sessions keep objects after commit (expire_on_commit=False), so a row loaded earlier may be
stale; these re-read it with SELECT ... FOR UPDATE (ignored by SQLite, whose write lock already excludes writers).
"""

from sqlalchemy import Select

from app.extensions import db
from app.services.errors import NotFound


def find_for_update(model, row_id):
    """The row `row_id` of `model`, re-read and locked until the unit of work ends, or None."""
    return db.session.get(model, row_id, with_for_update=True, populate_existing=True) if row_id is not None else None


def get_for_update(model, row_id, entity: str):
    """The row `row_id` of `model`, re-read and locked until the unit of work ends, or NotFound."""
    row = find_for_update(model, row_id)
    if row is None:
        raise NotFound(entity, row_id)
    return row


def for_update(query: Select) -> Select:
    """The same query, re-reading and locking the rows it finds until the unit of work ends."""
    return query.with_for_update().execution_options(populate_existing=True)
