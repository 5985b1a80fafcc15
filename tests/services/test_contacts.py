"""Confirmation contacts: recording an attempt, its rules, the per-appointment summary, the next clinic day."""

from datetime import date, time

import pytest
from sqlalchemy import select

from app.db.actor import acting_as
from app.extensions import db
from app.models.history import TimelineEvent
from app.services import contacts, settings
from app.services.errors import ConflictError, RelatedEntityNotFound, ValidationError
from tests.factories import make_patient, make_user
from tests.factories_finance import make_dentist
from tests.factories_frontdesk import make_next_day_appointment
from tests.support import once_on_sqlite


@pytest.fixture
def appointment(app):
    return make_next_day_appointment(make_patient(), make_dentist())


@pytest.fixture
def receptionist(app):
    return make_user("receptionist", full_name="Rita Recepção")


def test_contact_is_recorded_by_the_acting_user_with_a_timeline_line(appointment, receptionist):
    """The contact names its author and outcome; the patient's timeline says a confirmation was sent."""
    with acting_as(receptionist.id):
        contact = contacts.record_contact(appointment.id)
    assert (contact.by_user_id, contact.outcome, contact.channel) == (receptionist.id, "message_sent", "whatsapp")
    db.session.rollback()
    kinds = db.session.scalars(
        select(TimelineEvent.kind).where(TimelineEvent.patient_id == appointment.patient_id)
    ).all()
    assert "appointment_contact_message_sent" in kinds


def test_contact_needs_an_active_user(appointment):
    """Nobody acting (or an unknown account) cannot record a contact."""
    with pytest.raises(RelatedEntityNotFound):
        contacts.record_contact(appointment.id)


@once_on_sqlite
def test_unknown_outcome_is_refused(appointment, receptionist):
    """Outcomes come from ContactOutcome."""
    with acting_as(receptionist.id), pytest.raises(ValidationError):
        contacts.record_contact(appointment.id, "bribed")


@pytest.mark.parametrize("status", ["attended", "missed", "cancelled"])
def test_no_contact_about_a_closed_appointment(app, receptionist, status):
    """Only booked appointments are confirmed."""
    closed = make_next_day_appointment(make_patient(), make_dentist(), status=status)
    with acting_as(receptionist.id), pytest.raises(ConflictError, match="não há o que confirmar"):
        contacts.record_contact(closed.id)


def test_not_confirmed_is_refused_once_confirmed_but_a_reminder_is_not(app, receptionist):
    """A confirmed visit cannot be marked as not confirmed; sending it a message is fine."""
    confirmed = make_next_day_appointment(make_patient(), make_dentist(), status="confirmed")
    with acting_as(receptionist.id):
        with pytest.raises(ConflictError, match="já está confirmada"):
            contacts.record_contact(confirmed.id, "not_confirmed")
        assert contacts.record_contact(confirmed.id).outcome == "message_sent"


def test_summaries_count_attempts_and_name_the_last(appointment, receptionist):
    """Two attempts by two people: count 2, the last one's author and outcome."""
    other = make_user("receptionist", full_name="Outra Pessoa")
    with acting_as(receptionist.id):
        contacts.record_contact(appointment.id)
    with acting_as(other.id):
        contacts.record_contact(appointment.id, "not_confirmed")
    summary = contacts.contact_summaries([appointment.id, 987654])
    assert set(summary) == {appointment.id}
    assert (summary[appointment.id].count, summary[appointment.id].last_by) == (2, "Outra Pessoa")
    assert summary[appointment.id].last_outcome == "not_confirmed"


@once_on_sqlite
def test_next_clinic_day_follows_the_saved_opening_hours(app):
    """A clinic open only on Wednesdays: from a Wednesday, the next clinic day is the following Wednesday."""
    clinic = settings.current()
    with acting_as(make_user("admin").id):
        settings.update_settings(
            name=clinic.name,
            cnpj=None,
            address=None,
            phone=None,
            state="SP",
            opening_hours={2: (time(8), time(12))},
            slot_minutes=30,
            paper_size="A4",
            confirmation_template=clinic.confirmation_template,
            recall_template=clinic.recall_template,
            pix_key=None,
            merchant_name=None,
            merchant_city=None,
        )
    assert contacts.next_clinic_day(date(2026, 12, 2)) == date(2026, 12, 9)
    assert contacts.next_clinic_day(date(2026, 12, 7)) == date(2026, 12, 9)
