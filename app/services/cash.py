"""The cash desk's day as the administrator closes it: totals by method, every row with patient and receiver.

Reading only: the totals and the closing itself are app/services/payments.py's (`day_totals`, `close_cash_day`).
A day is read in a fixed number of queries whatever its number of payments.
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from app.extensions import db
from app.models.pacientes import Patient, Payment, TreatmentPlan
from app.services import history, payments


@dataclass(frozen=True)
class CashRow:
    """One payment, refund or adjustment of the day, with its patient and the staff member who recorded it."""

    payment: Payment
    patient_id: int
    patient_name: str
    received_by: str | None


@dataclass(frozen=True)
class CashDay:
    """A clinic day at the cash desk: totals (and the closing, if any), its rows, who closed it."""

    totals: payments.DayTotals
    rows: list[CashRow]
    closed_by: str | None

    @property
    def closing_totals(self) -> dict[str, int]:
        """The totals by method recorded by the closing (the live totals while the day is open)."""
        return payments.closing_totals(self.totals.closing) if self.totals.closing else self.totals.by_method


def cash_day(day: date) -> CashDay:
    """Totals, rows (oldest first) and names of one clinic day: four queries whatever the number of rows."""
    totals = payments.day_totals(day)
    found = db.session.execute(
        select(Payment, Patient.id, Patient.full_name)
        .join(TreatmentPlan, Payment.plan_id == TreatmentPlan.id)
        .join(Patient, TreatmentPlan.patient_id == Patient.id)
        .where(Payment.clinic_day == day)
        .order_by(Payment.paid_at, Payment.id)
    ).all()
    closer = totals.closing.closed_by_user_id if totals.closing else None
    names = history.user_names([*(payment.received_by_user_id for payment, _id, _name in found), closer])
    rows = [
        CashRow(payment, patient_id, patient_name, names.get(payment.received_by_user_id))
        for payment, patient_id, patient_name in found
    ]
    return CashDay(totals, rows, names.get(closer))
