"""The odontogram records implants: `implant` joins the finding values of tooth_finding's CHECK constraint.

SPEC 6 / issue 11 list implant among the chart's findings; the vocabulary (FindingCode) gains the value and the
constraint that names the allowed values is rebuilt (a batch table rebuild on SQLite; tooth_finding has no
triggers). The values are spelled out here, not imported, so this revision never changes with the code.
Downgrade refuses while implant findings exist: there is no older value that means the same.

Revision ID: 0014
Revises: 0010
Create Date: 2026-11-29 10:00:00

"""
from alembic import op
from sqlalchemy import text


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0010'
branch_labels = None
depends_on = None

BEFORE = ("caries", "restoration", "missing", "extraction_indicated", "crown", "root_canal", "sealant")
AFTER = BEFORE + ("implant",)
NAME = "ck_tooth_finding_finding"


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def _in(values) -> str:
    """`finding IN ('a', 'b')`, as the model writes it."""
    return f"finding IN ({', '.join(repr(value) for value in values)})"


def _replace_check(values) -> None:
    """Rebuild the CHECK constraint on tooth_finding.finding with `values`."""
    with op.batch_alter_table("tooth_finding", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(NAME), type_="check")
    with op.batch_alter_table("tooth_finding", schema=None) as batch_op:
        batch_op.create_check_constraint(op.f(NAME), _in(values))


def upgrade_():
    _replace_check(AFTER)


def downgrade_():
    implants = op.get_bind().execute(text("SELECT count(*) FROM tooth_finding WHERE finding = 'implant'")).scalar()
    if implants:
        raise RuntimeError(f"{implants} implant finding(s) exist: revision 0008 cannot store them.")
    _replace_check(BEFORE)


def upgrade_users():
    pass


def downgrade_users():
    pass


def upgrade_history():
    pass


def downgrade_history():
    pass
