"""Flask CLI commands for administrators: `flask --app wsgi users|clinic|seed|audit|db ...`.

Commands stay thin: parse arguments, call a service or an `app.ops` function, print. Exit status 0 means
done, 1 means refused (bad input, a problem found), 2 means a usage or database problem.
"""

import functools
import getpass
import json
import sqlite3
import sys
from pathlib import Path

import click
from flask import current_app, g
from flask.cli import AppGroup, with_appcontext
from flask_migrate.cli import db as migrate_group
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.db.actor import acting_as
from app.db.relay import app_engines, make_checkpoint, pending_counts, relay_all, verify_chain
from app.db.unit_of_work import engine_for
from app.ops import OpsError
from app.ops.accounts import find_user, format_table, user_rows
from app.ops.backup import backup_before_upgrade, restore_backup, take_backup, verify_backup
from app.ops.checks import run_checks
from app.ops.seed import patient_count, seed_demo
from app.services.errors import ServiceError, ValidationError
from app.services.users import activate_user, create_user, deactivate_user, list_users, set_password
from app.vocabulary import Role

FIELD_LABELS = {
    "username": "usuário",
    "full_name": "nome",
    "role": "papel",
    "password": "senha",
    "email": "e-mail",
    "cro": "CRO",
    "reason": "motivo",
}


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


def reports_errors(command):
    """Print service and operations errors readably: exit 1 when refused, 2 for usage or database problems."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ValidationError as exc:
            click.echo("Recusado:", err=True)
            for field, message in exc.errors.items():
                click.echo(f"  - {FIELD_LABELS.get(field, field)}: {message}", err=True)
            sys.exit(1)
        except ServiceError as exc:
            click.echo(f"Recusado: {exc.message}", err=True)
            sys.exit(1)
        except OpsError as exc:
            click.echo(exc.message, err=True)
            sys.exit(exc.exit_code)
        except sqlite3.DatabaseError as exc:
            click.echo(f"Erro de banco de dados: {exc}", err=True)
            sys.exit(2)

    return needs_migrated_databases(wrapper)


def cli_actor(command_path: str):
    """Act as "the command line" for the audit trail: no user id, the command as path, the OS user as address."""
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):
        os_user = "?"
    return acting_as(None, request_path=f"cli:{command_path}", client_addr=f"cli:{os_user}"[:64])


# --- audit -------------------------------------------------------------------------------------------------

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


# --- users -------------------------------------------------------------------------------------------------

users_cli = AppGroup(
    "users",
    help="Staff accounts: create, list, set a password, deactivate, activate. "
    "Every change is audited with the command as its path.",
)
password_stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of prompting (for scripts).",
)


def read_password(from_stdin: bool) -> str:
    """The new password: first line of stdin, or typed twice at a hidden prompt. Never an argument."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise OpsError("Nenhuma senha recebida na entrada padrão.", 1)
        return password
    return click.prompt("Senha", hide_input=True, confirmation_prompt="Repita a senha")


@users_cli.command("create")
@click.argument("username")
@click.option("--full-name", prompt="Nome completo", help="Full name as shown in the app.")
@click.option("--role", type=click.Choice(Role.values()), prompt="Papel", help="admin, dentist or receptionist.")
@click.option("--email", default=None, help="E-mail address (optional).")
@click.option("--cro", default=None, help="Dentist's CRO registration (required for dentists).")
@password_stdin_option
@reports_errors
def users_create(username, full_name, role, email, cro, password_stdin):
    """Create a staff account USERNAME; the password is prompted for (or read with --password-stdin)."""
    password = read_password(password_stdin)
    with cli_actor("users create"):
        user = create_user(username, full_name, role, password, email=email, cro=cro)
    click.echo(f"Usuário {user.username} (#{user.id}, {role}) criado.")


@users_cli.command("list")
@click.option("--active-only", is_flag=True, help="Hide deactivated accounts.")
@reports_errors
def users_list(active_only):
    """Print the staff accounts as a table."""
    click.echo(format_table(user_rows(list_users(include_inactive=not active_only))))


@users_cli.command("set-password")
@click.argument("user")
@password_stdin_option
@reports_errors
def users_set_password(user, password_stdin):
    """Set a new password for USER (username or #id); the user's other sessions end."""
    account = find_user(user)
    password = read_password(password_stdin)
    with cli_actor("users set-password"):
        set_password(account.id, password)
    click.echo(f"Senha de {account.username} alterada; as sessões abertas dessa conta foram encerradas.")


@users_cli.command("deactivate")
@click.argument("user")
@click.option("--reason", prompt="Motivo da desativação", help="Why the account is deactivated (required).")
@reports_errors
def users_deactivate(user, reason):
    """Deactivate USER (username or #id) with a written reason; accounts are never deleted."""
    account = find_user(user)
    with cli_actor("users deactivate"):
        deactivate_user(account.id, reason)
    click.echo(f"Usuário {account.username} desativado.")


@users_cli.command("activate")
@click.argument("user")
@reports_errors
def users_activate(user):
    """Reactivate USER (username or #id)."""
    account = find_user(user)
    with cli_actor("users activate"):
        activate_user(account.id)
    click.echo(f"Usuário {account.username} reativado.")


# --- clinic ------------------------------------------------------------------------------------------------

clinic_cli = AppGroup("clinic", help="Instance health, online backup and restore.")


def _print_report(report) -> None:
    """The human-readable form of `clinic check`."""
    for bind, info in report.binds.items():
        click.echo(f"{bind} ({info.get('backend')}) {info.get('path', '')}".rstrip())
        if "file_size" in info:
            click.echo(
                f"  arquivo {info['file_size']:,} bytes, WAL {info['wal_size']:,} bytes, "
                f"journal_mode no arquivo {info['file_journal_mode']}"
            )
        if "pragmas_in_force" in info:
            click.echo("  PRAGMAs em vigor: " + " ".join(f"{k}={v}" for k, v in info["pragmas_in_force"].items()))
            click.echo(f"  quick_check: {'; '.join(info['quick_check'][:3])}")
        if "head" in info:
            click.echo(f"  revisão {info.get('revision') or 'nenhuma'} (código: {info['head']})")
    orphans = sum(entry["count"] for entry in report.orphans)
    click.echo(f"Referências entre bancos sem destino (órfãos): {orphans}")
    if report.outbox:
        click.echo("Outbox pendente: " + ", ".join(f"{b} {n}" for b, n in report.outbox.items()))
    if report.audit_chain:
        state = "OK" if report.audit_chain["ok"] else "QUEBRADA"
        click.echo(f"Cadeia de auditoria: {state} ({report.audit_chain['rows']} linha(s))")
    click.echo(f"SQLite {report.sqlite_version}")
    for title, entries in (("AVISOS", report.warnings), ("PROBLEMAS", report.problems)):
        if entries:
            click.echo(f"{title}:")
            for entry in entries:
                click.echo(f"  - {entry}")
    click.echo("Resultado: OK" if report.ok else f"Resultado: {len(report.problems)} problema(s)")


@clinic_cli.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@reports_errors
def clinic_check(as_json):
    """Check every database: PRAGMAs in force vs configuration, quick_check, migration revision, file sizes,
    orphaned cross-database ids, pending audit events, the audit chain, the SQLite version.
    Exit 0 when healthy (warnings allowed), 1 listing every problem."""
    report = run_checks()
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_report(report)
    if not report.ok:
        sys.exit(1)


@clinic_cli.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@reports_errors
def clinic_backup(dest):
    """Back up the three databases into DEST (a new or empty folder) while Sorriso keeps running.

    Each database is copied consistently with SQLite's backup API, checked with integrity_check and flushed
    to disk; manifest.json records each file's SHA-256, migration revision and row counts."""
    manifest = take_backup(dest, progress=lambda step: click.echo(f"- {step}"))
    rows = sum(sum(entry["row_counts"].values()) for entry in manifest["databases"].values())
    click.echo(f"Backup completo em {dest}: {len(manifest['databases'])} banco(s), {rows:,} linha(s).")


@clinic_cli.command("verify-backup")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@reports_errors
def clinic_verify_backup(src):
    """Check a backup folder without restoring it: manifest, SHA-256 checksums, integrity_check."""
    manifest = verify_backup(src, progress=lambda step: click.echo(f"- {step}"))
    click.echo(f"Backup válido: {', '.join(manifest['databases'])} de {manifest['created_at']}.")


@clinic_cli.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace existing databases (they are moved aside, never deleted).")
@reports_errors
def clinic_restore(src, force):
    """Restore the databases from the backup folder SRC. STOP SORRISO FIRST (the web server and any command).

    The manifest, checksums and integrity_check are verified first; a backup from a newer Sorriso is
    refused; existing databases are only replaced with --force, and are then moved into
    instance/backups/before-restore-<time>/ together with their -wal and -shm files."""
    result = restore_backup(src, force=force, progress=lambda step: click.echo(f"- {step}"))
    click.echo(f"Restaurado: {', '.join(result.restored)}.")
    if result.moved_aside_to:
        click.echo(f"Os bancos anteriores foram guardados em {result.moved_aside_to}.")
    if result.needs_upgrade:
        click.echo(f"Rode `flask db upgrade`: {', '.join(result.needs_upgrade)} está(ão) numa revisão anterior.")
    click.echo("Depois rode `flask audit relay` e `flask clinic check` antes de iniciar o Sorriso.")


@clinic_cli.command("migrate-to")
@click.option(
    "--pacientes", "pacientes_url", required=True, help="Target URL for pacientes, e.g. postgresql+psycopg://..."
)
@click.option("--users", "users_url", required=True, help="Target URL for users.")
@click.option("--history", "history_url", required=True, help="Target URL for history.")
@reports_errors
def clinic_migrate_to(pacientes_url, users_url, history_url):
    """Copy this clinic's three databases into new, empty ones (e.g. PostgreSQL) and verify the copy.

    Stop the web server first. Pending audit events are relayed, the targets are migrated to head, every
    row is copied with its id, and the copy is proved by row counts per table and the audit chain. Afterwards
    point PACIENTES_DATABASE_URL, USERS_DATABASE_URL and HISTORY_DATABASE_URL at the targets."""
    from app.ops.transfer import TransferError, transfer_to

    urls = {"pacientes": pacientes_url, "users": users_url, "history": history_url}
    try:
        report = transfer_to(urls, progress=click.echo)
    except TransferError as exc:
        click.echo(f"Recusado: {exc}", err=True)
        sys.exit(1)
    total = sum(report.counts.values())
    click.echo(
        f"Copiados {total} registros em {len(report.counts)} tabelas; contagens conferem; "
        f"cadeia de auditoria verificada no destino ({report.chain_rows} eventos)."
    )


# --- seed --------------------------------------------------------------------------------------------------

seed_cli = AppGroup("seed", help="Demo data for trying Sorriso out (never on a real clinic's databases).")


@seed_cli.command("demo")
@click.option(
    "--patients",
    type=click.IntRange(1, 1_000_000),
    default=1000,
    show_default=True,
    help="How many patients to create.",
)
@click.option(
    "--batch-size", type=click.IntRange(1, 10_000), default=1000, show_default=True, help="Patients per transaction."
)
@click.option("--seed", "random_seed", type=int, default=None, help="Random seed, for the same data every time.")
@click.option("--yes", is_flag=True, help="Do not ask before adding demo data to a clinic that has patients.")
@reports_errors
def seed_demo_command(patients, batch_size, random_seed, yes):
    """Fill the clinic with realistic Brazilian demo data: patients (valid CPFs, phones, addresses), anamnesis,
    appointments, treatment plans with items, and payments; creates an admin, a dentist and a receptionist
    when missing and prints their passwords.

    Audit: staff accounts and procedures go through the services and are audited one by one. Patients and
    their records are inserted in bulk, and each batch records ONE summary audit event (action seed_demo,
    with the counts and the patient id range), so the audit chain stays complete and 100,000 patients take
    minutes, not hours."""
    existing = patient_count()
    if existing and not yes:
        click.confirm(f"A clínica já tem {existing} paciente(s). Acrescentar dados de demonstração?", abort=True)
    with click.progressbar(length=patients, label="Pacientes", show_pos=True) as bar:
        result = seed_demo(patients, batch_size, random_seed, on_batch=bar.update)
    for username, role, password in result.staff_created:
        click.echo(f"Conta criada: {username} ({role}), senha: {password}")
    if result.procedures_created:
        click.echo(f"Procedimentos cadastrados: {result.procedures_created}")
    click.echo("Criados: " + ", ".join(f"{name} {count:,}" for name, count in result.counts.items()))


# --- db upgrade with an automatic backup ---------------------------------------------------------------------


def _upgrade_with_backup(original: click.Command) -> click.Command:
    """Flask-Migrate's `db upgrade`, preceded by a backup of every database it will change that holds data."""

    @click.pass_context
    def upgrade(ctx, **kwargs):
        if not kwargs.get("sql"):
            x_args = (*g.get("x_arg", ()), *(kwargs.get("x_arg") or ()))
            directory = kwargs.get("directory") or g.get("directory")
            try:
                folder = backup_before_upgrade(x_args, directory, progress=lambda step: click.echo(f"- {step}"))
            except OpsError as exc:
                click.echo(f"Backup antes da migração falhou; nada foi migrado. {exc.message}", err=True)
                sys.exit(exc.exit_code)
            if folder:
                click.echo(f"Backup automático antes da migração: {folder}")
        return ctx.invoke(original.callback, **kwargs)

    help_text = (original.help or "") + (
        "\n\nSorriso: a database that holds data and is not at the latest revision is first backed up into "
        "instance/backups/pre-upgrade-<UTC time>/ (SQLite DDL is not transactional)."
    )
    return click.Command("upgrade", callback=with_appcontext(upgrade), params=original.params, help=help_text)


def db_group_with_safe_upgrade() -> click.Group:
    """A copy of Flask-Migrate's `db` group whose `upgrade` takes a backup first (the original is untouched)."""
    commands = dict(migrate_group.commands)
    commands["upgrade"] = _upgrade_with_backup(migrate_group.commands["upgrade"])
    return click.Group(
        "db", commands=commands, params=migrate_group.params, callback=migrate_group.callback, help=migrate_group.help
    )


def register_cli(app) -> None:
    """Attach every command group to the app (after Flask-Migrate, whose `db` group is replaced)."""
    for group in (audit_cli, users_cli, clinic_cli, seed_cli):
        app.cli.add_command(group)
    app.cli.add_command(db_group_with_safe_upgrade())
