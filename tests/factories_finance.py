"""Factories for agenda, plan and payment tests: valid defaults, override what a test cares about."""

import itertools
from datetime import date, datetime, time, timedelta

from app.db.actor import acting_as
from app.services import plans, procedures, users
from app.services.clock import clinic_day, clinic_tz
from tests.factories import make_patient, make_user

_seq = itertools.count(1)
MISSING_ID = 987_654


def make_dentist(**overrides):
    """An active dentist."""
    return make_user("dentist", **overrides)


def user_id_for(case: str) -> int:
    """A user id that a dentist check must refuse: missing, inactive dentist, or an active non-dentist."""
    if case == "missing":
        return MISSING_ID
    if case == "inactive":
        dentist = make_dentist()
        users.deactivate_user(dentist.id, "Saiu da clínica")
        return dentist.id
    if case == "wrong_role":
        return make_user("receptionist").id
    raise ValueError(case)


def workday(day_offset: int = 1) -> date:
    """Today for 0, else the `day_offset`-th weekday (Monday to Friday, open 08:00–18:00 by default) after today."""
    day = clinic_day()
    while day_offset > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            day_offset -= 1
    return day


def local(day_offset: int = 1, hour: int = 14, minute: int = 0) -> datetime:
    """An aware datetime at HH:MM clinic time on `workday(day_offset)` (0 = today, maybe closed or past)."""
    return datetime.combine(workday(day_offset), time(hour, minute), tzinfo=clinic_tz())


def slot(day_offset: int = 1, hour: int = 14, minute: int = 0, minutes: int = 30) -> tuple[datetime, datetime]:
    """(start, end) of a slot in the clinic's time zone."""
    start = local(day_offset, hour, minute)
    return start, start + timedelta(minutes=minutes)


def started_slot(minutes: int = 30) -> tuple[datetime, datetime]:
    """A slot that began at today's local midnight: already started, yet on today's clinic day."""
    return slot(0, 0, 0, minutes)


def place_appointment(patient, dentist, span: tuple[datetime, datetime], actor_id: int | None = None):
    """An appointment at any time, even in the past or outside clinic hours, which booking refuses: booked in a
    free far-future slot, then moved behind the service. For tests of views and of visits that already started."""
    from app.extensions import db
    from app.models.pacientes import Appointment
    from app.services import agenda
    from tests.factories import change_behind_the_session

    with acting_as(actor_id):
        appointment = agenda.book_appointment(patient.id, dentist.id, *slot(300 + next(_seq), 8))
    change_behind_the_session(appointment, starts_at=span[0], ends_at=span[1])
    db.session.expire_all()
    return db.session.get(Appointment, appointment.id)


def make_procedure(name: str = "Restauração em resina", price_cents: int = 15_000, **overrides):
    """A catalogue procedure with a unique code."""
    fields = {"code": f"P{next(_seq):04d}", "name": name, "default_price_cents": price_cents}
    fields.update(overrides)
    return procedures.create_procedure(**fields)


def make_plan(patient=None, dentist=None, prices=(15_000,), approve: bool = False, title: str | None = None):
    """A plan with one item per price (a procedure each), optionally approved."""
    patient = patient or make_patient()
    dentist = dentist or make_dentist()
    plan = plans.create_plan(patient.id, dentist.id, title)
    for price in prices:
        plans.add_item(plan.id, make_procedure(price_cents=price).id)
    if approve:
        plans.approve_plan(plan.id)
    return plan


def approved_plan(*prices: int):
    """An approved plan whose items cost `prices` (R$ 1.000,00 in one item by default)."""
    return make_plan(prices=prices or (100_000,), approve=True)


def as_user(user):
    """Context manager: act as `user`."""
    return acting_as(user.id)


def finance_samples() -> dict[str, int]:
    """Path samples for the cash desk's routes: an approved plan with instalments and a payment with its receipt."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models.pacientes import Receipt
    from app.services import payments

    plan = make_plan(prices=(100_000,), approve=True)
    with as_user(make_user("receptionist")):
        plans.set_installments(plan.id, 2, clinic_day())
        payment = payments.record_payment(plan.id, 10_000, "cash")
    number = db.session.scalar(select(Receipt.number).where(Receipt.payment_id == payment.id))
    return {"plan_id": plan.id, "payment_id": payment.id, "receipt_number": number}
