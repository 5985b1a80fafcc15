"""Who is acting, for the audit trail: the one documented context helper services rely on.

Blueprints set it per request (user id, path, client address); CLI commands and tests use `acting_as`.
Services never read `request` themselves; audit capture reads the actor from here.
"""

from contextlib import contextmanager
from dataclasses import dataclass

from flask import g, has_app_context


@dataclass(frozen=True)
class Actor:
    """The user behind a change and where the change came from."""

    user_id: int | None = None
    request_path: str | None = None
    client_addr: str | None = None


SYSTEM = Actor()


def current_actor() -> Actor:
    """The actor of the current request or command; `SYSTEM` when nobody is set."""
    if has_app_context():
        return g.get("sorriso_actor", SYSTEM)
    return SYSTEM


def set_actor(actor: Actor) -> None:
    """Set the actor for the rest of this app context (one request or command)."""
    g.sorriso_actor = actor


@contextmanager
def acting_as(user_id: int | None, request_path: str | None = None, client_addr: str | None = None):
    """Run a block as a given user (CLI commands, tests), restoring the previous actor afterwards."""
    previous = current_actor()
    set_actor(Actor(user_id, request_path, client_addr))
    try:
        yield
    finally:
        set_actor(previous)
