"""Online backup and restore of the SQLite databases, and the automatic backup before `flask db upgrade`.

A backup is a folder with one file per database and a `manifest.json` (checksums, revisions, row counts).
Each database is copied with SQLite's backup API in one step, from a read snapshot, so the copy is
consistent while the app keeps serving. The three snapshots are opened while pacientes and users accept no
commit (a brief write lock, taken in the unit-of-work order), so every audit event of a change in the copy is
either in the copied outbox or in the copied history, and history holds no event of a change the copy lacks.
"""

import json
import os
import shutil
import sqlite3
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from alembic.util import CommandError
from flask import current_app
from flask_babel import gettext as _

from app.db import BIND_KEYS, HISTORY, dispose_engines
from app.db.probe import head_revision, open_raw, probe_file, script_directory
from app.db.types import utcnow
from app.extensions import db
from app.ops import OpsError
from app.ops.files import COMPANIONS, backups_root, bind_paths, fsync_dir, fsync_file, new_folder, sha256_file
from config import BASE_DIR

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
LOCK_WAIT_MS = 30_000  # how long the snapshot step waits for a busy writer (a long batch, say)
Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    """The default progress callback: say nothing."""


def sorriso_version() -> str:
    """The version in pyproject.toml."""
    try:
        with open(BASE_DIR / "pyproject.toml", "rb") as handle:
            return tomllib.load(handle)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def _sqlite_paths(binds) -> dict[str, Path]:
    """The files of the given binds; refuses binds that are not SQLite or whose file does not exist."""
    paths = bind_paths()
    not_sqlite = [bind for bind in binds if paths[bind] is None]
    if not_sqlite:
        raise OpsError(
            _("%(binds)s: não é SQLite. Para PostgreSQL use pg_dump / pg_restore.", binds=", ".join(not_sqlite)), 2
        )
    missing = [f"{bind} ({paths[bind]})" for bind in binds if not paths[bind].exists()]
    if missing:
        raise OpsError(
            _("Banco de dados inexistente: %(missing)s. Rode `flask db upgrade` primeiro.", missing=", ".join(missing)),
            2,
        )
    return {bind: paths[bind] for bind in binds}


@contextmanager
def consistent_snapshots(paths: dict[str, Path]) -> Iterator[dict[str, sqlite3.Connection]]:
    """Read snapshots of the databases, opened while the audited binds briefly accept no commit."""
    binds = [bind for bind in BIND_KEYS if bind in paths]
    lockers, readers = [], {}
    try:
        for bind in binds:
            if bind != HISTORY:  # history keeps taking relayed events; it is read last
                lockers.append(open_raw(paths[bind], busy_timeout_ms=LOCK_WAIT_MS))
                lockers[-1].execute("BEGIN IMMEDIATE")
        for bind in binds:
            readers[bind] = open_raw(paths[bind])
            readers[bind].execute("BEGIN")
            readers[bind].execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here
        for conn in lockers:
            conn.execute("ROLLBACK")
        yield readers
    finally:
        for conn in (*lockers, *readers.values()):
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()


def _copy_database(source: sqlite3.Connection, partial: Path) -> None:
    """Copy a database from its snapshot in one backup step, into a standalone (rollback-journal) file."""
    partial.unlink(missing_ok=True)
    target = sqlite3.connect(partial, isolation_level=None)
    try:
        source.backup(target, pages=-1)
        target.execute("PRAGMA journal_mode = DELETE")
    finally:
        target.close()


def _finish_copy(partial: Path, final: Path) -> dict:
    """Check a copied file, describe it for the manifest, and move it into place durably."""
    copy = probe_file(partial, integrity=True, row_counts=True)
    if copy.integrity_check != ["ok"]:
        raise OpsError(
            _(
                "A cópia %(file)s não passou no integrity_check: %(result)s",
                file=final.name,
                result="; ".join(copy.integrity_check[:5]),
            )
        )
    fsync_file(partial)
    os.replace(partial, final)
    fsync_dir(final.parent)
    return {
        "file": final.name,
        "sha256": sha256_file(final),
        "size": copy.size,
        "revision": copy.revision,
        "row_counts": copy.row_counts,
    }


def _prepare_destination(dest: Path) -> None:
    """A new or empty folder, created with its parents."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise OpsError(_("O destino %(dest)s já existe e não está vazio: escolha uma pasta nova.", dest=dest), 2)
    dest.mkdir(parents=True, exist_ok=True)
    fsync_dir(dest.parent)


def _write_manifest(dest: Path, manifest: dict) -> None:
    """Write manifest.json atomically and durably."""
    partial = dest / f"{MANIFEST}.partial"
    partial.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    fsync_file(partial)
    os.replace(partial, dest / MANIFEST)
    fsync_dir(dest)


def take_backup(dest: Path, binds=BIND_KEYS, progress: Progress = _quiet, kind: str = "manual") -> dict:
    """Back up the given binds into `dest` while the app runs; returns the manifest written there."""
    dest = Path(dest).resolve()
    paths = _sqlite_paths(binds)
    _prepare_destination(dest)
    with consistent_snapshots(paths) as sources:
        for bind, source in sources.items():
            progress(_("Copiando %(bind)s (%(path)s)", bind=bind, path=paths[bind]))
            _copy_database(source, dest / f"{bind}.db.partial")
    databases = {}
    for bind in sources:
        progress(_("Verificando a cópia de %(bind)s (integrity_check, checksum)", bind=bind))
        databases[bind] = _finish_copy(dest / f"{bind}.db.partial", dest / f"{bind}.db")
    manifest = {
        "format": MANIFEST_FORMAT,
        "kind": kind,
        "created_at": utcnow().isoformat(),
        "sorriso_version": sorriso_version(),
        "sqlite_version": sqlite3.sqlite_version,
        "head_revision": head_revision(),
        "databases": databases,
    }
    _write_manifest(dest, manifest)
    progress(_("Manifesto gravado em %(path)s", path=dest / MANIFEST))
    return manifest


def read_manifest(src: Path) -> dict:
    """The manifest of a backup folder, or OpsError saying what is wrong with it."""
    path = Path(src) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OpsError(_("%(path)s não existe: isto não é uma pasta de backup do Sorriso.", path=path)) from None
    except (OSError, ValueError) as exc:
        raise OpsError(_("%(path)s não pôde ser lido: %(error)s", path=path, error=exc)) from None
    if manifest.get("format") != MANIFEST_FORMAT or not isinstance(manifest.get("databases"), dict):
        raise OpsError(_("%(path)s: formato de manifesto desconhecido.", path=path))
    unknown = set(manifest["databases"]) - set(BIND_KEYS)
    if unknown or not manifest["databases"]:
        unexpected = sorted(unknown) or _("nenhum")
        raise OpsError(_("%(path)s: bancos inesperados no manifesto: %(binds)s.", path=path, binds=unexpected))
    return manifest


def _database_problems(folder: Path, bind: str, entry: dict) -> list[str]:
    """What is wrong with one backed-up file: missing, checksum, integrity or revision mismatch."""
    path = folder / entry.get("file", f"{bind}.db")
    if not path.is_file():
        return [_("%(bind)s: arquivo %(file)s ausente", bind=bind, file=path.name)]
    if sha256_file(path) != entry.get("sha256"):
        return [
            _(
                "%(bind)s: checksum SHA-256 de %(file)s não confere com o manifesto (arquivo alterado ou corrompido)",
                bind=bind,
                file=path.name,
            )
        ]
    try:
        copy = probe_file(path, readonly=True, integrity=True)
    except sqlite3.DatabaseError as exc:
        return [_("%(bind)s: %(file)s não é um banco SQLite legível (%(error)s)", bind=bind, file=path.name, error=exc)]
    check = copy.integrity_check
    problems = []
    if check != ["ok"]:
        problems.append(_("%(bind)s: integrity_check falhou: %(result)s", bind=bind, result="; ".join(check[:5])))
    if copy.revision != entry.get("revision"):
        problems.append(
            _(
                "%(bind)s: revisão %(revision)s no arquivo, %(expected)s no manifesto",
                bind=bind,
                revision=copy.revision,
                expected=entry.get("revision"),
            )
        )
    return problems


def verify_backup(src: Path, progress: Progress = _quiet) -> dict:
    """Check a backup folder (manifest, checksums, integrity_check); returns the manifest or raises OpsError."""
    folder = Path(src)
    manifest = read_manifest(folder)
    problems = []
    for bind in (bind for bind in BIND_KEYS if bind in manifest["databases"]):
        progress(_("Verificando %(bind)s", bind=bind))
        problems += _database_problems(folder, bind, manifest["databases"][bind])
    if problems:
        raise OpsError(_("Backup inválido:") + "\n" + "\n".join(f"  - {p}" for p in problems))
    return manifest


def _refuse_newer_revisions(manifest: dict) -> list[str]:
    """Refuse a backup made by a newer Sorriso; return the binds that will need `flask db upgrade`."""
    script, head = script_directory(), head_revision()
    behind = []
    for bind, entry in manifest["databases"].items():
        revision = entry.get("revision")
        try:
            known = revision is None or script.get_revision(revision) is not None
        except CommandError:
            known = False
        if not known:
            raise OpsError(
                _(
                    "%(bind)s: o backup está na revisão %(revision)s, mais nova que esta versão do Sorriso "
                    "(última revisão conhecida: %(head)s). Atualize o Sorriso antes de restaurar.",
                    bind=bind,
                    revision=revision,
                    head=head,
                )
            )
        if revision != head:
            behind.append(bind)
    return behind


def _holds_files(path: Path) -> bool:
    """Whether a database (or a leftover -wal / -shm of one) is at this path."""
    return any(Path(f"{path}{suffix}").exists() for suffix in ("", *COMPANIONS))


def _refuse_if_in_use(path: Path) -> None:
    """Refuse when another process has the database open (a running Sorriso server, say)."""
    if not path.exists():
        return
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        raise OpsError(
            _(
                "%(path)s está em uso por outro processo (%(error)s). Pare o Sorriso antes de restaurar.",
                path=path,
                error=exc,
            )
        ) from None
    finally:
        conn.close()


def release_connections() -> None:
    """Close this process's own connections (session and pools) before files are moved."""
    db.session.remove()
    dispose_engines()


def _move_aside(targets: dict[str, Path]) -> Path | None:
    """Move the current databases and their -wal / -shm files into a timestamped folder."""
    present = {bind: path for bind, path in targets.items() if _holds_files(path)}
    if not present:
        return None
    aside = new_folder(backups_root(), "before-restore")
    for path in present.values():
        for suffix in ("", *COMPANIONS):
            source = Path(f"{path}{suffix}")
            if source.exists():
                shutil.move(source, aside / source.name)
        fsync_dir(path.parent)
    fsync_dir(aside)
    return aside


def _install_copy(source: Path, target: Path, sha256: str, journal_mode: str) -> None:
    """Copy one backed-up file into place durably, check its checksum, and put it in the configured journal mode."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".restoring")
    shutil.copyfile(source, partial)
    if sha256_file(partial) != sha256:
        partial.unlink()
        raise OpsError(
            _(
                "A cópia de %(source)s para %(target)s não confere com o checksum: disco com problema?",
                source=source,
                target=target,
            )
        )
    conn = open_raw(partial)
    try:
        conn.execute(f"PRAGMA journal_mode = {journal_mode}")
    finally:
        conn.close()
    fsync_file(partial)
    os.replace(partial, target)
    fsync_dir(target.parent)


@dataclass
class RestoreResult:
    """What a restore did."""

    restored: dict[str, Path]
    moved_aside_to: Path | None
    needs_upgrade: list[str] = field(default_factory=list)


def restore_backup(src: Path, force: bool = False, progress: Progress = _quiet) -> RestoreResult:
    """Replace the databases with a verified backup; the app must be stopped. Old files are moved aside."""
    folder = Path(src).resolve()
    manifest = verify_backup(folder, progress)
    needs_upgrade = _refuse_newer_revisions(manifest)
    paths = bind_paths()
    binds = [bind for bind in BIND_KEYS if bind in manifest["databases"]]
    not_sqlite = [bind for bind in binds if paths[bind] is None]
    if not_sqlite:
        raise OpsError(
            _("%(binds)s: o destino não é SQLite; restaure PostgreSQL com pg_restore.", binds=", ".join(not_sqlite)), 2
        )
    targets = {bind: paths[bind] for bind in binds}
    existing = [str(path) for path in targets.values() if _holds_files(path)]
    if existing and not force:
        raise OpsError(
            _("Já existem bancos de dados que a restauração substituiria:")
            + "\n"
            + "\n".join(f"  - {p}" for p in existing)
            + "\n"
            + _("Use --force para substituí-los (os arquivos atuais serão guardados numa pasta ao lado).")
        )
    release_connections()
    for path in targets.values():
        _refuse_if_in_use(path)
    aside = _move_aside(targets)
    if aside:
        progress(_("Arquivos atuais guardados em %(folder)s", folder=aside))
    for bind, target in targets.items():
        progress(_("Restaurando %(bind)s em %(target)s", bind=bind, target=target))
        entry = manifest["databases"][bind]
        journal_mode = current_app.config["SQLITE_PRAGMAS"][bind]["journal_mode"]
        _install_copy(folder / entry["file"], target, entry["sha256"], journal_mode)
    return RestoreResult(targets, aside, needs_upgrade)


def selected_binds(x_args) -> list[str]:
    """The binds a `flask db upgrade` run touches: all, or the one named by `-x bind=NAME`."""
    for arg in x_args or ():
        key, _, value = str(arg).partition("=")
        if key.strip() == "bind":
            return [value.strip()] if value.strip() in BIND_KEYS else []
    return list(BIND_KEYS)


def _holds_data_behind(path: Path, head: str | None) -> bool:
    """A database file with tables of its own whose revision is not `head`."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    try:
        found = probe_file(path)
    except sqlite3.DatabaseError as exc:
        raise OpsError(_("%(path)s não pôde ser lido (%(error)s).", path=path, error=exc), 2) from None
    return any(table != "alembic_version" for table in found.tables) and found.revision != head


def backup_before_upgrade(x_args=(), directory: str | None = None, progress: Progress = _quiet) -> Path | None:
    """Back up the databases an upgrade will change, when they hold data; returns the folder or None."""
    head = head_revision(directory)
    paths = bind_paths()
    due = [bind for bind in selected_binds(x_args) if paths[bind] is not None and _holds_data_behind(paths[bind], head)]
    if not due:
        return None
    dest = new_folder(backups_root(), "pre-upgrade")
    take_backup(dest, due, progress, kind="pre-upgrade")
    return dest
