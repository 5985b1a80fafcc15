"""Move a clinic's three databases to other URLs (typically SQLite to PostgreSQL), verified.

Steps: relay pending audit events; migrate the targets to head (they must be empty); copy every table in
foreign-key order, in batches, keeping ids and the audit chain's hashes verbatim; move PostgreSQL sequences
past the copied ids; then prove the copy: row counts equal per table and the audit chain verifies on the target.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, current_app
from flask_babel import gettext as _
from flask_migrate import upgrade
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Engine

from app.db import BIND_KEYS, HISTORY, engine_of, metadata_of
from app.db.chain import verify_chain
from app.db.relay import relay_all

BATCH = 2000


class TransferError(Exception):
    """The move cannot start or did not verify; the message says why."""


@dataclass
class TransferReport:
    """What was copied and how it was verified."""

    counts: dict[str, int] = field(default_factory=dict)
    chain_rows: int = 0


def _target_app(urls: dict[str, str]) -> Flask:
    """A second app on the target databases, same configuration otherwise."""
    from app import create_app

    overrides = {key: value for key, value in current_app.config.items() if key.isupper()}
    overrides.update({f"{bind.upper()}_DATABASE_URL": url for bind, url in urls.items()})
    return create_app("testing" if current_app.testing else "development", overrides)


def _data_tables(bind: str):
    """The bind's tables in foreign-key order."""
    return metadata_of(bind).sorted_tables


def _count(engine: Engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _require_empty(engines: dict[str, Engine]) -> None:
    for bind, engine in engines.items():
        for table in _data_tables(bind):
            if _count(engine, table):
                raise TransferError(
                    _(
                        "O banco de destino %(bind)s já tem linhas em %(table)s; "
                        "o migrate-to só preenche bancos vazios.",
                        bind=bind,
                        table=table.name,
                    )
                )


def _copy_table(source: Engine, target: Engine, table, progress: Callable[[str], None]) -> int:
    """Copy one table in primary-key order, batch by batch."""
    pk = list(table.primary_key.columns)
    copied = 0
    with source.connect() as src:
        result = src.execution_options(yield_per=BATCH).execute(select(table).order_by(*pk))
        for rows in result.mappings().partitions(BATCH):
            with target.begin() as dst:
                dst.execute(table.insert(), [dict(r) for r in rows])
            copied += len(rows)
            progress(_("  %(table)s: %(count)s linha(s)", table=table.name, count=copied))
    return copied


def _advance_sequences(target: Engine, bind: str) -> None:
    """PostgreSQL: move each serial id's sequence past the copied ids."""
    if target.dialect.name != "postgresql":
        return
    with target.begin() as conn:
        for table in _data_tables(bind):
            if "id" not in table.c or not table.c.id.autoincrement:
                continue
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                    f'COALESCE((SELECT max(id) FROM "{table.name}"), 0) + 1, false)'
                )
            )


def transfer_to(urls: dict[str, str], progress: Callable[[str], None] = lambda _msg: None) -> TransferReport:
    """Copy this app's three databases into the databases at `urls` (one per bind) and verify the copy."""
    missing = [bind for bind in BIND_KEYS if not urls.get(bind)]
    if missing:
        raise TransferError(_("Falta a URL de destino de: %(binds)s.", binds=", ".join(missing)))
    key = current_app.config["AUDIT_HMAC_KEY"]
    source = {bind: engine_of(bind) for bind in BIND_KEYS}
    progress(_("Transferindo os eventos de auditoria pendentes..."))
    relay_all()
    if not verify_chain(source[HISTORY], key).ok:
        raise TransferError(
            _("A cadeia de auditoria da origem não confere; rode `flask audit verify` e resolva isso antes.")
        )
    target_app = _target_app(urls)
    report = TransferReport()
    with target_app.app_context():
        progress(_("Migrando os bancos de destino para a última revisão..."))
        upgrade()
        target = {bind: engine_of(bind) for bind in BIND_KEYS}
        _require_empty(target)
        for bind in BIND_KEYS:
            progress(_("Copiando %(bind)s...", bind=bind))
            for table in _data_tables(bind):
                report.counts[f"{bind}.{table.name}"] = _copy_table(source[bind], target[bind], table, progress)
            _advance_sequences(target[bind], bind)
        progress(_("Conferindo as contagens de linhas e a cadeia de auditoria..."))
        for name, expected in report.counts.items():
            bind, table_name = name.split(".", 1)
            table = metadata_of(bind).tables[table_name]
            if _count(target[bind], table) != expected:
                raise TransferError(_("A contagem de linhas de %(table)s difere depois da cópia.", table=name))
        chain = verify_chain(target[HISTORY], key)
        if not chain.ok:
            raise TransferError(_("A cadeia de auditoria não confere no destino: %(problem)s", problem=chain.problem))
        report.chain_rows = chain.rows
        for engine in target.values():
            engine.dispose()
    return report


def table_names(engine: Engine) -> set[str]:
    """Tables present in a database (used by tests and checks)."""
    return set(inspect(engine).get_table_names())
