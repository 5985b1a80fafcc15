"""Sorriso: clinic records for dental clinics. `create_app` builds the Flask application.

Note: never bind the name `db` in this module; `app.db` is the database-plumbing package.
"""

import os
from pathlib import Path

from flask import Flask

from app import extensions as ext
from app import (
    models,  # noqa: F401  (registers every table in its bind's metadata)
    security,  # the Flask-Login user loader and the role policy
)
from app.db import BIND_KEYS, audit, bind_name  # noqa: F401  (audit registers the session events)
from app.db.engine import install_sqlite_events, validate_pragmas
from app.edge import EdgeFlask, init_edge
from config import BASE_DIR, CONFIGS, check_production_secrets

MIGRATIONS_DIR = str(BASE_DIR / "migrations")


def create_app(config_name: str | None = None, overrides: dict | None = None) -> Flask:
    """Build the app: configuration, database binds with their engine events, extensions, blueprints, CLI."""
    app = EdgeFlask(__name__, instance_path=os.environ.get("SORRISO_INSTANCE_PATH") or str(BASE_DIR / "instance"))
    config_name = config_name or os.environ.get("SORRISO_ENV", "development")
    if config_name not in CONFIGS:
        raise SystemExit(f"Configuration error: SORRISO_ENV must be one of {sorted(CONFIGS)}, got {config_name!r}.")
    app.config.from_object(CONFIGS[config_name])
    app.config.update(overrides or {})
    if config_name == "production":
        check_production_secrets(app.config)
    if app.config["AUDIT_RELAY_MODE"] not in ("inline", "background"):
        raise SystemExit("Configuration error: AUDIT_RELAY_MODE must be 'inline' or 'background'.")
    _configure_databases(app)

    init_edge(app)  # the first hook: file parts are refused before CSRF or the policy read the form
    ext.db.init_app(app)
    ext.migrate.init_app(app, ext.db, directory=MIGRATIONS_DIR)
    ext.login_manager.init_app(app)
    ext.csrf.init_app(app)
    ext.babel.init_app(app)
    with app.app_context():
        pragmas = app.config["SQLITE_PRAGMAS"]
        for key, engine in ext.db.engines.items():
            install_sqlite_events(engine, pragmas[bind_name(key)])

    from app.blueprints import admin, auth, health, main, patients, ui
    from app.cli import register_cli

    for blueprint in (ui.bp, health.bp, auth.bp, main.bp, patients.bp, admin.bp):
        app.register_blueprint(blueprint)
    security.init_security(app)
    register_cli(app)
    return app


def _configure_databases(app: Flask) -> None:
    """Resolve each bind's URL (environment override or a file in the instance folder) and its PRAGMAs."""
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    urls = {}
    for bind in BIND_KEYS:
        url = app.config.get(f"{bind.upper()}_DATABASE_URL")
        urls[bind] = url or f"sqlite:///{Path(app.instance_path) / f'{bind}.db'}"
    app.config["SQLALCHEMY_DATABASE_URI"] = urls["pacientes"]
    app.config["SQLALCHEMY_BINDS"] = {"users": urls["users"], "history": urls["history"]}
    pragmas = app.config["SQLITE_PRAGMAS"]
    app.config["SQLITE_PRAGMAS"] = {bind: validate_pragmas(bind, pragmas.get(bind, {})) for bind in BIND_KEYS}
