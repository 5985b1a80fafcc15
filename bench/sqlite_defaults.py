"""The app with SQLite's default transaction behaviour, for the load benchmark's comparison only.

Sorriso opens every write transaction with BEGIN IMMEDIATE (app/db/unit_of_work.py); SQLite's default is a
deferred BEGIN, which takes the write lock only at the first write and can then fail with "database is
locked" without waiting. bench/load.py serves this module (`bench.sqlite_defaults:app`) with the PRAGMAs set
back to SQLite's defaults through the environment (rollback journal, busy_timeout 0).
"""

from app.db import unit_of_work
from app.db.engine import BEGIN_MODE_OPTION

unit_of_work.IMMEDIATE = {BEGIN_MODE_OPTION: "DEFERRED"}

from wsgi import app  # noqa: E402 - after the switch, like any module that imports the app

__all__ = ["app"]
