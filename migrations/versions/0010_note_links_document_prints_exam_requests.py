"""Clinical notes tied to an appointment or plan item, a record of each document print, exam requests.

`clinical_note_link` says what a note is about (one of the day's appointments and/or an item of an approved
plan); it is a table of its own because clinical_note is append-only (0003): new columns would mean rebuilding
that table. `document_print` records each print and reprint of an issued document (when, by whom), so the
documents list can show them. Both are append-only like the rows they belong to, with the triggers of 0003.

issued_document.kind also accepts 'exam_request' (pedido de exame). Changing its CHECK rebuilds the table on
SQLite (batch mode), which drops its triggers: they are dropped first and created again exactly as 0003 does,
on both backends. Downgrade refuses while exam requests exist: issued documents can never be deleted.

Revision ID: 0010
Revises: 0013
Create Date: 2026-11-29 09:45:48

"""
from alembic import op
import sqlalchemy as sa
import app.db.types


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0013'
branch_labels = None
depends_on = None

NEW_APPEND_ONLY_TABLES = ("clinical_note_link", "document_print")
KINDS_BEFORE = ("prescription", "certificate")
KINDS_AFTER = ("prescription", "certificate", "exam_request")


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _create_append_only_triggers(table: str) -> None:
    """The triggers of revision 0003 on one table (the PostgreSQL function sorriso_append_only is 0003's)."""
    if _postgresql():
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION sorriso_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION sorriso_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


def _drop_append_only_triggers(table: str) -> None:
    """Drop the triggers `_create_append_only_triggers` made on one table."""
    if _postgresql():
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        return
    for verb in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")


def _set_document_kinds(kinds) -> None:
    """Recreate issued_document's kind CHECK with `kinds`, keeping the table append-only throughout."""
    _drop_append_only_triggers("issued_document")
    with op.batch_alter_table("issued_document", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_issued_document_kind"), type_="check")
    with op.batch_alter_table("issued_document", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_issued_document_kind"), f"kind IN ({', '.join(repr(kind) for kind in kinds)})"
        )
    _create_append_only_triggers("issued_document")


def upgrade_():
    _set_document_kinds(KINDS_AFTER)
    op.create_table('document_print',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('printed_at', app.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('by_user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['document_id'], ['issued_document.id'], name=op.f('fk_document_print_document_id_issued_document')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_print'))
    )
    with op.batch_alter_table('document_print', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_print_by_user_id'), ['by_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_document_print_document_id'), ['document_id'], unique=False)

    op.create_table('clinical_note_link',
    sa.Column('note_id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=True),
    sa.Column('treatment_item_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('appointment_id IS NOT NULL OR treatment_item_id IS NOT NULL', name=op.f('ck_clinical_note_link_links_something')),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], name=op.f('fk_clinical_note_link_appointment_id_appointment')),
    sa.ForeignKeyConstraint(['note_id'], ['clinical_note.id'], name=op.f('fk_clinical_note_link_note_id_clinical_note')),
    sa.ForeignKeyConstraint(['treatment_item_id'], ['treatment_item.id'], name=op.f('fk_clinical_note_link_treatment_item_id_treatment_item')),
    sa.PrimaryKeyConstraint('note_id', name=op.f('pk_clinical_note_link'))
    )
    with op.batch_alter_table('clinical_note_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_note_link_appointment_id'), ['appointment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinical_note_link_treatment_item_id'), ['treatment_item_id'], unique=False)

    for table in NEW_APPEND_ONLY_TABLES:
        _create_append_only_triggers(table)


def downgrade_():
    exam_requests = op.get_bind().execute(
        sa.text("SELECT count(*) FROM issued_document WHERE kind = 'exam_request'")
    ).scalar()
    if exam_requests:
        raise RuntimeError(
            f"Cannot downgrade below 0010: {exam_requests} exam request(s) were issued, and issued documents "
            "are append-only (never deleted)."
        )
    for table in NEW_APPEND_ONLY_TABLES:
        _drop_append_only_triggers(table)
    with op.batch_alter_table('clinical_note_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_note_link_treatment_item_id'))
        batch_op.drop_index(batch_op.f('ix_clinical_note_link_appointment_id'))

    op.drop_table('clinical_note_link')
    with op.batch_alter_table('document_print', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_print_document_id'))
        batch_op.drop_index(batch_op.f('ix_document_print_by_user_id'))

    op.drop_table('document_print')
    _set_document_kinds(KINDS_BEFORE)


def upgrade_users():
    pass


def downgrade_users():
    pass


def upgrade_history():
    pass


def downgrade_history():
    pass
