"""The registry of Sorriso's three databases: each bind's name, engine key, URL variable, file, lock, PRAGMAs.

Everything that names a bind reads it from here: `config.py` (environment variables), `create_app` (URLs
and engine events), the unit of work, checks, backups. This module imports nothing from `app`, so that
`config.py` can use it.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# Bind names as the rest of Sorriso spells them (services declare `unit_of_work(PACIENTES)`).
PACIENTES = "pacientes"
USERS = "users"
HISTORY = "history"

# SPEC 2.2: WAL, foreign keys on, a writer waits 5 s, and FULL sync (NORMAL may lose acknowledged commits).
# journal_size_limit: after a checkpoint resets the WAL, SQLite cuts the file back to 16 MiB (app/db/wal.py).
DEFAULT_PRAGMAS: Mapping[str, object] = MappingProxyType(
    {
        "journal_mode": "WAL",
        "synchronous": "FULL",
        "busy_timeout": 5000,
        "foreign_keys": "ON",
        "journal_size_limit": 16 * 1024 * 1024,
    }
)


@dataclass(frozen=True)
class Bind:
    """One database: how Sorriso, Flask-SQLAlchemy, the environment and the instance folder name it."""

    name: str
    fsa_key: str | None  # Flask-SQLAlchemy's engine key; None for the default engine
    url_env: str  # the environment variable (and config key) that overrides the URL
    file_name: str  # the SQLite file in the instance folder when no URL is configured
    pg_write_lock: int  # PostgreSQL advisory lock a writer holds (SQLite's BEGIN IMMEDIATE does it there)
    pragmas: Mapping[str, object] = field(default_factory=lambda: DEFAULT_PRAGMAS)  # SQLite PRAGMA defaults

    def pragma_env(self, pragma: str) -> str:
        """The environment variable that overrides one PRAGMA of this bind, e.g. USERS_SQLITE_SYNCHRONOUS."""
        return f"{self.name.upper()}_SQLITE_{pragma.upper()}"


# In lock order: units of work take their binds' write locks in this order, so two never deadlock.
# pacientes is the default engine (Flask-SQLAlchemy key None): Flask-Migrate's multidb template needs one.
BINDS: tuple[Bind, ...] = (
    Bind(PACIENTES, None, "PACIENTES_DATABASE_URL", "pacientes.db", 7_263_101),
    Bind(USERS, USERS, "USERS_DATABASE_URL", "users.db", 7_263_102),
    Bind(HISTORY, HISTORY, "HISTORY_DATABASE_URL", "history.db", 7_263_103),
)
BIND_KEYS: tuple[str, ...] = tuple(bind.name for bind in BINDS)  # the bind names, in lock order
_BY_NAME = {bind.name: bind for bind in BINDS}
_BY_FSA_KEY = {bind.fsa_key: bind for bind in BINDS}


def get_bind(name: str) -> Bind:
    """The registry entry of a bind name; KeyError for a name that is not one of the three."""
    return _BY_NAME[name]


def bind_of_fsa_key(fsa_key: str | None) -> Bind:
    """The registry entry behind a Flask-SQLAlchemy engine key (None or "" is the default engine)."""
    return _BY_FSA_KEY[fsa_key or None]
