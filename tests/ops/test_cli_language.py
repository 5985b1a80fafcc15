"""The operator reads Portuguese: every CLI help text and message is Portuguese, through Flask-Babel.

Click's own frame (`Usage:`, `Options:`, `--help`, `Aborted!`), Flask-Migrate's `db` commands other than
Sorriso's note on `db upgrade`, and Alembic's log records are third-party text and are not checked here.
"""

import re

import pytest

from app.cli import audit_cli, clinic_cli, seed_cli, users_cli
from tests.conftest import build_app, dispose
from tests.factories import PASSWORD, make_user

# Words of the English messages the CLI used to print, and English function words no Portuguese sentence has.
ENGLISH = re.compile(
    r"\b(the|and|of|with|from|into|is|are|has|been|does|every|each|when|this|that|was|were|error|refused|"
    r"relayed|pending|verified|written|created|deactivated|reactivated|copying|copied|verifying|migrating|"
    r"missing|already|rows?|broken|aborted|audit chain|database error)\b",
    re.IGNORECASE,
)
GROUPS = (audit_cli, users_cli, clinic_cli, seed_cli)
LOG_RECORD = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) +\[")


def english_in(text: str) -> list[str]:
    """The English words found in a text."""
    return [match.group(0) for match in ENGLISH.finditer(str(text))]


def readable_part(output: str, tmp_path) -> str:
    """Output without the test's folder names and without Alembic's log records (third-party, `INFO  [...]`)."""
    lines = output.replace(str(tmp_path), "<pasta>").splitlines()
    return "\n".join(line for line in lines if not LOG_RECORD.match(line))


def help_texts():
    """(where, text) for every group, command, option help and prompt that Sorriso defines."""
    for group in GROUPS:
        yield group.name, group.help
        for name, command in group.commands.items():
            yield f"{group.name} {name}", command.help
            for param in command.params:
                for attribute in ("help", "prompt"):
                    text = getattr(param, attribute, None)
                    if text:
                        yield f"{group.name} {name} {param.name} ({attribute})", text


def test_the_english_detector_catches_the_old_messages():
    """The check below would have failed on the messages this CLI printed before."""
    for old in ("Relayed 3 history row(s); pending now: {}", "Audit chain OK: 5 row(s) verified.", "Database error"):
        assert english_in(old), old
    assert not english_in("Cadeia de auditoria íntegra: 5 linha(s) verificada(s). Resultado: OK")


@pytest.mark.parametrize("where, text", list(help_texts()), ids=lambda value: str(value)[:40])
def test_help_texts_are_portuguese(where, text):
    """Groups, commands, options and prompts explain themselves in Portuguese."""
    assert text, f"{where} has no help text"
    assert english_in(text) == [], f"{where}: {text}"


def test_help_pages_render_the_portuguese_help(app, runner):
    """`--help` of every command shows its (lazily translated) Portuguese description."""
    for group in GROUPS:
        for name, command in group.commands.items():
            result = runner.invoke(args=[group.name, name, "--help"])
            assert result.exit_code == 0, result.output
            first_words = " ".join(str(command.help).split()[:4])
            assert first_words in " ".join(result.output.split()), (group.name, name)
    upgrade = runner.invoke(args=["db", "upgrade", "--help"])
    sorriso_note = " ".join(upgrade.output.split()).split("Sorriso:", 1)[1].split("Options:", 1)[0]
    assert "backup" in sorriso_note and english_in(sorriso_note) == []


def test_command_output_is_portuguese(app, runner, tmp_path):
    """One representative run of each command (success and refusal) prints no English operator message."""
    make_user("admin", username="chefe")
    outputs = {}

    def run(*args, input=None, exit_code=0):
        result = runner.invoke(args=list(args), input=input)
        assert result.exit_code == exit_code, (args, result.output)
        outputs[" ".join(args)] = result.output

    run(
        "users",
        "create",
        "rita",
        "--full-name",
        "Rita Souza",
        "--role",
        "receptionist",
        input=f"{PASSWORD}x\n{PASSWORD}\n{PASSWORD}\n{PASSWORD}\n",
    )
    run(
        "users",
        "create",
        "x",
        "--full-name",
        "X",
        "--role",
        "admin",
        "--password-stdin",
        input=f"{PASSWORD}\n",
        exit_code=1,
    )
    run("users", "list")
    run("users", "set-password", "rita", "--password-stdin", input=f"{PASSWORD}2\n")
    run("users", "set-password", "ninguem", "--password-stdin", input=f"{PASSWORD}\n", exit_code=1)
    run("users", "deactivate", "rita", "--reason", "saiu")
    run("users", "deactivate", "chefe", "--reason", "engano", exit_code=1)
    run("users", "activate", "rita")
    run("seed", "demo", "--patients", "2", "--yes")
    run("audit", "relay")
    run("audit", "verify")
    run("audit", "verify", "--checkpoint", "ontem", exit_code=1)
    run("audit", "checkpoint")
    run("clinic", "check")
    backup = tmp_path / "copia"
    run("clinic", "backup", str(backup))
    run("clinic", "backup", str(backup), exit_code=2)
    run("clinic", "verify-backup", str(backup))
    run("clinic", "restore", str(backup), exit_code=1)
    target = tmp_path / "destino"
    urls = [f"sqlite:///{target / f'{bind}.db'}" for bind in ("pacientes", "users", "history")]
    target.mkdir()
    run("clinic", "migrate-to", "--pacientes", urls[0], "--users", urls[1], "--history", urls[2])
    run("clinic", "migrate-to", "--pacientes", urls[0], "--users", urls[1], "--history", urls[2], exit_code=1)

    empty = build_app(tmp_path / "vazio")
    with empty.app_context():  # the CLI runs in the current app context when there is one
        unmigrated = empty.test_cli_runner().invoke(args=["users", "list"])
    dispose(empty)
    assert unmigrated.exit_code == 2
    outputs["users list (not migrated)"] = unmigrated.output

    outputs = {command: readable_part(output, tmp_path) for command, output in outputs.items()}
    found = {command: english_in(output) for command, output in outputs.items() if english_in(output)}
    assert found == {}, "\n".join(f"{command}: {outputs[command]}" for command in found)
