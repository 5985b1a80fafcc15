"""Factories for the front-desk tests: appointments stored as they are, at any time, without the booking rules.

The booking rules (hours, past days, overlaps) have their own tests in tests/services/test_agenda.py; here a
test needs rows on today's or the next clinic day's agenda whatever the clock and the weekday say.
"""

from datetime import UTC, datetime, time, timedelta

from app.db import PACIENTES
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import Appointment
from app.services import contacts, recalls
from app.services.clock import clinic_day, clinic_tz
from tests.factories_finance import make_dentist


def at(day, hour: int = 9, minute: int = 0) -> datetime:
    """An aware UTC instant at HH:MM clinic time on `day`."""
    return datetime.combine(day, time(hour, minute), tzinfo=clinic_tz()).astimezone(UTC)


def make_appointment(patient, dentist, starts_at: datetime, minutes: int = 30, status: str = "scheduled"):
    """Store an appointment row as given (the audit listener still records it)."""
    with unit_of_work(PACIENTES):
        appointment = Appointment(
            patient_id=patient.id,
            dentist_user_id=dentist.id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=minutes),
            status=status,
        )
        db.session.add(appointment)
    return appointment


def make_next_day_appointment(patient, dentist, hour: int = 9, minute: int = 0, **kwargs):
    """An appointment on the next clinic day (what the confirmations page lists)."""
    return make_appointment(patient, dentist, at(contacts.next_clinic_day(), hour, minute), **kwargs)


def make_today_appointment(patient, dentist, **kwargs):
    """An appointment that began at today's local midnight: already started, still on today's clinic day."""
    return make_appointment(patient, dentist, at(clinic_day(), 0, 0), **kwargs)


def frontdesk_samples(patient) -> dict[str, int]:
    """Path samples for the front-desk routes: an appointment of `patient` today and an open recall of theirs."""
    appointment = make_today_appointment(patient, make_dentist())
    recall = recalls.create_recall(patient.id, clinic_day(), "Limpeza semestral")
    return {"appointment_id": appointment.id, "recall_id": recall.id}
