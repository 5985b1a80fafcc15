"""Appointments gain the "arrived" status (patient in the waiting room) and its time; contacts gain an outcome.

The dashboard shows who is waiting and since when: `appointment.status` may now be 'arrived' and
`appointment.arrived_at` records the moment. The confirmations page records, besides each WhatsApp message
opened ('message_sent', what every existing contact row was), that a patient did not confirm
('not_confirmed') without touching the appointment's status. The values are spelled out here, not imported,
so this revision never changes with the code. Downgrade turns arrived appointments back into confirmed ones.

Revision ID: 0013
Revises: 0008
Create Date: 2026-11-29 09:45:22.841466

"""
from alembic import op
import sqlalchemy as sa
import app.db.types


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0008'
branch_labels = None
depends_on = None

OLD_STATUSES = ("scheduled", "confirmed", "attended", "missed", "cancelled")
NEW_STATUSES = ("scheduled", "confirmed", "arrived", "attended", "missed", "cancelled")
OUTCOMES = ("message_sent", "not_confirmed")


def _in(column: str, values) -> str:
    """`status IN ('a', 'b')`, as the models write it."""
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_appointment_status'), type_='check')
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('arrived_at', app.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(op.f('ck_appointment_status'), _in('status', NEW_STATUSES))

    with op.batch_alter_table('appointment_contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.String(length=20), server_default='message_sent', nullable=False))
        batch_op.create_check_constraint(op.f('ck_appointment_contact_outcome'), _in('outcome', OUTCOMES))


def downgrade_():
    with op.batch_alter_table('appointment_contact', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_appointment_contact_outcome'), type_='check')
    with op.batch_alter_table('appointment_contact', schema=None) as batch_op:
        batch_op.drop_column('outcome')

    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_appointment_status'), type_='check')
    op.execute("UPDATE appointment SET status = 'confirmed' WHERE status = 'arrived'")
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_column('arrived_at')
        batch_op.create_check_constraint(op.f('ck_appointment_status'), _in('status', OLD_STATUSES))


def upgrade_users():
    pass


def downgrade_users():
    pass


def upgrade_history():
    pass


def downgrade_history():
    pass
