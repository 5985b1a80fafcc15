"""Plan status, payment kind and anamnesis status are stored in lower case, like every other vocabulary value.

app/vocabulary.py holds one StrEnum per closed set and its values are lower-case words. The three sets that
were stored in upper case are rewritten, with the CHECK constraints that name their values (batch table
rebuilds on SQLite); downgrade restores upper case. history.db is append-only: audit rows keep the values
they recorded. The values are spelled out here, not imported, so this revision never changes with the code.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# table -> (column, its values)
VALUES = {
    "treatment_plan": ("status", ("proposed", "approved", "completed")),
    "payment": ("kind", ("payment", "adjustment", "refund")),
    "anamnesis": ("status", ("pending", "complete")),
}


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def _in(column: str, values) -> str:
    """`status IN ('a', 'b')`, as the models write it."""
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def _checks(table: str, case: str) -> dict[str, str]:
    """The CHECK constraints of `table` that name vocabulary values, with the values in `case` ("lower"/"upper")."""
    column, values = VALUES[table]
    spell = getattr(str, case)
    checks = {f"ck_{table}_{column}": _in(column, map(spell, values))}
    if table == "payment":
        checks["ck_payment_adjustment_reason"] = f"kind != '{spell('adjustment')}' OR reason IS NOT NULL"
        checks["ck_payment_refund_target"] = f"kind != '{spell('refund')}' OR refund_of_id IS NOT NULL"
    return checks


def _recase(old: str, new: str) -> None:
    """Rewrite each set from `old` to `new` case ("lower"/"upper"): drop its CHECKs, update the rows, recreate them."""
    for table, (column, values) in VALUES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in _checks(table, old):
                batch_op.drop_constraint(op.f(name), type_="check")
        old_values = _in(column, map(getattr(str, old), values))
        op.execute(f"UPDATE {table} SET {column} = {new}({column}) WHERE {old_values}")
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, condition in _checks(table, new).items():
                batch_op.create_check_constraint(op.f(name), condition)


def upgrade_():
    _recase("upper", "lower")


def downgrade_():
    _recase("lower", "upper")


def upgrade_users():
    pass


def downgrade_users():
    pass


def upgrade_history():
    pass


def downgrade_history():
    pass
