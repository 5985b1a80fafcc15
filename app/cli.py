"""Flask CLI commands for administrators: `flask --app wsgi audit ...` (more groups join here)."""

import functools
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.db.relay import app_engines, make_checkpoint, pending_counts, relay_all, verify_chain
from app.db.unit_of_work import engine_for



def needs_migrated_databases(command):
    """Turn "no such table" into a readable message and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (OperationalError, ProgrammingError) as exc:
            click.echo(f"Database error: {exc.orig}. Has `flask --app wsgi db upgrade` been run?", err=True)
            sys.exit(2)

    return wrapper


audit_cli = AppGroup("audit", help="Audit trail: relay the outbox, verify the HMAC chain, print a checkpoint.")


@audit_cli.command("relay")
@needs_migrated_databases
def audit_relay():
    """Move every pending outbox event into history.db (safe to run at any time, any number of times)."""
    written = relay_all(app_engines(), current_app.config["AUDIT_HMAC_KEY"])
    left = pending_counts(app_engines())
    click.echo(f"Relayed {written} history row(s); pending now: {left}.")


@audit_cli.command("verify")
@click.option("--checkpoint", help="A value printed earlier by `flask audit checkpoint`; detects a truncated tail.")
@needs_migrated_databases
def audit_verify(checkpoint):
    """Recompute the HMAC chain of history.db; exit 1 naming the first bad row."""
    report = verify_chain(engine_for("history"), current_app.config["AUDIT_HMAC_KEY"], checkpoint)
    if report.ok:
        click.echo(f"Audit chain OK: {report.rows} row(s) verified.")
        return
    click.echo(f"Audit chain BROKEN: {report.problem}", err=True)
    sys.exit(1)


@audit_cli.command("checkpoint")
@needs_migrated_databases
def audit_checkpoint():
    """Print the latest chain value (ID:HASH); keep it outside this machine to detect a truncated tail later."""
    report = verify_chain(engine_for("history"), current_app.config["AUDIT_HMAC_KEY"])
    if not report.ok:
        click.echo(f"Audit chain BROKEN: {report.problem}", err=True)
        sys.exit(1)
    click.echo(make_checkpoint(report))


def register_cli(app) -> None:
    """Attach every command group to the app."""
    app.cli.add_command(audit_cli)
