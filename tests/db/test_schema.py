"""Schema rules: no ForeignKey between binds, history is append-only."""

import sqlite3

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table

from app.extensions import db


def cross_bind_foreign_keys(metadatas: dict) -> list[str]:
    """Every foreign key whose target table is not in its own table's metadata, as 'bind.table.column'."""
    offenders = []
    for bind_key, metadata in metadatas.items():
        for table in metadata.tables.values():
            for fk in table.foreign_keys:
                target_table = fk.target_fullname.rsplit(".", 1)[0]
                if target_table not in metadata.tables:
                    offenders.append(f"{bind_key or 'pacientes'}.{table.name}.{fk.parent.name} -> {fk.target_fullname}")
    return offenders


def test_no_foreign_key_crosses_binds(app):
    """Walk every table of every bind: no ForeignKey may point into another database."""
    assert set(db.metadatas) == {None, "users", "history"}
    assert sum(len(m.tables) for m in db.metadatas.values()) >= 15
    assert cross_bind_foreign_keys(db.metadatas) == []


def test_cross_bind_checker_names_the_offending_column():
    """The checker itself can fail: a planted cross-bind foreign key is reported by name."""
    users, clinic = MetaData(), MetaData()
    Table("user", users, Column("id", Integer, primary_key=True))
    Table("visit", clinic, Column("id", Integer, primary_key=True), Column("dentist_id", ForeignKey("user.id")))
    assert cross_bind_foreign_keys({"users": users, None: clinic}) == ["pacientes.visit.dentist_id -> user.id"]


@pytest.mark.parametrize("table", ["audit_event", "timeline_event"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET kind_or_action = 'x'", "DELETE FROM {t}"])
def test_history_tables_refuse_update_and_delete(app, db_dir, table, statement):
    """The append-only triggers refuse UPDATE and DELETE even from a raw connection."""
    conn = sqlite3.connect(db_dir / "history.db")
    try:
        if table == "audit_event":
            conn.execute(
                "INSERT INTO audit_event (event_id, occurred_at, action, bind, table_name, changes, "
                "prev_hash, hash) VALUES ('e1', '2026-01-01 00:00:00', 'create', 'users', 'user', '{}', "
                "'0', '1')"
            )
            column = "action"
        else:
            conn.execute(
                "INSERT INTO timeline_event (event_id, patient_id, occurred_at, kind, summary) "
                "VALUES ('e1', 1, '2026-01-01 00:00:00', 'k', 's')"
            )
            column = "kind"
        conn.commit()
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement.format(t=table).replace("kind_or_action", column))
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 1
    finally:
        conn.close()
