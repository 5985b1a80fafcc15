"""Database plumbing: engine events, unit of work, audit capture and the outbox relay."""

# Bind keys as the rest of Sorriso names them; "pacientes" is Flask-SQLAlchemy's default engine (key None).
PACIENTES = "pacientes"
USERS = "users"
HISTORY = "history"
BIND_KEYS = (PACIENTES, USERS, HISTORY)


def fsa_key(bind: str) -> str | None:
    """Translate a Sorriso bind name to Flask-SQLAlchemy's engine key."""
    return None if bind == PACIENTES else bind


def bind_name(fsa_bind_key: str | None) -> str:
    """Translate Flask-SQLAlchemy's engine key to a Sorriso bind name."""
    return PACIENTES if fsa_bind_key in (None, "") else fsa_bind_key
