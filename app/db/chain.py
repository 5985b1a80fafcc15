"""The HMAC chain of history.db's audit rows: extend it, verify it, and the checkpoint that guards its tail.

Every audit row stores HMAC(key, prev_hash + canonical row), so an edited, forged or deleted row breaks
the chain at that row. Deleting the last rows leaves a valid shorter chain: a checkpoint (`ID:HASH`) kept
elsewhere detects that. Writers extend the chain only while holding history's write lock.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import gettext
from sqlalchemy import String, select, type_coerce
from sqlalchemy.engine import Connection, Engine

from app.models.history import AuditEvent

GENESIS_HASH = "0" * 64


def chain_hash(key: str, prev_hash: str, row: dict) -> str:
    """HMAC-SHA256 of the previous hash and the row's canonical content."""
    occurred = row["occurred_at"]
    fields = [
        row["id"],
        row["event_id"],
        occurred.isoformat(timespec="microseconds") if isinstance(occurred, datetime) else occurred,
        row["actor_user_id"],
        row["action"],
        row["bind"],
        row["table_name"],
        row["row_id"],
        row["patient_id"],
        row["changes"],
        row["request_path"],
        row["client_addr"],
    ]
    message = prev_hash + json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def append_to_chain(conn: Connection, key: str, rows: list[dict]) -> None:
    """Number, link and hash audit rows after the chain's last row, then insert them.

    The caller holds history's write lock (`write_transaction(HISTORY)`), so concurrent writers keep one chain.
    """
    if not rows:
        return
    audit = AuditEvent.__table__
    last = conn.execute(select(audit.c.id, audit.c.hash).order_by(audit.c.id.desc()).limit(1)).first()
    next_id, prev_hash = (last.id + 1, last.hash) if last else (1, GENESIS_HASH)
    for row in rows:
        row.update(id=next_id, prev_hash=prev_hash)
        row["hash"] = prev_hash = chain_hash(key, prev_hash, row)
        next_id += 1
    conn.execute(audit.insert(), rows)


@dataclass
class ChainReport:
    """The outcome of verifying the chain."""

    ok: bool
    rows: int
    last_id: int | None
    last_hash: str
    problem: str | None = None
    bad_row_id: int | None = None


def _stored_instant(value) -> datetime:
    """An audit row's `occurred_at` as the writer hashed it: aware UTC (SQLite keeps naive UTC text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _matches_its_hmac(key: str, prev_hash: str, row: dict) -> bool:
    """Whether a stored row carries the HMAC of its content; a row too damaged to read does not."""
    try:
        row["occurred_at"] = _stored_instant(row["occurred_at"])
        expected = chain_hash(key, prev_hash, row)
    except (TypeError, ValueError):
        return False
    stored = row["hash"]
    return isinstance(stored, str) and hmac.compare_digest(expected.encode(), stored.encode())


def verify_chain(engine: Engine, key: str, checkpoint: str | None = None) -> ChainReport:
    """Recompute every audit row's HMAC in id order; stop at the first row that does not match.

    Rows are read raw (timestamps untyped), so a row tampered into something unreadable is reported as the
    bad row instead of stopping the check with an error.
    """
    audit = AuditEvent.__table__
    columns = [type_coerce(c, String) if c.name == "occurred_at" else c for c in audit.c]
    prev_hash, count, last_id, expected_id = GENESIS_HASH, 0, None, 1
    with engine.connect() as conn:
        for row in conn.execute(select(*columns).order_by(audit.c.id)).mappings():
            row = dict(row)
            if row["id"] != expected_id:
                return ChainReport(
                    False,
                    count,
                    last_id,
                    prev_hash,
                    gettext(
                        "linha %(id)s: esperada a linha %(expected)s (uma linha foi apagada)",
                        id=row["id"],
                        expected=expected_id,
                    ),
                    row["id"],
                )
            if row["prev_hash"] != prev_hash:
                return ChainReport(
                    False,
                    count,
                    last_id,
                    prev_hash,
                    gettext("linha %(id)s: o hash anterior não confere com a linha antes dela", id=row["id"]),
                    row["id"],
                )
            if not _matches_its_hmac(key, prev_hash, row):
                return ChainReport(
                    False,
                    count,
                    last_id,
                    prev_hash,
                    gettext("linha %(id)s: o conteúdo não confere com o seu HMAC (editada ou forjada)", id=row["id"]),
                    row["id"],
                )
            prev_hash, last_id, count, expected_id = row["hash"], row["id"], count + 1, row["id"] + 1
    report = ChainReport(True, count, last_id, prev_hash)
    if checkpoint:
        _check_checkpoint(engine, report, checkpoint)
    return report


def make_checkpoint(report: ChainReport) -> str:
    """The value to keep elsewhere: the last row id and its hash."""
    return f"{report.last_id or 0}:{report.last_hash}"


def _check_checkpoint(engine: Engine, report: ChainReport, checkpoint: str) -> None:
    """A kept checkpoint must still be in the chain: otherwise the tail was truncated or rewritten."""
    audit = AuditEvent.__table__
    try:
        cp_id_text, cp_hash = checkpoint.split(":", 1)
        cp_id = int(cp_id_text)
    except ValueError:
        report.ok, report.problem = (
            False,
            gettext("o checkpoint '%(value)s' não está no formato ID:HASH", value=checkpoint),
        )
        return
    if cp_id == 0:
        return
    with engine.connect() as conn:
        stored = conn.execute(select(audit.c.hash).where(audit.c.id == cp_id)).scalar()
    if stored is None:
        report.ok, report.bad_row_id = False, cp_id
        report.problem = gettext("a linha %(id)s do checkpoint não existe: o fim da cadeia foi apagado", id=cp_id)
    elif stored != cp_hash:
        report.ok, report.bad_row_id = False, cp_id
        report.problem = gettext("a linha %(id)s não tem o hash do checkpoint: a cadeia foi reescrita", id=cp_id)
