"""Append-only rows at the ORM level: flushing an update or a delete of a guarded model raises.

The database refuses the same with triggers (migrations); this guard fails earlier, with a readable error
of the caller's choice, before any SQL is sent.
"""

from sqlalchemy import event
from sqlalchemy.orm import object_session


def forbid_changes(model, error: type[Exception], message: str) -> None:
    """Make a model append-only: flushing an update or a delete of one of its rows raises `error(message)`."""

    def refuse_update(_mapper, _connection, target):
        if object_session(target).is_modified(target, include_collections=False):
            raise error(message)

    def refuse_delete(_mapper, _connection, _target):
        raise error(message)

    event.listen(model, "before_update", refuse_update)
    event.listen(model, "before_delete", refuse_delete)
