"""Alembic environment for Sorriso's three databases (Flask-Migrate multidb layout).

`flask db upgrade` migrates every bind; `flask db upgrade -x bind=users` (or `bind=pacientes`,
`bind=history`) migrates one and does not even connect to the others, so their files stay untouched.
Autogenerate ignores the filter and always compares every database.
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from flask_babel import gettext

config = context.config
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db
# Engine names as the multidb template knows them: "" is the default engine, which is `pacientes`.
ENGINE_NAMES = {"pacientes": "", "users": "users", "history": "history"}


def selected_engine_names() -> list[str]:
    """The engines this run migrates: all of them, or the one named by `-x bind=...`."""
    wanted = context.get_x_argument(as_dictionary=True).get("bind")
    if wanted is None or getattr(config.cmd_opts, "autogenerate", False):
        return list(ENGINE_NAMES.values())
    if wanted not in ENGINE_NAMES:
        raise SystemExit(
            gettext(
                "Banco desconhecido '%(bind)s'; use um destes: %(binds)s.", bind=wanted, binds=", ".join(ENGINE_NAMES)
            )
        )
    return [ENGINE_NAMES[wanted]]


def get_metadata(engine_name: str):
    """The metadata of one bind."""
    return target_db.metadatas[engine_name or None]


def run_migrations_offline() -> None:
    """Write each bind's SQL to `<bind>.sql` instead of touching a database."""
    for name in selected_engine_names():
        url = target_db.engines[name or None].url.render_as_string(hide_password=False)
        with open(f"{name or 'pacientes'}.sql", "w") as buffer:
            context.configure(url=url, output_buffer=buffer, target_metadata=get_metadata(name), literal_binds=True)
            with context.begin_transaction():
                context.run_migrations(engine_name=name)


def process_revision_directives(_context, _revision, directives) -> None:
    """Do not write an empty revision when autogenerate finds no change in any bind."""
    if getattr(config.cmd_opts, "autogenerate", False):
        script = directives[0]
        every_bind_compared = len(script.upgrade_ops_list) >= len(ENGINE_NAMES)
        if every_bind_compared and all(ops.is_empty() for ops in script.upgrade_ops_list):
            directives[:] = []
            logger.info("No changes in schema detected.")


def _sqlite_foreign_keys(conn, value: str | None = None) -> str | None:
    """Read (and, given `value`, set) a SQLite connection's foreign_keys PRAGMA; None for other dialects.

    Set on the driver connection, outside any transaction: inside one, SQLite ignores the PRAGMA.
    """
    if conn.dialect.name != "sqlite":
        return None
    driver = conn.connection.dbapi_connection
    if value is not None:
        driver.execute(f"PRAGMA foreign_keys = {value}")
    return str(driver.execute("PRAGMA foreign_keys").fetchone()[0])


def _refuse_broken_foreign_keys(name: str, conn) -> None:
    """After a SQLite migration ran without foreign key enforcement, fail (and roll back) if it left any orphan."""
    if conn.dialect.name != "sqlite":
        return
    orphans = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if orphans:
        tables = ", ".join(sorted({row[0] for row in orphans}))
        raise RuntimeError(f"Migrating {name or 'pacientes'} would leave rows without their parent in: {tables}")


def run_migrations_online() -> None:
    """Migrate each selected bind on its own connection and transaction.

    SQLite runs the migration with foreign key enforcement off, as its documentation prescribes for table
    rebuilds (batch operations drop and recreate a table; with enforcement on, dropping a table that other rows
    reference fails), then checks every foreign key before committing and restores the setting.
    """
    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    names = selected_engine_names()
    connections = {name: target_db.engines[name or None].connect() for name in names}
    enforced = {name: _sqlite_foreign_keys(conn) for name, conn in connections.items()}
    for conn in connections.values():
        _sqlite_foreign_keys(conn, "OFF")
    transactions = {name: conn.begin() for name, conn in connections.items()}
    try:
        for name in names:
            logger.info("Migrating database %s", name or "pacientes")
            context.configure(
                connection=connections[name],
                upgrade_token=f"{name}_upgrades",
                downgrade_token=f"{name}_downgrades",
                target_metadata=get_metadata(name),
                **conf_args,
            )
            context.run_migrations(engine_name=name)
            _refuse_broken_foreign_keys(name, connections[name])
        for transaction in transactions.values():
            transaction.commit()
    except BaseException:
        for transaction in transactions.values():
            if transaction.is_active:
                transaction.rollback()
        raise
    finally:
        for name, conn in connections.items():
            if enforced[name] is not None:
                _sqlite_foreign_keys(conn, enforced[name])
            conn.close()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
