"""Database plumbing: the bind registry, engine events, unit of work, audit capture, the chain and the relay.

`engine_of(bind)` is the one way to reach a bind's engine in the current app, `metadata_of(bind)` its tables.
"""

from sqlalchemy import MetaData
from sqlalchemy.engine import Engine

from app.db.binds import BIND_KEYS, BINDS, HISTORY, PACIENTES, USERS, get_bind
from app.extensions import db

__all__ = ["BINDS", "BIND_KEYS", "HISTORY", "PACIENTES", "USERS", "dispose_engines", "engine_of", "metadata_of"]


def engine_of(bind: str) -> Engine:
    """The current app's engine of a bind name ("pacientes", "users", "history")."""
    return db.engines[get_bind(bind).fsa_key]


def metadata_of(bind: str) -> MetaData:
    """The tables of a bind name, as the models declare them."""
    return db.metadatas[get_bind(bind).fsa_key]


def dispose_engines() -> None:
    """Close every pooled connection of the current app, so that files can be copied, moved or removed."""
    for bind in BIND_KEYS:
        engine_of(bind).dispose()
