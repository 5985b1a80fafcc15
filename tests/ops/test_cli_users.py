"""`flask users create|list|set-password|deactivate|activate`: through the services, audited, clear exits."""

import json

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from app.extensions import db
from app.models.history import AuditEvent
from app.models.users import User
from app.services import sessions
from app.services import users as users_service
from app.vocabulary import SessionEndReason
from tests.factories import PASSWORD, make_user
from tests.support import run_flask

NEW_PASSWORD = "outra-senha-forte-9"


def account(username: str) -> User | None:
    """The account with this username, read afresh."""
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.username == username))


def audit_rows(path: str) -> list[AuditEvent]:
    """History rows recorded by one CLI command."""
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.request_path == path)))


def test_create_prompts_for_the_password_twice_and_audits_the_command(app, runner):
    """The password is typed at a hidden prompt with confirmation; history names the command, not a user."""
    result = runner.invoke(
        args=["users", "create", "ana", "--full-name", "Ana Conceição", "--role", "admin"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    user = account("ana")
    assert user.full_name == "Ana Conceição" and user.role == "admin"
    assert check_password_hash(user.password_hash, PASSWORD)
    (event,) = audit_rows("cli:users create")
    assert (event.action, event.row_id, event.actor_user_id) == ("create", user.id, None)
    assert event.client_addr.startswith("cli:")
    assert json.loads(event.changes)["password_hash"] == [None, "[redacted]"]


def test_create_prompts_for_missing_name_and_role(app, runner):
    """Without options the command asks for the name and the role too."""
    answers = f"Beatriz Simões\nreceptionist\n{PASSWORD}\n{PASSWORD}\n"
    result = runner.invoke(args=["users", "create", "bia"], input=answers)
    assert result.exit_code == 0, result.output
    assert account("bia").role == "receptionist"


def test_create_reads_the_password_from_stdin(app, runner):
    """--password-stdin takes the first line of standard input (for scripts)."""
    result = runner.invoke(
        args=[
            "users",
            "create",
            "dr.joao",
            "--full-name",
            "João Araújo",
            "--role",
            "dentist",
            "--cro",
            "SP-1234",
            "--password-stdin",
        ],
        input=f"{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert check_password_hash(account("dr.joao").password_hash, PASSWORD)


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["x", "--full-name", "Xis", "--role", "admin", "--password-stdin"], f"{PASSWORD}\n", "usuário: Use de 3"),
        (["cris", "--full-name", "Cris", "--role", "admin", "--password-stdin"], "curta\n", "senha: A senha deve"),
        (["cris", "--full-name", "Cris", "--role", "dentist", "--password-stdin"], f"{PASSWORD}\n", "CRO: Dentistas"),
        (
            ["cris", "--full-name", "Cris", "--role", "dentist", "--cro", "12345", "--password-stdin"],
            f"{PASSWORD}\n",
            "CRO: CRO inválido: informe a UF",
        ),
        (["cris", "--full-name", "Cris", "--role", "admin", "--password-stdin"], "\n", "Nenhuma senha recebida"),
        (["cris", "--full-name", "Cris", "--role", "admin"], f"{PASSWORD}\n{PASSWORD}x\n", "não conferem"),
    ],
)
def test_create_refuses_bad_input_with_exit_1_and_creates_nothing(app, runner, args, stdin, message):
    """Bad username, short password, dentist without a valid CRO, empty or mismatched password: exit 1, no account."""
    result = runner.invoke(args=["users", "create", *args], input=stdin)
    assert result.exit_code == 1
    assert message in result.output
    assert db.session.scalar(select(db.func.count()).select_from(User)) == 0


def test_create_refuses_a_taken_username(app, runner):
    """A duplicate username is refused by the service with its Portuguese message."""
    make_user(username="duda")
    result = runner.invoke(
        args=["users", "create", "duda", "--full-name", "Outra", "--role", "admin", "--password-stdin"],
        input=f"{PASSWORD}\n",
    )
    assert result.exit_code == 1
    assert "usuário: Este nome de usuário já existe." in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["create", "eva", "--full-name", "Eva", "--role", "owner", "--password-stdin"],
        ["create", "eva", "--full-name", "Eva", "--role", "admin", "--password", PASSWORD],
        ["set-password"],
    ],
)
def test_usage_errors_exit_2(app, runner, args):
    """An unknown role, a password given as an argument, a missing argument: click's usage error, exit 2."""
    result = runner.invoke(args=["users", *args], input=f"{PASSWORD}\n")
    assert result.exit_code == 2
    assert account("eva") is None


def test_list_prints_a_table_of_every_account(app, runner):
    """The table shows username, name, role label, CRO and status, deactivated accounts included."""
    make_user("admin", username="chefe", full_name="Márcia Chefe")
    dentist = make_user("dentist", username="dra.lu", full_name="Lúcia Dentista", cro="SP-777")
    make_user("receptionist", username="rececao", full_name="Recepção Um")
    runner.invoke(args=["users", "deactivate", "rececao", "--reason", "Saiu da clínica"])
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["id", "usuário", "nome", "papel", "CRO", "situação", "último", "acesso"]
    row = next(line for line in lines if "dra.lu" in line)
    assert f"{dentist.id}" in row and "Lúcia Dentista" in row and "dentista" in row and "SP-777" in row
    assert "desativado" in next(line for line in lines if "rececao" in line)
    active = runner.invoke(args=["users", "list", "--active-only"])
    assert "rececao" not in active.output and "chefe" in active.output


def test_set_password_changes_it_and_ends_other_sessions(app, runner):
    """The new password works, the old one does not, and the account's open sessions end."""
    user = make_user()
    token = users_service.authenticate(user.username, PASSWORD).session_token
    result = runner.invoke(args=["users", "set-password", user.username], input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    changed = account(user.username)
    assert check_password_hash(changed.password_hash, NEW_PASSWORD)
    assert not check_password_hash(changed.password_hash, PASSWORD)
    assert sessions.resolve(token).ended_because == SessionEndReason.PASSWORD_CHANGE
    rows = audit_rows("cli:users set-password")
    assert sorted(event.action for event in rows) == ["password_change", "session_end"]


def test_set_password_accepts_an_id(app, runner):
    """A user can be named by `#id` as well as by username."""
    user = make_user()
    result = runner.invoke(args=["users", "set-password", f"#{user.id}", "--password-stdin"], input=f"{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert check_password_hash(account(user.username).password_hash, NEW_PASSWORD)


@pytest.mark.parametrize("command", ["set-password", "deactivate", "activate"])
def test_unknown_user_is_refused_with_exit_1(app, runner, command):
    """Naming an account that does not exist says so."""
    result = runner.invoke(
        args=["users", command, "ninguem", "--reason", "x"]
        if command == "deactivate"
        else ["users", command, "ninguem"],
        input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
    )
    assert result.exit_code == 1
    assert "Usuário #ninguem não encontrado." in result.output


def test_deactivate_and_activate_round_trip_audited(app, runner):
    """Deactivation needs a reason, is audited as `deactivate`; activation brings the account back."""
    make_user("admin")
    user = make_user()
    result = runner.invoke(args=["users", "deactivate", user.username], input="Licença médica\n")
    assert result.exit_code == 0, result.output
    assert account(user.username).is_active is False
    assert account(user.username).deactivation_reason == "Licença médica"
    assert runner.invoke(args=["users", "deactivate", user.username, "--reason", "de novo"]).exit_code == 1
    assert runner.invoke(args=["users", "activate", user.username]).exit_code == 0
    assert account(user.username).is_active is True
    assert [e.action for e in audit_rows("cli:users deactivate")] == ["deactivate"]
    assert [e.action for e in audit_rows("cli:users activate")] == ["activate"]


def test_deactivating_the_last_admin_is_refused(app, runner):
    """The service's rule surfaces as a readable refusal with exit 1."""
    admin = make_user("admin")
    result = runner.invoke(args=["users", "deactivate", admin.username, "--reason", "teste"])
    assert result.exit_code == 1
    assert "pelo menos um administrador ativo" in result.output
    assert account(admin.username).is_active is True


def test_the_command_line_has_no_account_of_its_own(app, runner):
    """`users deactivate` acts as `cli:<os user>` with no account, so the own-account rule of the service never
    stops it; the last-admin rule still does."""
    first, second = make_user("admin"), make_user("admin")
    result = runner.invoke(args=["users", "deactivate", first.username, "--reason", "saiu"])
    assert result.exit_code == 0, result.output
    assert [e.actor_user_id for e in audit_rows("cli:users deactivate")] == [None]
    refused = runner.invoke(args=["users", "deactivate", second.username, "--reason", "engano"])
    assert refused.exit_code == 1 and "pelo menos um administrador ativo" in refused.output
    assert "própria conta" not in refused.output


def test_unmigrated_databases_exit_2(tmp_path):
    """A real `flask users list` before `flask db upgrade` explains what to run, exit 2, no traceback."""
    folder = tmp_path / "empty"
    folder.mkdir()
    result = run_flask(folder, "users", "list")
    assert result.returncode == 2
    assert "db upgrade" in result.stderr and "Traceback" not in result.stderr


def test_real_subprocess_creates_and_lists_an_account(tmp_path, migrated_template):
    """Through a real `flask` process: create with --password-stdin, then list it."""
    import shutil

    folder = tmp_path / "instance"
    shutil.copytree(migrated_template, folder)
    created = run_flask(
        folder,
        "users",
        "create",
        "gil",
        "--full-name",
        "Gil Brandão",
        "--role",
        "admin",
        "--password-stdin",
        stdin=f"{PASSWORD}\n",
    )
    assert created.returncode == 0, created.stderr
    listed = run_flask(folder, "users", "list")
    assert listed.returncode == 0
    assert "Gil Brandão" in listed.stdout and "administrador" in listed.stdout
