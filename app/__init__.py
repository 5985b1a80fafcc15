"""Sorriso: clinic records for dental clinics. `create_app` builds the Flask application.

Note: never bind the name `db` in this module; `app.db` is the database-plumbing package. `config` is
imported as a module: it reads the bind registry (`app.db.binds`), so it may be half-imported while this
package loads.
"""

import atexit
import logging
import os
import weakref
from pathlib import Path

from flask import Flask

import config
from app import extensions as ext
from app import (
    models,  # noqa: F401  (registers every table in its bind's metadata)
    security,  # the Flask-Login user loader and the role policy
)
from app.db import (
    BINDS,
    audit,  # noqa: F401  (registers the session events)
    dispose_engines,
    engine_of,
)
from app.db.engine import install_sqlite_events, validate_pragmas
from app.edge import EdgeFlask, init_edge
from app.metrics import init_metrics


def create_app(config_name: str | None = None, overrides: dict | None = None) -> Flask:
    """Build the app: configuration, database binds with their engine events, extensions, blueprints, CLI."""
    instance_path = os.environ.get("SORRISO_INSTANCE_PATH") or str(config.BASE_DIR / "instance")
    app = EdgeFlask(__name__, instance_path=instance_path)
    config_name = config_name or os.environ.get("SORRISO_ENV", "development")
    if config_name not in config.CONFIGS:
        raise SystemExit(
            f"Configuration error: SORRISO_ENV must be one of {sorted(config.CONFIGS)}, got {config_name!r}."
        )
    app.config.from_object(config.CONFIGS[config_name])
    app.config.update(overrides or {})
    if config_name == "production":
        config.check_production_secrets(app.config)
    if app.config["AUDIT_RELAY_MODE"] not in ("inline", "background"):
        raise SystemExit("Configuration error: AUDIT_RELAY_MODE must be 'inline' or 'background'.")
    _configure_databases(app)

    init_metrics(app)  # times each request from before the first hook to after the last one
    init_edge(app)  # the first hook that reads a request: file parts are refused before CSRF or the policy
    ext.db.init_app(app)
    ext.migrate.init_app(app, ext.db, directory=str(config.BASE_DIR / "migrations"))
    ext.login_manager.init_app(app)
    ext.csrf.init_app(app)
    ext.babel.init_app(app)
    _install_clinic_translations(app)
    with app.app_context():
        for bind in BINDS:
            install_sqlite_events(engine_of(bind.name), app.config["SQLITE_PRAGMAS"][bind.name])

    from app.blueprints import (
        admin,
        agenda,
        appointments,
        auth,
        cash,
        confirmations,
        health,
        main,
        metrics,
        patients,
        payments,
        plans,
        procedures,
        recalls,
        reports,
        ui,
    )
    from app.cli import register_cli

    for blueprint in (
        ui.bp,
        health.bp,
        metrics.bp,
        auth.bp,
        main.bp,
        patients.bp,
        payments.bp,
        plans.bp,
        procedures.bp,
        agenda.bp,
        appointments.bp,
        confirmations.bp,
        recalls.bp,
        admin.bp,
        cash.bp,
        reports.bp,
    ):
        app.register_blueprint(blueprint)
    security.init_security(app)
    register_cli(app)
    atexit.register(_dispose_at_exit, weakref.ref(app))
    return app


def _dispose_at_exit(app_ref: weakref.ref) -> None:
    """Close the app's pooled connections when the process ends (a CLI command, a gunicorn worker): the last
    connection to a SQLite database checkpoints its WAL and removes the `-wal` and `-shm` files."""
    app = app_ref()
    if app is None:
        return
    try:
        with app.app_context():
            dispose_engines()
    except Exception:  # noqa: BLE001 - never turn a clean exit into a traceback
        logging.getLogger(__name__).exception("closing the database connections at exit failed")


def _configure_databases(app: Flask) -> None:
    """Resolve each bind's URL (a setting, else its file in the instance folder), its PRAGMAs, the backups folder."""
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config["SQLALCHEMY_BINDS"] = {}
    for bind in BINDS:
        url = app.config.get(bind.url_env) or f"sqlite:///{instance / bind.file_name}"
        if bind.fsa_key is None:  # the default engine
            app.config["SQLALCHEMY_DATABASE_URI"] = url
        else:
            app.config["SQLALCHEMY_BINDS"][bind.fsa_key] = url
    pragmas = app.config["SQLITE_PRAGMAS"]
    app.config["SQLITE_PRAGMAS"] = {bind.name: validate_pragmas(bind, pragmas.get(bind.name, {})) for bind in BINDS}
    app.config["BACKUP_DIR"] = app.config.get("BACKUP_DIR") or str(instance / "backups")


def _install_clinic_translations(app: Flask) -> None:
    """Jinja's `_()` with the clinic's one locale (BABEL_DEFAULT_LOCALE, no per-request selector), resolved once.

    Flask-Babel's own callables look the translations up through the request context on every call; a record
    page makes over a hundred such calls, and they were a tenth of its CPU. With one locale per process the
    answer never changes, so the first lookup inside a request is kept. Python code keeps Flask-Babel's
    `gettext`/`lazy_gettext`. A per-user language would need a locale selector and Flask-Babel's callables back.
    """
    from flask import has_request_context
    from flask_babel import get_translations

    found = []

    def translations():
        if found:
            return found[0]
        if not has_request_context():
            return get_translations()
        found.append(get_translations())
        return found[0]

    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )
