"""Flask CLI commands for administrators: `flask --app wsgi users|clinic|seed|audit|db ...`.

Commands stay thin: parse arguments, call a service or an `app.ops` function, print. Exit status 0 means
done, 1 means refused (bad input, a problem found), 2 means a usage or database problem.
The clinic's administrator reads Portuguese: every message and help text is a Portuguese source string
wrapped for Flask-Babel, like the UI (`gettext` when printed, `lazy_gettext` for help defined at import).
Machine-readable output (`--json`, the checkpoint's ID:HASH) is never translated.
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
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_migrate.cli import db as migrate_group
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.db import BIND_KEYS, HISTORY, engine_of
from app.db.actor import acting_as
from app.db.chain import make_checkpoint, verify_chain
from app.db.relay import pending_counts, relay_all
from app.ops import OpsError
from app.ops.accounts import find_user, format_table, user_rows
from app.ops.backup import backup_before_upgrade, restore_backup, take_backup, verify_backup
from app.ops.checks import run_checks
from app.ops.recover import recover_bind
from app.ops.seed import patient_count, seed_demo
from app.services.errors import ServiceError, ValidationError
from app.services.users import activate_user, create_user, deactivate_user, list_users, set_password
from app.vocabulary import Role

FIELD_LABELS = {
    "username": _l("usuário"),
    "full_name": _l("nome"),
    "role": _l("papel"),
    "password": _l("senha"),
    "email": _l("e-mail"),
    "cro": _l("CRO"),
    "reason": _l("motivo"),
}
SEED_COUNT_LABELS = {
    "patients": _l("pacientes"),
    "anamneses": _l("anamneses"),
    "appointments": _l("consultas"),
    "treatment_plans": _l("planos de tratamento"),
    "treatment_items": _l("itens de plano"),
    "payments": _l("pagamentos"),
}


def role_label(role: str) -> str:
    """The Portuguese name of a role code (`dentist` → `dentista`)."""
    return str(Role.label_of(role))


def echo_steps(step: str) -> None:
    """Progress callback of the operations: one line per step."""
    click.echo(f"- {step}")


def needs_migrated_databases(command):
    """Turn "no such table" into a readable message and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (OperationalError, ProgrammingError) as exc:
            click.echo(
                _(
                    "Erro de banco de dados: %(error)s. O `flask --app wsgi db upgrade` já foi executado?",
                    error=exc.orig,
                ),
                err=True,
            )
            sys.exit(2)

    return wrapper


def reports_errors(command):
    """Print service and operations errors readably: exit 1 when refused, 2 for usage or database problems."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ValidationError as exc:
            click.echo(_("Recusado:"), err=True)
            for field, message in exc.errors.items():
                click.echo(f"  - {FIELD_LABELS.get(field, field)}: {message}", err=True)
            sys.exit(1)
        except ServiceError as exc:
            click.echo(_("Recusado: %(reason)s", reason=exc.message), err=True)
            sys.exit(1)
        except OpsError as exc:
            click.echo(exc.message, err=True)
            sys.exit(exc.exit_code)
        except sqlite3.DatabaseError as exc:
            click.echo(_("Erro de banco de dados: %(error)s", error=exc), err=True)
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

audit_cli = AppGroup(
    "audit",
    help=_l("Trilha de auditoria: transferir os eventos pendentes, verificar a cadeia HMAC, imprimir um checkpoint."),
)


def chain_broken(problem: str) -> None:
    """Say where the audit chain breaks and exit 1."""
    click.echo(_("Cadeia de auditoria QUEBRADA: %(problem)s", problem=problem), err=True)
    sys.exit(1)


@audit_cli.command(
    "relay",
    help=_l(
        "Transfere para o history.db todos os eventos de auditoria que esperam nos outboxes "
        "(seguro a qualquer momento, quantas vezes for preciso)."
    ),
)
@needs_migrated_databases
def audit_relay():
    """Move every pending outbox event into history.db."""
    written = relay_all()
    left = ", ".join(f"{bind} {count}" for bind, count in pending_counts().items())
    click.echo(_("Eventos gravados no histórico: %(written)s; ainda pendentes: %(left)s.", written=written, left=left))


@audit_cli.command(
    "verify", help=_l("Recalcula a cadeia HMAC do history.db; sai com 1 indicando a primeira linha adulterada.")
)
@click.option(
    "--checkpoint",
    help=_l("Um valor impresso antes por `flask audit checkpoint`; revela um fim de cadeia apagado."),
)
@needs_migrated_databases
def audit_verify(checkpoint):
    """Recompute the HMAC chain of history.db; exit 1 naming the first bad row."""
    report = verify_chain(engine_of(HISTORY), current_app.config["AUDIT_HMAC_KEY"], checkpoint)
    if not report.ok:
        chain_broken(report.problem)
    click.echo(_("Cadeia de auditoria íntegra: %(rows)s linha(s) verificada(s).", rows=report.rows))


@audit_cli.command(
    "checkpoint",
    help=_l(
        "Imprime o último valor da cadeia (ID:HASH); guarde-o fora deste computador para descobrir depois "
        "se o fim da cadeia foi apagado."
    ),
)
@needs_migrated_databases
def audit_checkpoint():
    """Print the latest chain value as ID:HASH (machine-readable, never translated)."""
    report = verify_chain(engine_of(HISTORY), current_app.config["AUDIT_HMAC_KEY"])
    if not report.ok:
        chain_broken(report.problem)
    click.echo(make_checkpoint(report))


# --- users -------------------------------------------------------------------------------------------------

users_cli = AppGroup(
    "users",
    help=_l(
        "Contas da equipe: criar, listar, definir senha, desativar, reativar. "
        "Toda alteração é auditada com o comando como caminho."
    ),
)
password_stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help=_l("Lê a senha da primeira linha da entrada padrão em vez de perguntar (para scripts)."),
)


def read_password(from_stdin: bool) -> str:
    """The new password: first line of stdin, or typed twice at a hidden prompt. Never an argument."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise OpsError(_("Nenhuma senha recebida na entrada padrão."), 1)
        return password
    while True:  # like click's confirmation prompt, with the mismatch said in Portuguese
        password = click.prompt(_("Senha"), hide_input=True)
        if click.prompt(_("Repita a senha"), hide_input=True) == password:
            return password
        click.echo(_("As senhas digitadas não conferem. Tente de novo."), err=True)


@users_cli.command(
    "create",
    help=_l(
        "Cria a conta USERNAME da equipe; a senha é pedida duas vezes sem aparecer na tela "
        "(ou lida com --password-stdin), nunca dada como argumento."
    ),
)
@click.argument("username")
@click.option("--full-name", prompt=_l("Nome completo"), help=_l("Nome completo, como aparece no Sorriso."))
@click.option(
    "--role",
    type=click.Choice(Role.values()),
    prompt=_l("Papel"),
    help=_l("admin (administrador), dentist (dentista) ou receptionist (recepcionista)."),
)
@click.option("--email", default=None, help=_l("Endereço de e-mail (opcional)."))
@click.option("--cro", default=None, help=_l("Registro no CRO (obrigatório para dentistas)."))
@password_stdin_option
@reports_errors
def users_create(username, full_name, role, email, cro, password_stdin):
    """Create a staff account USERNAME; the password is prompted for (or read with --password-stdin)."""
    password = read_password(password_stdin)
    with cli_actor("users create"):
        user = create_user(username, full_name, role, password, email=email, cro=cro)
    click.echo(
        _("Usuário %(username)s (#%(id)s, %(role)s) criado.", username=user.username, id=user.id, role=role_label(role))
    )


@users_cli.command("list", help=_l("Mostra as contas da equipe numa tabela."))
@click.option("--active-only", is_flag=True, help=_l("Esconde as contas desativadas."))
@reports_errors
def users_list(active_only):
    """Print the staff accounts as a table."""
    click.echo(format_table(user_rows(list_users(include_inactive=not active_only))))


@users_cli.command(
    "set-password",
    help=_l("Define uma nova senha para USER (nome de usuário ou #id); as sessões abertas dessa conta terminam."),
)
@click.argument("user")
@password_stdin_option
@reports_errors
def users_set_password(user, password_stdin):
    """Set a new password for USER (username or #id); the user's other sessions end."""
    account = find_user(user)
    password = read_password(password_stdin)
    with cli_actor("users set-password"):
        set_password(account.id, password)
    click.echo(
        _(
            "Senha de %(username)s alterada; as sessões abertas dessa conta foram encerradas.",
            username=account.username,
        )
    )


@users_cli.command(
    "deactivate",
    help=_l(
        "Desativa USER (nome de usuário ou #id) com um motivo por escrito; contas nunca são apagadas. "
        "O último administrador ativo não pode ser desativado."
    ),
)
@click.argument("user")
@click.option("--reason", prompt=_l("Motivo da desativação"), help=_l("Por que a conta é desativada (obrigatório)."))
@reports_errors
def users_deactivate(user, reason):
    """Deactivate USER (username or #id) with a written reason; the service's rules apply (no account acts here)."""
    account = find_user(user)
    with cli_actor("users deactivate"):
        deactivate_user(account.id, reason)
    click.echo(_("Usuário %(username)s desativado.", username=account.username))


@users_cli.command("activate", help=_l("Reativa USER (nome de usuário ou #id)."))
@click.argument("user")
@reports_errors
def users_activate(user):
    """Reactivate USER (username or #id)."""
    account = find_user(user)
    with cli_actor("users activate"):
        activate_user(account.id)
    click.echo(_("Usuário %(username)s reativado.", username=account.username))


# --- clinic ------------------------------------------------------------------------------------------------

clinic_cli = AppGroup("clinic", help=_l("Saúde da instalação, backup com o Sorriso no ar, restauração e migração."))


def _print_report(report) -> None:
    """The human-readable form of `clinic check`."""
    for bind, info in report.binds.items():
        click.echo(f"{bind} ({info.get('backend')}) {info.get('path', '')}".rstrip())
        if "file_size" in info:
            click.echo(
                _(
                    "  arquivo %(size)s bytes, WAL %(wal)s bytes, journal_mode no arquivo %(mode)s",
                    size=f"{info['file_size']:,}",
                    wal=f"{info['wal_size']:,}",
                    mode=info["file_journal_mode"],
                )
            )
        if "pragmas_in_force" in info:
            pragmas = " ".join(f"{k}={v}" for k, v in info["pragmas_in_force"].items())
            click.echo(_("  PRAGMAs em vigor: %(pragmas)s", pragmas=pragmas))
            click.echo(_("  quick_check: %(result)s", result="; ".join(info["quick_check"][:3])))
        if "head" in info:
            click.echo(
                _(
                    "  revisão %(revision)s (código: %(head)s)",
                    revision=info.get("revision") or _("nenhuma"),
                    head=info["head"],
                )
            )
    orphans = sum(entry["count"] for entry in report.orphans)
    click.echo(_("Referências entre bancos sem destino (órfãos): %(count)s", count=orphans))
    if report.outbox:
        pending = ", ".join(f"{b} {n}" for b, n in report.outbox.items())
        click.echo(_("Outbox pendente: %(pending)s", pending=pending))
    if report.audit_chain:
        state = _("OK") if report.audit_chain["ok"] else _("QUEBRADA")
        click.echo(
            _("Cadeia de auditoria: %(state)s (%(rows)s linha(s))", state=state, rows=report.audit_chain["rows"])
        )
    click.echo(f"SQLite {report.sqlite_version}")
    for title, entries in ((_("AVISOS"), report.warnings), (_("PROBLEMAS"), report.problems)):
        if entries:
            click.echo(f"{title}:")
            for entry in entries:
                click.echo(f"  - {entry}")
    if report.ok:
        click.echo(_("Resultado: OK"))
    else:
        click.echo(_("Resultado: %(count)s problema(s)", count=len(report.problems)))


@clinic_cli.command(
    "check",
    help=_l(
        "Verifica cada banco: PRAGMAs em vigor comparados com a configuração, quick_check, revisão da migração, "
        "tamanho dos arquivos, ids entre bancos sem destino (órfãos), eventos de auditoria pendentes, a cadeia "
        "de auditoria e a versão do SQLite. Sai com 0 quando está saudável (avisos permitidos), 1 listando "
        "cada problema."
    ),
)
@click.option("--json", "as_json", is_flag=True, help=_l("Imprime o relatório em JSON."))
@reports_errors
def clinic_check(as_json):
    """Health report of every database; exit 1 listing every problem (`--json`: machine-readable)."""
    report = run_checks()
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_report(report)
    if not report.ok:
        sys.exit(1)


@clinic_cli.command(
    "backup",
    help=_l(
        "Faz backup dos três bancos na pasta DEST (nova ou vazia) com o Sorriso funcionando. Cada banco é copiado "
        "de forma consistente pela API de backup do SQLite, conferido com integrity_check e gravado em disco; "
        "o manifest.json registra o SHA-256, a revisão da migração e a contagem de linhas de cada arquivo."
    ),
)
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@reports_errors
def clinic_backup(dest):
    """Back up the three databases into DEST while Sorriso keeps running (app.ops.backup.take_backup)."""
    manifest = take_backup(dest, progress=echo_steps)
    rows = sum(sum(entry["row_counts"].values()) for entry in manifest["databases"].values())
    click.echo(
        _(
            "Backup completo em %(dest)s: %(databases)s banco(s), %(rows)s linha(s).",
            dest=dest,
            databases=len(manifest["databases"]),
            rows=f"{rows:,}",
        )
    )


@clinic_cli.command(
    "verify-backup",
    help=_l("Confere uma pasta de backup sem restaurá-la: manifesto, checksums SHA-256, integrity_check."),
)
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@reports_errors
def clinic_verify_backup(src):
    """Check a backup folder without restoring it."""
    manifest = verify_backup(src, progress=echo_steps)
    click.echo(
        _(
            "Backup válido: %(databases)s de %(created_at)s.",
            databases=", ".join(manifest["databases"]),
            created_at=manifest["created_at"],
        )
    )


@clinic_cli.command(
    "restore",
    help=_l(
        "Restaura os bancos a partir da pasta de backup SRC. PARE O SORRISO ANTES (o servidor web e qualquer "
        "comando). Manifesto, checksums e integrity_check são conferidos primeiro; um backup de um Sorriso mais "
        "novo é recusado; bancos existentes só são substituídos com --force, e então vão para "
        "instance/backups/before-restore-<hora>/ junto com seus arquivos -wal e -shm."
    ),
)
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--force", is_flag=True, help=_l("Substitui os bancos existentes (eles são guardados ao lado, nunca apagados).")
)
@reports_errors
def clinic_restore(src, force):
    """Restore the databases from the backup folder SRC (the app must be stopped)."""
    result = restore_backup(src, force=force, progress=echo_steps)
    click.echo(_("Restaurado: %(databases)s.", databases=", ".join(result.restored)))
    if result.moved_aside_to:
        click.echo(_("Os bancos anteriores foram guardados em %(folder)s.", folder=result.moved_aside_to))
    if result.needs_upgrade:
        click.echo(
            _(
                "Rode `flask db upgrade`: %(databases)s está(ão) numa revisão anterior.",
                databases=", ".join(result.needs_upgrade),
            )
        )
    click.echo(_("Depois rode `flask audit relay` e `flask clinic check` antes de iniciar o Sorriso."))


@clinic_cli.command(
    "recover",
    help=_l(
        "Salva o que for possível de um banco danificado num arquivo NOVO (DEST), com o .recover do sqlite3. "
        "O original nunca é alterado: o .recover lê uma cópia. O arquivo novo é conferido com integrity_check "
        "e as linhas de cada tabela são comparadas com o original. Para usá-lo: pare o Sorriso, guarde o arquivo "
        "danificado e coloque o recuperado no lugar; depois rode `flask clinic check`."
    ),
)
@click.argument("bind", type=click.Choice(BIND_KEYS))
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@reports_errors
def clinic_recover(bind, dest):
    """Rebuild one bind's damaged database into a new file (app.ops.recover)."""
    result = recover_bind(bind, dest)
    click.echo(
        _(
            "Arquivo recuperado: %(dest)s (a partir de %(source)s, com %(method)s)",
            dest=result.dest,
            source=result.source,
            method=result.method,
        )
    )
    for table, count in sorted(result.recovered_rows.items()):
        original = result.original_rows.get(table)
        before = _("ilegível") if original is None else f"{original:,}"
        click.echo(
            _("  %(table)s: %(count)s linha(s) (original: %(before)s)", table=table, count=f"{count:,}", before=before)
        )
    if result.lost_and_found:
        click.echo(_("  lost_and_found: %(count)s linha(s) sem tabela de origem", count=f"{result.lost_and_found:,}"))
    click.echo(_("integrity_check do arquivo novo: %(result)s", result="; ".join(result.integrity[:5])))
    if result.integrity != ["ok"]:
        sys.exit(1)


@clinic_cli.command(
    "migrate-to",
    help=_l(
        "Copia os três bancos desta clínica para bancos novos e vazios (PostgreSQL, por exemplo) e confere a "
        "cópia. Pare o servidor web antes. Os eventos de auditoria pendentes são transferidos, os destinos são "
        "migrados para a última revisão, cada linha é copiada com o seu id, e a cópia é provada pela contagem de "
        "linhas de cada tabela e pela cadeia de auditoria. Depois aponte PACIENTES_DATABASE_URL, "
        "USERS_DATABASE_URL e HISTORY_DATABASE_URL para os destinos."
    ),
)
@click.option(
    "--pacientes",
    "pacientes_url",
    required=True,
    help=_l("URL de destino do banco pacientes, p.ex. postgresql+psycopg://..."),
)
@click.option("--users", "users_url", required=True, help=_l("URL de destino do banco users."))
@click.option("--history", "history_url", required=True, help=_l("URL de destino do banco history."))
@reports_errors
def clinic_migrate_to(pacientes_url, users_url, history_url):
    """Copy this clinic's three databases into new, empty ones and verify the copy (app.ops.transfer)."""
    from app.ops.transfer import TransferError, transfer_to

    urls = {"pacientes": pacientes_url, "users": users_url, "history": history_url}
    try:
        report = transfer_to(urls, progress=click.echo)
    except TransferError as exc:
        click.echo(_("Recusado: %(reason)s", reason=exc), err=True)
        sys.exit(1)
    click.echo(
        _(
            "Copiados %(rows)s registros em %(tables)s tabelas; contagens conferem; "
            "cadeia de auditoria verificada no destino (%(events)s eventos).",
            rows=sum(report.counts.values()),
            tables=len(report.counts),
            events=report.chain_rows,
        )
    )


# --- seed --------------------------------------------------------------------------------------------------

seed_cli = AppGroup(
    "seed", help=_l("Dados de demonstração para experimentar o Sorriso (nunca nos bancos de uma clínica real).")
)


@seed_cli.command(
    "demo",
    help=_l(
        "Preenche a clínica com dados de demonstração brasileiros realistas: pacientes (CPFs, telefones e "
        "endereços válidos), anamneses, consultas, planos de tratamento com itens e pagamentos; cria um "
        "administrador, um dentista e um recepcionista quando faltam e imprime as senhas deles. Auditoria: contas "
        "e procedimentos passam pelos serviços e são auditados um a um; pacientes e seus registros são inseridos "
        "em lotes, e cada lote grava UM evento de auditoria resumido (ação seed_demo, com as contagens e a faixa "
        "de ids dos pacientes), de modo que a cadeia de auditoria fica completa e 100.000 pacientes levam "
        "minutos, não horas."
    ),
)
@click.option(
    "--patients",
    type=click.IntRange(1, 1_000_000),
    default=1000,
    show_default=True,
    help=_l("Quantos pacientes criar."),
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=1000,
    show_default=True,
    help=_l("Pacientes por transação."),
)
@click.option(
    "--seed", "random_seed", type=int, default=None, help=_l("Semente aleatória, para gerar sempre os mesmos dados.")
)
@click.option(
    "--yes",
    is_flag=True,
    help=_l("Não pergunta antes de acrescentar dados de demonstração a uma clínica com pacientes."),
)
@reports_errors
def seed_demo_command(patients, batch_size, random_seed, yes):
    """Fill the clinic with demo data (app.ops.seed): staff through the services, patients in audited batches."""
    existing = patient_count()
    if existing and not yes:
        click.confirm(
            _("A clínica já tem %(count)s paciente(s). Acrescentar dados de demonstração?", count=existing), abort=True
        )
    with click.progressbar(length=patients, label=_("Pacientes"), show_pos=True) as bar:
        result = seed_demo(patients, batch_size, random_seed, on_batch=bar.update)
    for username, role, password in result.staff_created:
        click.echo(
            _(
                "Conta criada: %(username)s (%(role)s), senha: %(password)s",
                username=username,
                role=role_label(role),
                password=password,
            )
        )
    if result.procedures_created:
        click.echo(_("Procedimentos cadastrados: %(count)s", count=result.procedures_created))
    created = ", ".join(f"{SEED_COUNT_LABELS.get(name, name)} {count:,}" for name, count in result.counts.items())
    click.echo(_("Criados: %(counts)s", counts=created))


# --- db upgrade with an automatic backup ---------------------------------------------------------------------


def _upgrade_with_backup(original: click.Command) -> click.Command:
    """Flask-Migrate's `db upgrade`, preceded by a backup of every database it will change that holds data."""

    @click.pass_context
    def upgrade(ctx, **kwargs):
        if not kwargs.get("sql"):
            x_args = (*g.get("x_arg", ()), *(kwargs.get("x_arg") or ()))
            directory = kwargs.get("directory") or g.get("directory")
            try:
                folder = backup_before_upgrade(x_args, directory, progress=echo_steps)
            except OpsError as exc:
                click.echo(
                    _("Backup antes da migração falhou; nada foi migrado. %(reason)s", reason=exc.message), err=True
                )
                sys.exit(exc.exit_code)
            if folder:
                click.echo(_("Backup automático antes da migração: %(folder)s", folder=folder))
        return ctx.invoke(original.callback, **kwargs)

    help_text = (
        (original.help or "")
        + "\n\n"
        + _l(
            "Sorriso: um banco que tem dados e não está na última revisão ganha antes um backup em "
            "instance/backups/pre-upgrade-<hora UTC>/ (o DDL do SQLite não é transacional)."
        )
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
