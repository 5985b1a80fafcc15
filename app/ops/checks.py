"""`flask clinic check`: is this instance healthy? Per bind PRAGMAs, integrity and revision; orphans; audit.

Every check adds to one report: `problems` make the command exit 1, `warnings` are shown but do not.
"""

import sqlite3
from dataclasses import asdict, dataclass, field

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Integer, select
from sqlalchemy.engine import Engine

from app.db import BIND_KEYS, HISTORY, PACIENTES, USERS, engine_of, metadata_of
from app.db.chain import verify_chain
from app.db.probe import BindProbe, head_revision, probe
from app.db.relay import pending_counts

# SQLite's WAL-reset bug: 3.7.0 to 3.51.2 can corrupt a WAL database in a rare race; fixed in 3.51.3,
# with backports to 3.44.6 and 3.50.7 (https://sqlite.org/wal.html#walresetbug).
WAL_RESET_FIXED = (3, 51, 3)
WAL_RESET_BACKPORTS = ((3, 44, 6), (3, 50, 7))
ORPHAN_BATCH = 5000
SAMPLE = 5


@dataclass
class CheckReport:
    """Everything `clinic check` found; healthy when `problems` is empty."""

    binds: dict = field(default_factory=dict)
    orphans: list = field(default_factory=list)
    outbox: dict = field(default_factory=dict)
    audit_chain: dict = field(default_factory=dict)
    sqlite_version: str = sqlite3.sqlite_version
    problems: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No problem found (warnings allowed)."""
        return not self.problems

    def to_dict(self) -> dict:
        """A JSON-ready form."""
        return {"ok": self.ok, **asdict(self)}


def wal_reset_bug_affects(version: tuple[int, int, int]) -> bool:
    """Whether a SQLite library version has the WAL-reset corruption bug."""
    if version >= WAL_RESET_FIXED or version < (3, 7, 0):
        return False
    return not any(fixed <= version < (fixed[0], fixed[1] + 1, 0) for fixed in WAL_RESET_BACKPORTS)


def _check_sqlite_file(report: CheckReport, found: BindProbe, info: dict) -> None:
    """The journal mode in the file header, the PRAGMAs in force vs configuration, quick_check."""
    bind = found.bind
    info.update(file_size=found.file_size, wal_size=found.wal_size, file_journal_mode=found.file_journal_mode)
    expected = current_app.config["SQLITE_PRAGMAS"][bind]
    info["pragmas_expected"] = dict(expected)
    if found.file_journal_mode != ("WAL" if expected["journal_mode"] == "WAL" else "DELETE"):
        report.problems.append(
            _(
                "%(bind)s: o arquivo está em journal_mode=%(mode)s, configurado %(expected)s",
                bind=bind,
                mode=found.file_journal_mode,
                expected=expected["journal_mode"],
            )
        )
    info.update(free_bytes=found.free_bytes, write_error=found.write_error)
    if found.write_error:
        report.problems.append(_("%(bind)s: não aceita escrita agora: %(error)s", bind=bind, error=found.write_error))
    minimum = current_app.config["MIN_FREE_DISK_MB"] * 1024 * 1024
    if found.free_bytes is not None and found.free_bytes < minimum:
        report.problems.append(
            _(
                "%(bind)s: só %(free)s MB livres no disco (mínimo %(minimum)s MB): libere espaço",
                bind=bind,
                free=found.free_bytes // (1024 * 1024),
                minimum=current_app.config["MIN_FREE_DISK_MB"],
            )
        )
    if found.error:
        return
    info["pragmas_in_force"] = found.pragmas
    for name, wanted in expected.items():
        if found.pragmas[name] != wanted:
            report.problems.append(
                _(
                    "%(bind)s: PRAGMA %(name)s em vigor é %(value)s, configurado %(expected)s",
                    bind=bind,
                    name=name,
                    value=found.pragmas[name],
                    expected=wanted,
                )
            )
    info["quick_check"] = found.quick_check
    if found.quick_check != ["ok"]:
        result = "; ".join(found.quick_check[:5])
        report.problems.append(_("%(bind)s: PRAGMA quick_check falhou: %(result)s", bind=bind, result=result))


def check_bind(report: CheckReport, bind: str, head: str | None) -> None:
    """One bind: its SQLite file (skipped on other backends), then its migration revision vs head."""
    found = probe(bind, quick_check=True, write_check=True)
    info = {"backend": found.dialect}
    if found.path is not None:
        info["path"] = str(found.path)
        if found.missing:
            report.problems.append(
                _("%(bind)s: o arquivo %(path)s não existe (rode `flask db upgrade`)", bind=bind, path=found.path)
            )
            report.binds[bind] = info
            return
        _check_sqlite_file(report, found, info)
    if found.error:
        report.problems.append(_("%(bind)s: o banco não pôde ser lido: %(error)s", bind=bind, error=found.error))
        report.binds[bind] = {**info, "revision": None}
        return
    info["revision"], info["head"] = found.revision, head
    if found.revision != head:
        report.problems.append(
            _(
                "%(bind)s: revisão do banco %(revision)s, código em %(head)s (rode `flask db upgrade`)",
                bind=bind,
                revision=found.revision or _("nenhuma"),
                head=head,
            )
        )
    report.binds[bind] = info


def check_binds(report: CheckReport) -> None:
    """Per bind: SQLite file checks and migration revision vs head."""
    head = head_revision()
    for bind in BIND_KEYS:
        check_bind(report, bind, head)


def _reference_columns() -> list[tuple[str, object, str]]:
    """(bind, column, target) for every id stored from another bind: target "user" or "patient"."""
    from app.models.history import AuditEvent, TimelineEvent

    refs = []
    for table in metadata_of(PACIENTES).sorted_tables:
        for column in table.columns:
            if column.name.endswith("_user_id") and isinstance(column.type, Integer):
                refs.append((PACIENTES, column, "user"))
    for model in (AuditEvent, TimelineEvent):
        refs.append((HISTORY, model.__table__.c.actor_user_id, "user"))
        refs.append((HISTORY, model.__table__.c.patient_id, "patient"))
    return refs


def _distinct_values(engine: Engine, column) -> set[int]:
    """Every distinct non-null value of a column, streamed in batches."""
    values: set[int] = set()
    query = select(column).where(column.is_not(None)).distinct()
    with engine.connect() as conn:
        for chunk in conn.execution_options(yield_per=ORPHAN_BATCH).execute(query).scalars().partitions():
            values.update(chunk)
    return values


def _all_ids(engine: Engine, id_column) -> set[int]:
    """Every id of a table, streamed in batches."""
    return _distinct_values(engine, id_column)


def check_orphans(report: CheckReport) -> None:
    """Every id stored from another bind must exist; referenced ids are read before the (growing) targets."""
    from app.models.pacientes import Patient
    from app.models.users import User

    referenced = [
        (bind, column, target, _distinct_values(engine_of(bind), column))
        for bind, column, target in _reference_columns()
    ]
    existing = {
        "user": _all_ids(engine_of(USERS), User.__table__.c.id),
        "patient": _all_ids(engine_of(PACIENTES), Patient.__table__.c.id),
    }
    for bind, column, target, values in referenced:
        missing = sorted(values - existing[target])
        if missing:
            entry = {
                "bind": bind,
                "table": column.table.name,
                "column": column.name,
                "target": target,
                "missing_ids": missing[:SAMPLE],
                "count": len(missing),
            }
            report.orphans.append(entry)
            fields = {
                "column": f"{bind}.{column.table.name}.{column.name}",
                "count": len(missing),
                "sample": ", ".join(map(str, missing[:SAMPLE])),
            }
            if target == "user":
                report.problems.append(_("%(column)s: %(count)s usuário(s) inexistente(s), p.ex. %(sample)s", **fields))
            else:
                report.problems.append(
                    _("%(column)s: %(count)s paciente(s) inexistente(s), p.ex. %(sample)s", **fields)
                )


def check_audit(report: CheckReport) -> None:
    """Pending outbox events and the HMAC chain."""
    report.outbox = pending_counts()
    for bind, count in report.outbox.items():
        if count:
            report.problems.append(
                _(
                    "%(bind)s: %(count)s evento(s) de auditoria esperando no outbox (rode `flask audit relay`)",
                    bind=bind,
                    count=count,
                )
            )
    chain = verify_chain(engine_of(HISTORY), current_app.config["AUDIT_HMAC_KEY"])
    report.audit_chain = {"ok": chain.ok, "rows": chain.rows, "problem": chain.problem}
    if not chain.ok:
        report.problems.append(_("history: cadeia de auditoria QUEBRADA: %(problem)s", problem=chain.problem))


def check_sqlite_version(report: CheckReport) -> None:
    """Warn when the SQLite library has the WAL-reset bug (a warning: the risk is rare, not a failure)."""
    if wal_reset_bug_affects(sqlite3.sqlite_version_info):
        report.warnings.append(
            _(
                "SQLite %(version)s tem o bug de reset do WAL (3.7.0 a 3.51.2, corrigido em 3.51.3): uma corrida "
                "rara pode corromper o banco. Atualize o Python/SQLite quando puder e mantenha backups.",
                version=sqlite3.sqlite_version,
            )
        )


def run_checks() -> CheckReport:
    """Run every check; a bind that cannot be read becomes a problem rather than a traceback."""
    report = CheckReport()
    check_binds(report)
    if any(info.get("revision") is None for info in report.binds.values()):
        report.problems.append(_("verificações de órfãos e auditoria puladas: há banco não migrado"))
    else:
        check_orphans(report)
        check_audit(report)
    if any(info.get("backend") == "sqlite" for info in report.binds.values()):
        check_sqlite_version(report)
    return report
