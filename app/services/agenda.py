"""The agenda: book, move, cancel appointments and follow their status; day and week views for the UI.

The overlap check and the insert run in one BEGIN IMMEDIATE unit of work on pacientes, so two receptionists
booking the same slot at the same moment cannot both succeed.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.db import PACIENTES
from app.db.actor import current_actor
from app.db.audit import add_timeline
from app.db.types import utcnow
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import Appointment
from app.models.users import User
from app.services import settings
from app.services.anamnesis import anamnesis_warnings
from app.services.clock import clinic_day, clinic_tz, format_day_month, format_day_time, format_time, to_local
from app.services.errors import ConflictError, NotFound, ValidationError
from app.services.guards import require_active_dentist, require_active_user, require_patient
from app.services.locks import get_for_update
from app.services.validation import column_limit, optional_text, required_text
from app.vocabulary import AppointmentStatus, Role

MIN_LENGTH = timedelta(minutes=5)
MAX_LENGTH = timedelta(hours=8)
# Statuses that hold the dentist's chair: a cancelled or missed appointment frees its slot.
BLOCKING = (
    AppointmentStatus.SCHEDULED,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.ARRIVED,
    AppointmentStatus.ATTENDED,
)
OPEN = (AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED)
# A visit may start a little before now (a walk-in registered as they sit down); earlier than that is the past.
PAST_GRACE = timedelta(minutes=15)
MAX_NOTES, MAX_REASON = 2000, column_limit(Appointment, "cancellation_reason")
TRANSITIONS = {
    AppointmentStatus.SCHEDULED: {
        AppointmentStatus.CONFIRMED,
        AppointmentStatus.ARRIVED,
        AppointmentStatus.ATTENDED,
        AppointmentStatus.MISSED,
    },
    AppointmentStatus.CONFIRMED: {
        AppointmentStatus.SCHEDULED,
        AppointmentStatus.ARRIVED,
        AppointmentStatus.ATTENDED,
        AppointmentStatus.MISSED,
    },
    # In the waiting room: seen next, or the arrival was marked by mistake (back to confirmed).
    AppointmentStatus.ARRIVED: {AppointmentStatus.CONFIRMED, AppointmentStatus.ATTENDED},
    # The patient arrived late and waits, or was seen after all.
    AppointmentStatus.MISSED: {AppointmentStatus.ARRIVED, AppointmentStatus.ATTENDED},
    AppointmentStatus.ATTENDED: set(),
    AppointmentStatus.CANCELLED: set(),
}
# How the timeline words each status change.
_STATUS_SUMMARIES = {
    AppointmentStatus.SCHEDULED: "voltou a aguardar confirmação",
    AppointmentStatus.CONFIRMED: "confirmada",
    AppointmentStatus.ARRIVED: "com o paciente na sala de espera",
    AppointmentStatus.ATTENDED: "marcada como atendida",
    AppointmentStatus.MISSED: "marcada como falta",
}
# The order a worklist offers the next statuses in.
STATUS_ORDER = (
    AppointmentStatus.SCHEDULED,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.ARRIVED,
    AppointmentStatus.ATTENDED,
    AppointmentStatus.MISSED,
)


def dentist_label(user: User) -> str:
    """`Dr(a). Ana Souza`, unless the name already carries the title."""
    name = user.full_name.strip()
    return name if name.lower().startswith(("dr.", "dra.", "dr(a).")) else f"Dr(a). {name}"


def _label(status: str) -> str:
    """The Portuguese word for an appointment status."""
    return AppointmentStatus.label_of(status)


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    """Aware datetimes, end after start, a length a dental appointment can have."""
    errors = {}
    for field, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not isinstance(value, datetime):
            errors[field] = "Informe data e hora."
        elif value.tzinfo is None or value.utcoffset() is None:
            errors[field] = "Data e hora sem fuso horário."
    if errors:
        raise ValidationError(errors)
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": "O fim da consulta deve ser depois do início."})
    if ends_at - starts_at < MIN_LENGTH:
        raise ValidationError({"ends_at": f"Uma consulta dura pelo menos {MIN_LENGTH.seconds // 60} minutos."})
    if ends_at - starts_at > MAX_LENGTH:
        raise ValidationError({"ends_at": f"Uma consulta dura no máximo {MAX_LENGTH.seconds // 3600} horas."})
    refusal = booking_refusal(starts_at, ends_at)
    if refusal:
        raise ValidationError({"starts_at": refusal})


def booking_refusal(starts_at: datetime, ends_at: datetime) -> str | None:
    """Why a visit cannot be booked (or moved) to [starts_at, ends_at): in the past or outside clinic hours.

    None when the time is acceptable. The agenda grid asks the same question to offer only bookable slots.
    """
    if clinic_day(starts_at) < clinic_day():
        return "Não é possível marcar consulta em um dia que já passou."
    if starts_at < utcnow() - PAST_GRACE:
        return "Não é possível marcar consulta em um horário que já passou."
    clinic = settings.current()
    starts_local, ends_local = to_local(starts_at), to_local(ends_at)
    day = starts_local.date()
    weekday = settings.WEEKDAY_NAMES[day.weekday()]
    hours = clinic.hours_on(day)
    if hours is None:
        return f"A clínica não abre {'no' if day.weekday() >= 5 else 'na'} {weekday}. Escolha outro dia."
    if not clinic.within_hours(starts_local, ends_local):
        return (
            f"Fora do horário da clínica: {'no' if day.weekday() >= 5 else 'na'} {weekday}, das "
            f"{hours[0]:%H:%M} às {hours[1]:%H:%M}."
        )
    return None


def _refuse_overlap(dentist: User, starts_at: datetime, ends_at: datetime, exclude_id: int | None = None) -> None:
    """ConflictError naming the first appointment of this dentist that overlaps [starts_at, ends_at).

    Runs inside the caller's unit of work, which holds the pacientes write lock (BEGIN IMMEDIATE, or the
    advisory lock on PostgreSQL), so the insert or update that follows cannot race another booking.
    """
    clash = db.session.scalar(
        select(Appointment)
        .where(
            Appointment.dentist_user_id == dentist.id,
            Appointment.status.in_(BLOCKING),
            Appointment.starts_at < ends_at,
            Appointment.ends_at > starts_at,
            Appointment.id != (exclude_id or 0),
        )
        .order_by(Appointment.starts_at)
        .limit(1)
    )
    if clash is not None:
        raise ConflictError(
            f"{dentist_label(dentist)} já tem consulta de {format_time(clash.starts_at)} às "
            f"{format_time(clash.ends_at)} em {format_day_month(clash.starts_at)}. Escolha outro horário."
        )


def _refuse_patient_overlap(
    patient_id: int, starts_at: datetime, ends_at: datetime, exclude_id: int | None = None
) -> None:
    """ConflictError when the patient already has an appointment (with any dentist) at that time."""
    clash = db.session.scalar(
        select(Appointment)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.status.in_(BLOCKING),
            Appointment.starts_at < ends_at,
            Appointment.ends_at > starts_at,
            Appointment.id != (exclude_id or 0),
        )
        .limit(1)
    )
    if clash is not None:
        raise ConflictError(
            f"O paciente já tem consulta de {format_time(clash.starts_at)} às {format_time(clash.ends_at)} "
            f"em {format_day_month(clash.starts_at)}. Escolha outro horário."
        )


def _acting_user_id() -> int | None:
    """The current actor's id, checked to be an active account when there is one."""
    actor = current_actor().user_id
    if actor is not None:
        require_active_user(actor)
    return actor


def book_appointment(
    patient_id: int, dentist_user_id: int, starts_at: datetime, ends_at: datetime, notes: str | None = None
) -> Appointment:
    """Book a slot for an active patient with an active dentist; refuses an overlap in that dentist's agenda."""
    _check_times(starts_at, ends_at)
    notes = optional_text(notes, "notes", MAX_NOTES, multiline=True)
    with unit_of_work(PACIENTES):
        patient = require_patient(patient_id)
        dentist = require_active_dentist(dentist_user_id)
        created_by = _acting_user_id()
        _refuse_overlap(dentist, starts_at, ends_at)
        _refuse_patient_overlap(patient.id, starts_at, ends_at)
        appointment = Appointment(
            patient=patient,
            dentist_user_id=dentist.id,
            starts_at=starts_at,
            ends_at=ends_at,
            notes=notes,
            created_by_user_id=created_by,
        )
        db.session.add(appointment)
        add_timeline(
            db.session,
            appointment,
            "appointment_booked",
            f"Consulta marcada para {format_day_time(starts_at)} com {dentist_label(dentist)}.",
        )
    return appointment


def move_appointment(
    appointment_id: int, starts_at: datetime, ends_at: datetime, dentist_user_id: int | None = None
) -> Appointment:
    """Move an open appointment to another time (and dentist); a confirmed one needs confirming again."""
    _check_times(starts_at, ends_at)
    with unit_of_work(PACIENTES):
        appointment = get_for_update(Appointment, appointment_id, "Consulta")
        require_patient(appointment.patient_id)
        if appointment.status not in OPEN:
            raise ConflictError(f"Uma consulta {_label(appointment.status)} não pode ser remarcada.")
        dentist = require_active_dentist(appointment.dentist_user_id if dentist_user_id is None else dentist_user_id)
        _acting_user_id()
        if (appointment.starts_at, appointment.ends_at, appointment.dentist_user_id) == (
            starts_at,
            ends_at,
            dentist.id,
        ):
            return appointment
        _refuse_overlap(dentist, starts_at, ends_at, exclude_id=appointment.id)
        _refuse_patient_overlap(appointment.patient_id, starts_at, ends_at, exclude_id=appointment.id)
        before = format_day_time(appointment.starts_at)
        appointment.starts_at, appointment.ends_at = starts_at, ends_at
        appointment.dentist_user_id, appointment.status = dentist.id, AppointmentStatus.SCHEDULED
        add_timeline(
            db.session,
            appointment,
            "appointment_moved",
            f"Consulta de {before} remarcada para {format_day_time(starts_at)} com {dentist_label(dentist)}.",
        )
    return appointment


def cancel_appointment(appointment_id: int, reason: str) -> Appointment:
    """Cancel an open appointment with a written reason; its slot becomes free (also for a deactivated patient)."""
    reason = required_text(reason, "reason", "Informe o motivo do cancelamento.", MAX_REASON, multiline=True)
    with unit_of_work(PACIENTES):
        appointment = get_for_update(Appointment, appointment_id, "Consulta")
        if appointment.status not in OPEN:
            raise ConflictError(f"Uma consulta {_label(appointment.status)} não pode ser cancelada.")
        _acting_user_id()
        appointment.status = AppointmentStatus.CANCELLED
        appointment.cancellation_reason = reason
        add_timeline(
            db.session,
            appointment,
            "appointment_cancelled",
            f"Consulta de {format_day_time(appointment.starts_at)} cancelada: {reason}",
        )
    return appointment


def next_statuses(appointment: Appointment) -> list[AppointmentStatus]:
    """The statuses a button may offer now, in worklist order: what set_appointment_status would accept
    (the allowed transitions; arrived only on the appointment's day; attended and missed once it started)."""
    started = appointment.starts_at <= utcnow()
    today = clinic_day(appointment.starts_at) == clinic_day()
    allowed = TRANSITIONS.get(AppointmentStatus.lookup(appointment.status), set())
    return [
        status
        for status in STATUS_ORDER
        if status in allowed
        and (started or status not in (AppointmentStatus.ATTENDED, AppointmentStatus.MISSED))
        and (today or status != AppointmentStatus.ARRIVED)
    ]


def set_appointment_status(appointment_id: int, status: str) -> Appointment:
    """Confirm, mark arrived (that day), attended or missed (once started), or undo a confirmation or an arrival.

    Cancelling goes through cancel_appointment; `TRANSITIONS` holds the allowed moves.
    """
    if status == AppointmentStatus.CANCELLED:
        raise ValidationError({"status": "Para cancelar, use o cancelamento com o motivo."})
    if status not in TRANSITIONS:
        raise ValidationError({"status": "Situação de consulta inválida."})
    with unit_of_work(PACIENTES):
        appointment = get_for_update(Appointment, appointment_id, "Consulta")
        require_patient(appointment.patient_id)
        current = appointment.status
        if status == current:
            raise ConflictError(f"A consulta já está {_label(status)}.")
        if status not in TRANSITIONS[current]:
            raise ConflictError(f"Uma consulta {_label(current)} não pode passar a {_label(status)}.")
        if status in (AppointmentStatus.ATTENDED, AppointmentStatus.MISSED) and appointment.starts_at > utcnow():
            raise ConflictError("A consulta ainda não começou.")
        if status == AppointmentStatus.ARRIVED and clinic_day(appointment.starts_at) != clinic_day():
            raise ConflictError("A chegada do paciente só pode ser registrada no dia da consulta.")
        _acting_user_id()
        if current not in BLOCKING:
            _refuse_overlap(
                require_active_dentist(appointment.dentist_user_id),
                appointment.starts_at,
                appointment.ends_at,
                exclude_id=appointment.id,
            )
        appointment.status = status
        if status == AppointmentStatus.ARRIVED:
            appointment.arrived_at = utcnow()
        elif status in OPEN:
            appointment.arrived_at = None
        add_timeline(
            db.session,
            appointment,
            f"appointment_{status}",
            f"Consulta de {format_day_time(appointment.starts_at)} {_STATUS_SUMMARIES[status]}.",
        )
    return appointment


def _day_bounds(first: date, days: int = 1) -> tuple[datetime, datetime]:
    """UTC instants of local midnight of `first` and of the day `days` later (DST-safe)."""
    tz = clinic_tz()
    start = datetime.combine(first, time.min, tzinfo=tz)
    end = datetime.combine(first + timedelta(days=days), time.min, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def _appointments_between(
    first: date, days: int, dentist_user_id: int | None, include_cancelled: bool
) -> list[Appointment]:
    """Appointments starting in [first, first + days) clinic days, with their patient loaded in the same query."""
    start, end = _day_bounds(first, days)
    query = (
        select(Appointment)
        .options(joinedload(Appointment.patient))
        .where(Appointment.starts_at >= start, Appointment.starts_at < end)
        .order_by(Appointment.starts_at, Appointment.dentist_user_id, Appointment.id)
    )
    if dentist_user_id is not None:
        query = query.where(Appointment.dentist_user_id == dentist_user_id)
    if not include_cancelled:
        query = query.where(Appointment.status != AppointmentStatus.CANCELLED)
    return list(db.session.scalars(query))


def appointments_for_day(
    day: date, dentist_user_id: int | None = None, include_cancelled: bool = False
) -> list[Appointment]:
    """One clinic day's appointments (all dentists or one), by start time, patients eager-loaded."""
    return _appointments_between(day, 1, dentist_user_id, include_cancelled)


@dataclass(frozen=True)
class TodaySheet:
    """What the dashboard shows a user: today's appointments in their scope, anamnesis warnings, dentist names."""

    day: date
    own_only: bool  # a dentist's own appointments, not the whole clinic's
    appointments: list[Appointment]
    warnings: dict[int, str]
    dentists: dict[int, str]


def today_for(user_id: int, role: str) -> TodaySheet:
    """Today's sheet for a user: a dentist sees their own appointments, everyone else the whole clinic."""
    day = clinic_day()
    own_only = role == Role.DENTIST
    rows = appointments_for_day(day, user_id if own_only else None)
    return TodaySheet(
        day,
        own_only,
        rows,
        anamnesis_warnings(a.patient_id for a in rows),
        dentist_names(a.dentist_user_id for a in rows),
    )


def appointments_for_week(
    day: date, dentist_user_id: int | None = None, include_cancelled: bool = False
) -> dict[date, list[Appointment]]:
    """The week (Monday to Sunday) holding `day`: every day as a key, in order, with its appointments."""
    monday = day - timedelta(days=day.weekday())
    week = {monday + timedelta(days=n): [] for n in range(7)}
    for appointment in _appointments_between(monday, 7, dentist_user_id, include_cancelled):
        week[clinic_day(appointment.starts_at)].append(appointment)
    return week


def get_appointment(appointment_id: int) -> Appointment:
    """One appointment with its patient, for reading, or NotFound."""
    appointment = db.session.scalar(
        select(Appointment).options(joinedload(Appointment.patient)).where(Appointment.id == appointment_id)
    )
    if appointment is None:
        raise NotFound("Consulta", appointment_id)
    return appointment


def appointments_of_patient(patient_id: int) -> list[Appointment]:
    """Every appointment of one patient, latest first."""
    return list(
        db.session.scalars(
            select(Appointment)
            .where(Appointment.patient_id == patient_id)
            .order_by(Appointment.starts_at.desc(), Appointment.id.desc())
        )
    )


@dataclass(frozen=True)
class PatientAppointments:
    """A patient's appointments for the record: still to happen (soonest first), past (latest first), missed count."""

    upcoming: list[Appointment]
    past: list[Appointment]
    missed: int


def split_upcoming(appointments: list[Appointment]) -> PatientAppointments:
    """Split a patient's appointments: booked ones not yet over are upcoming; the rest (and cancelled) are past."""
    now = utcnow()
    waiting = (*OPEN, AppointmentStatus.ARRIVED)
    upcoming = sorted((a for a in appointments if a.status in waiting and a.ends_at > now), key=lambda a: a.starts_at)
    past = sorted((a for a in appointments if a not in upcoming), key=lambda a: a.starts_at, reverse=True)
    missed = sum(1 for a in appointments if a.status == AppointmentStatus.MISSED)
    return PatientAppointments(upcoming, past, missed)


def dentist_names(user_ids) -> dict[int, str]:
    """Display names of dentists by id, in one query on the users bind (for agenda rows)."""
    ids = {uid for uid in user_ids if uid is not None}
    if not ids:
        return {}
    return {user.id: dentist_label(user) for user in db.session.scalars(select(User).where(User.id.in_(ids)))}


def active_dentists() -> list[User]:
    """Active dentists by name, for the agenda's dentist selector."""
    return list(
        db.session.scalars(
            select(User).where(User.role == Role.DENTIST, User.is_active.is_(True)).order_by(User.full_name)
        )
    )
