"""`flask clinic recover`: save what can be saved of a damaged SQLite database into a NEW file.

SQLite's own `.recover` (the `sqlite3` command-line tool, Debian package `sqlite3`) reads every page it can
and writes SQL that rebuilds the schema and the readable rows (rows it cannot place go to `lost_and_found`).
Debian 12's sqlite3 (3.40) is built without the page reader `.recover` needs; there `.dump`, which skips the
pages it cannot read, is used instead and the command says so.
The original is never opened for writing: it is copied (with its `-wal`) into a temporary folder and `.recover`
reads the copy. The new file is then checked with `integrity_check`, and the row count of each table is
reported beside the original's where the original can still be counted. Putting the recovered file in
place is the administrator's decision (stop Sorriso, keep the damaged file aside, rename the new one).
"""

import re
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from flask_babel import gettext as _

from app.ops import OpsError
from app.ops.files import bind_paths, fsync_dir, fsync_file

RECOVER_TIMEOUT_SECONDS = 3600
ROLLED_BACK = re.compile(rb"ROLLBACK; -- due to errors\s*$")


@dataclass
class RecoverResult:
    """What `.recover` produced: the new file, its integrity check, and rows per table (new vs original)."""

    source: Path
    dest: Path
    integrity: list[str]
    method: str  # ".recover", or ".dump" where the sqlite3 build cannot recover
    recovered_rows: dict[str, int] = field(default_factory=dict)
    original_rows: dict[str, int | None] = field(default_factory=dict)
    lost_and_found: int = 0


def _sqlite3_tool() -> str:
    """The sqlite3 command-line tool, or a message telling how to install it."""
    tool = shutil.which("sqlite3")
    if tool is None:
        raise OpsError(_("O programa sqlite3 não está instalado (Debian: apt-get install -y sqlite3)."), exit_code=2)
    return tool


def _row_counts(path: Path) -> dict[str, int | None]:
    """Rows per table of a database file read-only; None for a table that cannot be counted (damaged)."""
    counts: dict[str, int | None] = {}
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.DatabaseError:
        return counts
    try:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            try:
                counts[table] = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            except sqlite3.DatabaseError:
                counts[table] = None
    except sqlite3.DatabaseError:
        pass
    finally:
        conn.close()
    return counts


def _run_tool(tool: str, database: Path, command: str) -> subprocess.CompletedProcess:
    """The sqlite3 tool's output for one dot-command on a database copy."""
    return subprocess.run(  # noqa: S603 - the sqlite3 tool on a path Sorriso chose
        [tool, str(database), command], capture_output=True, timeout=RECOVER_TIMEOUT_SECONDS, check=False
    )


def _recovery_sql(tool: str, copy: Path) -> tuple[str, bytes]:
    """SQL that rebuilds what is readable: `.recover`'s, or — where this sqlite3 build lacks the page reader
    `.recover` needs (Debian 12's 3.40 answers "SQL logic error") — `.dump`'s, which skips unreadable pages
    and ends with ROLLBACK when it met one; that last line becomes COMMIT so the readable rows are kept."""
    recovered = _run_tool(tool, copy, ".recover")
    if recovered.returncode == 0 and b"CREATE TABLE" in recovered.stdout:
        return ".recover", recovered.stdout
    dumped = _run_tool(tool, copy, ".dump")
    if b"CREATE TABLE" not in dumped.stdout:
        detail = (recovered.stderr + dumped.stderr).decode(errors="replace").strip()
        raise OpsError(_("Nada pôde ser lido de %(path)s: %(detail)s", path=copy.name, detail=detail), exit_code=2)
    return ".dump", ROLLED_BACK.sub(b"COMMIT;", dumped.stdout)


def recover_bind(bind: str, dest: Path) -> RecoverResult:
    """Rebuild one bind's database into `dest` (a new file) with `.recover`; the original is left untouched."""
    source = bind_paths().get(bind)
    if source is None:
        raise OpsError(_("O banco %(bind)s não é um arquivo SQLite.", bind=bind))
    if not source.exists():
        raise OpsError(_("O arquivo %(path)s não existe.", path=source))
    dest = dest.resolve()
    if dest.exists():
        raise OpsError(_("%(path)s já existe: escolha um arquivo novo.", path=dest))
    if not dest.parent.is_dir():
        raise OpsError(_("A pasta %(path)s não existe.", path=dest.parent))
    tool = _sqlite3_tool()
    with tempfile.TemporaryDirectory(prefix="sorriso-recover-") as tmp:
        copy = Path(tmp) / source.name
        shutil.copyfile(source, copy)
        wal = source.with_name(source.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        method, script = _recovery_sql(tool, copy)
        partial = dest.with_name(dest.name + ".partial")
        partial.unlink(missing_ok=True)
        rebuilt = subprocess.run(  # noqa: S603 - likewise
            [tool, str(partial)], input=script, capture_output=True, timeout=RECOVER_TIMEOUT_SECONDS, check=False
        )
        if rebuilt.returncode != 0 or not partial.exists():
            partial.unlink(missing_ok=True)
            detail = rebuilt.stderr.decode(errors="replace").strip()
            raise OpsError(_("Não foi possível montar o arquivo recuperado: %(detail)s", detail=detail), exit_code=2)
        original_rows = _row_counts(copy)
    with sqlite3.connect(partial) as conn:
        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    conn.close()
    fsync_file(partial)
    partial.rename(dest)
    fsync_dir(dest.parent)
    recovered = _row_counts(dest)
    lost = recovered.pop("lost_and_found", 0) or 0
    return RecoverResult(source, dest, integrity, method, recovered, original_rows, lost)
