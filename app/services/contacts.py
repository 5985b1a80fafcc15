"""Confirmations of the next clinic day: its appointments with their contact attempts, and recording an attempt.

A contact attempt (`AppointmentContact`) is recorded when the receptionist opens an appointment's WhatsApp
link ('message_sent') or notes that the patient did not confirm ('not_confirmed'). "Not confirmed" leaves the
appointment's status alone: the visit is still booked and the front desk may try again; a confirmation sets
the status through agenda.set_appointment_status.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from app.db import PACIENTES
from app.db.actor import current_actor
from app.db.audit import add_timeline
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import Appointment, AppointmentContact
from app.services import agenda, settings
from app.services.clock import clinic_day, format_day_time
from app.services.confirmations import confirmation_link
from app.services.errors import ConflictError, ValidationError
from app.services.guards import require_active_user, require_patient
from app.services.history import user_names
from app.services.locks import get_for_update
from app.vocabulary import AppointmentStatus, ContactOutcome

_TIMELINE = {
    ContactOutcome.MESSAGE_SENT: "Confirmação enviada por WhatsApp para a consulta de {when}.",
    ContactOutcome.NOT_CONFIRMED: "Paciente não confirmou a consulta de {when}.",
}


def next_clinic_day(after: date | None = None) -> date:
    """The first day after `after` (today by default) on which the clinic opens; the next day if it never does."""
    after = after or clinic_day()
    hours = settings.current()
    for offset in range(1, 8):
        day = after + timedelta(days=offset)
        if hours.hours_on(day) is not None:
            return day
    return after + timedelta(days=1)


def record_contact(appointment_id: int, outcome: str = ContactOutcome.MESSAGE_SENT) -> AppointmentContact:
    """Record a contact attempt by the current user about a booked (not yet attended) appointment."""
    if outcome not in ContactOutcome.values():
        raise ValidationError({"outcome": "Resultado do contato inválido."})
    with unit_of_work(PACIENTES):
        user = require_active_user(current_actor().user_id)
        appointment = get_for_update(Appointment, appointment_id, "Consulta")
        require_patient(appointment.patient_id)
        if appointment.status not in agenda.OPEN:
            raise ConflictError(
                f"Esta consulta está {AppointmentStatus.label_of(appointment.status)}: não há o que confirmar."
            )
        if outcome == ContactOutcome.NOT_CONFIRMED and appointment.status == AppointmentStatus.CONFIRMED:
            raise ConflictError("Esta consulta já está confirmada.")
        contact = AppointmentContact(appointment=appointment, outcome=outcome, by_user_id=user.id)
        db.session.add(contact)
        add_timeline(
            db.session,
            contact,
            f"appointment_contact_{outcome}",
            _TIMELINE[ContactOutcome(outcome)].format(when=format_day_time(appointment.starts_at)),
        )
    return contact


@dataclass(frozen=True)
class ContactSummary:
    """An appointment's contact attempts in short: how many, and the last one (when, by whom, outcome)."""

    count: int = 0
    last_at: datetime | None = None
    last_by: str = ""
    last_outcome: str | None = None


def contact_summaries(appointment_ids) -> dict[int, ContactSummary]:
    """{appointment id: ContactSummary} for the appointments that had contacts: two queries, whatever the number."""
    ids = sorted(set(appointment_ids))
    if not ids:
        return {}
    counts = dict(
        db.session.execute(
            select(AppointmentContact.appointment_id, func.count())
            .where(AppointmentContact.appointment_id.in_(ids))
            .group_by(AppointmentContact.appointment_id)
        ).all()
    )
    latest = (
        select(func.max(AppointmentContact.id))
        .where(AppointmentContact.appointment_id.in_(ids))
        .group_by(AppointmentContact.appointment_id)
    )
    last = list(db.session.scalars(select(AppointmentContact).where(AppointmentContact.id.in_(latest))))
    names = user_names(contact.by_user_id for contact in last)
    return {
        contact.appointment_id: ContactSummary(
            counts.get(contact.appointment_id, 0),
            contact.contacted_at,
            names.get(contact.by_user_id, ""),
            contact.outcome,
        )
        for contact in last
    }


@dataclass(frozen=True)
class ConfirmationRow:
    """One line of the confirmations list."""

    appointment: Appointment
    dentist: str
    whatsapp_link: str | None  # None: no mobile phone to message
    contacts: ContactSummary


def confirmation_rows(appointments: list[Appointment]) -> list[ConfirmationRow]:
    """Lines of the confirmations list for appointments (patients loaded): a fixed number of queries."""
    dentists = agenda.dentist_names(a.dentist_user_id for a in appointments)
    summaries = contact_summaries(a.id for a in appointments)
    clinic = settings.current()
    rows = []
    for appointment in appointments:
        dentist = dentists.get(appointment.dentist_user_id, "")
        rows.append(
            ConfirmationRow(
                appointment,
                dentist,
                confirmation_link(appointment, appointment.patient, dentist, clinic),
                summaries.get(appointment.id, ContactSummary()),
            )
        )
    return rows


def confirmations_for(day: date) -> list[ConfirmationRow]:
    """The day's booked appointments (not cancelled, attended or missed) with their links and contacts."""
    booked = [a for a in agenda.appointments_for_day(day) if a.status in agenda.OPEN]
    return confirmation_rows(booked)


def unconfirmed_count(day: date) -> int:
    """How many appointments of the day still wait for a confirmation (one query)."""
    return sum(1 for a in agenda.appointments_for_day(day) if a.status == AppointmentStatus.SCHEDULED)
