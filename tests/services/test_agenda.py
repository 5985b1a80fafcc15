"""The agenda service: booking rules, overlap under concurrency, status transitions, day/week views."""

import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time

import pytest
from sqlalchemy import event, func, select

from app.db import PACIENTES, USERS, engine_of
from app.db.actor import acting_as
from app.db.types import utcnow
from app.extensions import db
from app.models.history import AuditEvent, TimelineEvent
from app.models.pacientes import Appointment, PacientesOutbox
from app.services import agenda, patients, settings, users
from app.services.clock import clinic_day, clinic_tz, format_day_time
from app.services.errors import ConflictError, NotFound, RelatedEntityNotFound, ValidationError
from tests.factories import make_patient, make_user
from tests.factories_finance import (
    MISSING_ID,
    local,
    make_dentist,
    place_appointment,
    slot,
    started_slot,
    user_id_for,
    workday,
)
from tests.support import once_on_sqlite


@pytest.fixture
def dentist(app):
    """An active dentist."""
    return make_dentist(full_name="Ana Souza")


@pytest.fixture
def patient(app):
    """An active patient."""
    return make_patient(full_name="João da Silva")


@pytest.fixture
def receptionist(app):
    """An active receptionist, acting for the test's duration."""
    user = make_user("receptionist")
    with acting_as(user.id):
        yield user


def book(patient, dentist, span=None, **kwargs):
    """Book `span` (tomorrow 14:00–14:30 by default)."""
    starts_at, ends_at = span or slot()
    return agenda.book_appointment(patient.id, dentist.id, starts_at, ends_at, **kwargs)


def timeline_summaries(patient_id: int) -> list[str]:
    """The patient's timeline lines, oldest first."""
    return list(
        db.session.scalars(
            select(TimelineEvent.summary).where(TimelineEvent.patient_id == patient_id).order_by(TimelineEvent.id)
        )
    )


def fresh(appointment_id: int) -> Appointment:
    """The appointment as stored (the session keeps objects after commit, so expire them first)."""
    db.session.expire_all()
    return db.session.get(Appointment, appointment_id)


def appointment_count() -> int:
    """How many appointments exist."""
    return db.session.scalar(select(func.count()).select_from(Appointment))


@contextmanager
def counted_queries(engine):
    """Collect every SQL statement the engine runs inside the block."""
    statements = []

    def _count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def selects(statements: list[str]) -> list[str]:
    """The SELECT statements among those collected (BEGIN and the like left out)."""
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


# --- booking -------------------------------------------------------------------------------------------------


def test_book_appointment_stores_row_timeline_and_audit(receptionist, patient, dentist):
    """A booking stores the slot, who booked it, a readable timeline line and a 'create' audit event."""
    starts_at, ends_at = slot(hour=14)
    appointment = book(patient, dentist, (starts_at, ends_at), notes="  Dor no dente 16 ")
    stored = fresh(appointment.id)
    assert (stored.patient_id, stored.dentist_user_id, stored.status) == (patient.id, dentist.id, "scheduled")
    assert (stored.starts_at, stored.ends_at) == (starts_at, ends_at)
    assert stored.notes == "Dor no dente 16" and stored.created_by_user_id == receptionist.id
    assert timeline_summaries(patient.id)[-1] == (
        f"Consulta marcada para {starts_at:%d/%m} às 14:00 com Dr(a). Ana Souza."
    )
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.table_name == "appointment")).one()
    assert (audit.action, audit.row_id, audit.patient_id, audit.actor_user_id) == (
        "create",
        appointment.id,
        patient.id,
        receptionist.id,
    )


@pytest.mark.parametrize("case", ["missing", "inactive", "wrong_role"])
def test_book_refuses_dentist_that_is_not_an_active_dentist(patient, case):
    """The dentist id comes from the users bind: missing, deactivated or non-dentist ids are refused."""
    with pytest.raises(RelatedEntityNotFound) as info:
        agenda.book_appointment(patient.id, user_id_for(case), *slot())
    assert info.value.entity == "Dentista" and info.value.bind == "users"
    assert appointment_count() == 0


@pytest.mark.parametrize("case", ["missing", "inactive"])
def test_book_refuses_missing_or_inactive_patient(dentist, case):
    """Only an existing, active patient can be booked."""
    patient_id = MISSING_ID
    if case == "inactive":
        patient_id = make_patient().id
        patients.deactivate_patient(patient_id, "Mudou de cidade")
    with pytest.raises(RelatedEntityNotFound) as info:
        agenda.book_appointment(patient_id, dentist.id, *slot())
    assert info.value.entity == "Paciente"
    assert appointment_count() == 0


@pytest.mark.parametrize("case", ["missing", "inactive"])
def test_book_refuses_an_acting_user_that_is_not_active(patient, dentist, case):
    """The booking user's id is stored too, so a stale or deactivated session cannot book."""
    actor_id = MISSING_ID
    if case == "inactive":
        actor_id = make_user("receptionist").id
        users.deactivate_user(actor_id, "Saiu da clínica")
    with acting_as(actor_id), pytest.raises(RelatedEntityNotFound):
        book(patient, dentist)
    assert appointment_count() == 0


def _naive(moment: datetime) -> datetime:
    """The same wall-clock time without a time zone."""
    return moment.replace(tzinfo=None)


@once_on_sqlite
@pytest.mark.parametrize(
    "make_span, field",
    [
        (lambda s, e: (_naive(s), e), "starts_at"),
        (lambda s, e: (s, _naive(e)), "ends_at"),
        (lambda s, e: ("2030-01-01 14:00", e), "starts_at"),
        (lambda s, e: (s, s), "ends_at"),
        (lambda s, e: (e, s), "ends_at"),
        (lambda s, e: (s, s + timedelta(minutes=4)), "ends_at"),
        (lambda s, e: (s, s + timedelta(hours=8, minutes=1)), "ends_at"),
        (lambda s, e: (s - timedelta(days=2), e - timedelta(days=2)), "starts_at"),
    ],
)
def test_book_refuses_bad_times(patient, dentist, make_span, field):
    """Naive or missing times, end not after start, absurd lengths and past days are refused per field."""
    starts_at, ends_at = make_span(*slot())
    with pytest.raises(ValidationError) as info:
        agenda.book_appointment(patient.id, dentist.id, starts_at, ends_at)
    assert field in info.value.errors
    assert appointment_count() == 0


@pytest.mark.parametrize(
    "start, end",
    [
        ((14, 0), (14, 30)),
        ((13, 45), (14, 15)),
        ((14, 15), (14, 45)),
        ((13, 0), (15, 0)),
        ((14, 10), (14, 20)),
    ],
)
def test_overlap_for_the_same_dentist_is_refused_with_readable_message(patient, dentist, start, end):
    """Any overlap with the dentist's 14:00–14:30 is refused, naming the occupied time in clinic time."""
    book(patient, dentist)
    with pytest.raises(ConflictError, match=r"Dr\(a\)\. Ana Souza já tem consulta de 14:00 às 14:30"):
        book(make_patient(), dentist, (local(1, *start), local(1, *end)))
    assert appointment_count() == 1


@pytest.mark.parametrize("start, end", [((13, 30), (14, 0)), ((14, 30), (15, 0))])
def test_adjacent_slots_do_not_overlap(patient, dentist, start, end):
    """A slot ending when another starts (or starting when it ends) is free."""
    book(patient, dentist)
    book(make_patient(), dentist, (local(1, *start), local(1, *end)))
    assert appointment_count() == 2


def test_same_slot_with_another_dentist_is_allowed(patient, dentist):
    """Overlap is per dentist: two dentists work at the same time."""
    book(patient, dentist)
    book(make_patient(), make_dentist())
    assert appointment_count() == 2


@pytest.mark.parametrize(
    "free_it",
    [
        lambda a: agenda.cancel_appointment(a.id, "Paciente viajou"),
        lambda a: agenda.set_appointment_status(a.id, "missed"),
    ],
)
def test_cancelled_or_missed_appointment_frees_its_slot(patient, dentist, free_it):
    """Cancelled and missed appointments no longer hold the dentist's time."""
    span = started_slot()
    held = place_appointment(patient, dentist, span)
    with pytest.raises(ConflictError):
        agenda._refuse_overlap(dentist, *span)
    free_it(held)
    agenda._refuse_overlap(dentist, *span)  # the time is free again


def test_cancelled_appointment_slot_can_be_booked_again(patient, dentist):
    """Once cancelled, the same future slot books for another patient."""
    agenda.cancel_appointment(book(patient, dentist).id, "Paciente viajou")
    book(make_patient(), dentist)
    assert appointment_count() == 2


def test_two_concurrent_bookings_of_one_slot_exactly_one_succeeds(app, patient, dentist, monkeypatch):
    """Check and insert share one BEGIN IMMEDIATE transaction: of two simultaneous bookings only one lands."""
    check = agenda._refuse_overlap

    def slow_check(*args, **kwargs):
        check(*args, **kwargs)
        time.sleep(0.3)  # widen the gap between check and insert: without the write lock both would pass

    monkeypatch.setattr(agenda, "_refuse_overlap", slow_check)
    other = make_patient()
    barrier, outcomes = threading.Barrier(2), []

    def attempt(patient_id):
        with app.app_context():
            try:
                barrier.wait()
                agenda.book_appointment(patient_id, dentist.id, *slot())
                outcomes.append("booked")
            except ConflictError:
                outcomes.append("conflict")
            except Exception as exc:  # noqa: BLE001 - any other failure is reported by the assertion
                outcomes.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(pid,)) for pid in (patient.id, other.id)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["booked", "conflict"]
    assert appointment_count() == 1


def test_booking_is_atomic_when_the_timeline_fails(patient, dentist, monkeypatch):
    """A failure after the insert (here: the timeline) rolls back the appointment and its audit events."""

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(agenda, "add_timeline", broken)
    with pytest.raises(RuntimeError):
        book(patient, dentist)
    assert appointment_count() == 0
    assert db.session.scalar(select(func.count()).select_from(PacientesOutbox)) == 0
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.table_name == "appointment")).all() == []


# --- moving and cancelling -----------------------------------------------------------------------------------


def test_move_appointment_changes_time_resets_confirmation_and_tells_the_timeline(patient, dentist):
    """A moved appointment gets the new time, must be confirmed again, and the timeline says from/to."""
    appointment = book(patient, dentist)
    agenda.set_appointment_status(appointment.id, "confirmed")
    new_start, new_end = slot(day_offset=2, hour=9)
    moved = agenda.move_appointment(appointment.id, new_start, new_end)
    assert (moved.starts_at, moved.ends_at, moved.status) == (new_start, new_end, "scheduled")
    assert timeline_summaries(patient.id)[-1] == (
        f"Consulta de {format_day_time(slot()[0])} remarcada para {new_start:%d/%m} às 09:00 com Dr(a). Ana Souza."
    )


def test_move_may_overlap_its_own_old_slot(patient, dentist):
    """Shifting an appointment by 15 minutes does not conflict with itself."""
    appointment = book(patient, dentist)
    moved = agenda.move_appointment(appointment.id, local(1, 14, 15), local(1, 14, 45))
    assert moved.starts_at == local(1, 14, 15)


def test_move_onto_another_appointment_is_refused(patient, dentist):
    """Moving into a taken slot of the dentist is a conflict, and the appointment keeps its time."""
    book(patient, dentist)
    other = book(make_patient(), dentist, slot(hour=16))
    with pytest.raises(ConflictError, match="14:00 às 14:30"):
        agenda.move_appointment(other.id, *slot(hour=14))
    assert fresh(other.id).starts_at == local(1, 16)


def test_move_to_another_dentist(patient, dentist):
    """An appointment can change dentist; the new one's agenda is checked."""
    appointment = book(patient, dentist)
    other_dentist = make_dentist()
    moved = agenda.move_appointment(appointment.id, *slot(), dentist_user_id=other_dentist.id)
    assert moved.dentist_user_id == other_dentist.id


@pytest.mark.parametrize("case", ["missing", "inactive", "wrong_role"])
def test_move_refuses_a_bad_new_dentist(patient, dentist, case):
    """The new dentist id is checked like at booking; the appointment keeps its dentist."""
    appointment = book(patient, dentist)
    with pytest.raises(RelatedEntityNotFound):
        agenda.move_appointment(appointment.id, *slot(), dentist_user_id=user_id_for(case))
    assert fresh(appointment.id).dentist_user_id == dentist.id


@pytest.mark.parametrize(
    "close",
    [
        lambda a: agenda.cancel_appointment(a.id, "Desistiu"),
        lambda a: agenda.set_appointment_status(a.id, "attended"),
    ],
)
def test_closed_appointments_cannot_be_moved_or_cancelled(patient, dentist, close):
    """Cancelled and attended appointments are history: neither moved nor cancelled."""
    appointment = place_appointment(patient, dentist, started_slot())
    close(appointment)
    with pytest.raises(ConflictError):
        agenda.move_appointment(appointment.id, *slot())
    with pytest.raises(ConflictError):
        agenda.cancel_appointment(appointment.id, "Outro motivo")


def test_cancel_needs_a_reason_and_records_it_in_the_timeline(patient, dentist):
    """Cancelling without a reason is refused; with one, the timeline keeps it."""
    appointment = book(patient, dentist)
    with pytest.raises(ValidationError) as info:
        agenda.cancel_appointment(appointment.id, "   ")
    assert "reason" in info.value.errors
    agenda.cancel_appointment(appointment.id, "Paciente viajou")
    assert fresh(appointment.id).status == "cancelled"
    assert timeline_summaries(patient.id)[-1] == (
        f"Consulta de {format_day_time(slot()[0])} cancelada: Paciente viajou"
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: agenda.move_appointment(MISSING_ID, *slot()),
        lambda: agenda.cancel_appointment(MISSING_ID, "x"),
        lambda: agenda.set_appointment_status(MISSING_ID, "confirmed"),
    ],
)
def test_unknown_appointment_is_not_found(app, call):
    """Acting on an appointment id that does not exist raises NotFound."""
    with pytest.raises(NotFound):
        call()


# --- status transitions ----------------------------------------------------------------------------------------

ALLOWED = {
    ("scheduled", "confirmed"),
    ("scheduled", "attended"),
    ("scheduled", "missed"),
    ("confirmed", "scheduled"),
    ("confirmed", "attended"),
    ("confirmed", "missed"),
    ("missed", "attended"),
    ("scheduled", "arrived"),
    ("confirmed", "arrived"),
    ("arrived", "confirmed"),
    ("arrived", "attended"),
    ("missed", "arrived"),
}
REACH = {  # how to bring a fresh (scheduled) appointment to each status
    "scheduled": [],
    "confirmed": ["confirmed"],
    "arrived": ["arrived"],
    "attended": ["attended"],
    "missed": ["missed"],
}


@once_on_sqlite
@pytest.mark.parametrize("current", ["scheduled", "confirmed", "arrived", "attended", "missed", "cancelled"])
@pytest.mark.parametrize("target", ["scheduled", "confirmed", "arrived", "attended", "missed"])
def test_status_transition_matrix(patient, dentist, current, target):
    """Only sensible transitions are allowed; attended and cancelled are final."""
    appointment = place_appointment(patient, dentist, started_slot())
    if current == "cancelled":
        agenda.cancel_appointment(appointment.id, "Desistiu")
    for status in REACH.get(current, []):
        agenda.set_appointment_status(appointment.id, status)
    if (current, target) in ALLOWED:
        assert agenda.set_appointment_status(appointment.id, target).status == target
    else:
        with pytest.raises(ConflictError):
            agenda.set_appointment_status(appointment.id, target)
        assert fresh(appointment.id).status == current


@pytest.mark.parametrize("status", ["attended", "missed"])
def test_attended_or_missed_only_once_the_appointment_started(patient, dentist, status):
    """A future appointment cannot already be attended or missed."""
    appointment = book(patient, dentist)
    with pytest.raises(ConflictError, match="ainda não começou"):
        agenda.set_appointment_status(appointment.id, status)


def test_arrival_is_recorded_with_its_time_only_on_the_day_and_undone(patient, dentist):
    """Arrival is marked on the appointment's day with the moment; undoing it clears the moment."""
    later = book(patient, dentist)
    with pytest.raises(ConflictError, match="dia da consulta"):
        agenda.set_appointment_status(later.id, "arrived")
    today = place_appointment(patient, dentist, started_slot())
    assert agenda.set_appointment_status(today.id, "arrived").arrived_at is not None
    assert fresh(today.id).arrived_at is not None
    agenda.set_appointment_status(today.id, "confirmed")
    assert fresh(today.id).arrived_at is None


@once_on_sqlite
@pytest.mark.parametrize("status", ["cancelled", "done", ""])
def test_set_status_refuses_cancel_without_reason_and_unknown_statuses(patient, dentist, status):
    """Cancelling needs cancel_appointment (with a reason); unknown statuses are invalid."""
    appointment = book(patient, dentist)
    with pytest.raises(ValidationError):
        agenda.set_appointment_status(appointment.id, status)


def test_missed_back_to_attended_is_refused_when_the_slot_was_rebooked(patient, dentist):
    """Reviving a missed appointment must not create an overlap with the booking that took its place."""
    span = started_slot()
    missed = place_appointment(patient, dentist, span)
    agenda.set_appointment_status(missed.id, "missed")
    place_appointment(make_patient(), dentist, span)
    with pytest.raises(ConflictError, match="já tem consulta"):
        agenda.set_appointment_status(missed.id, "attended")


def test_status_change_writes_timeline(patient, dentist):
    """Confirming an appointment adds a readable timeline line."""
    appointment = book(patient, dentist)
    agenda.set_appointment_status(appointment.id, "confirmed")
    assert timeline_summaries(patient.id)[-1] == f"Consulta de {format_day_time(slot()[0])} confirmada."


# --- listings --------------------------------------------------------------------------------------------------


def test_day_view_uses_clinic_day_boundaries(patient, dentist):
    """A day is the clinic's local day: 23:50 local (02:50 UTC next day) belongs to it, 00:10 next day does not."""
    early = place_appointment(patient, dentist, (local(1, 0, 10), local(1, 0, 40)))
    late = place_appointment(patient, dentist, (local(1, 23, 20), local(1, 23, 50)))
    place_appointment(patient, dentist, (local(2, 0, 10), local(2, 0, 40)))
    place_appointment(patient, dentist, (local(0, 23, 20), local(0, 23, 50)))
    day = workday(1)
    assert late.starts_at.astimezone(UTC).date() == day + timedelta(days=1)  # in UTC it is the next day already
    assert [a.id for a in agenda.appointments_for_day(day)] == [early.id, late.id]


def test_day_view_filters_dentist_and_cancelled(patient, dentist):
    """The day view can show one dentist, and hides cancelled appointments unless asked."""
    mine = book(patient, dentist)
    theirs = book(make_patient(), make_dentist())
    cancelled = book(make_patient(), dentist, slot(hour=16))
    agenda.cancel_appointment(cancelled.id, "Desistiu")
    day = workday(1)
    assert [a.id for a in agenda.appointments_for_day(day, dentist_user_id=dentist.id)] == [mine.id]
    assert {a.id for a in agenda.appointments_for_day(day)} == {mine.id, theirs.id}
    assert {a.id for a in agenda.appointments_for_day(day, include_cancelled=True)} == {
        mine.id,
        theirs.id,
        cancelled.id,
    }


def test_day_view_loads_patients_without_a_query_per_row(patient, dentist):
    """Listing a day and reading every row's patient name runs one query, however many rows there are."""
    for hour in (8, 9, 10, 11):
        book(make_patient(), dentist, slot(hour=hour))
    db.session.expire_all()
    with counted_queries(engine_of(PACIENTES)) as statements:
        rows = agenda.appointments_for_day(workday(1))
        names = [row.patient.full_name for row in rows]
    assert len(names) == 4 and all(names)
    assert len(selects(statements)) == 1


def test_dentist_names_resolve_in_one_query(dentist):
    """Agenda rows get dentist names from the users bind in a single query."""
    other = make_dentist(full_name="Dra. Beatriz Lima")
    with counted_queries(engine_of(USERS)) as statements:
        names = agenda.dentist_names([dentist.id, other.id, dentist.id])
    assert names == {dentist.id: "Dr(a). Ana Souza", other.id: "Dra. Beatriz Lima"}
    assert len(selects(statements)) == 1


def test_week_view_has_seven_days_from_monday(patient, dentist):
    """The week view covers Monday to Sunday of the given day, each appointment under its clinic day."""
    tomorrow = book(patient, dentist)
    day = workday(1)
    week = agenda.appointments_for_week(day)
    monday = day - timedelta(days=day.weekday())
    assert list(week) == [monday + timedelta(days=n) for n in range(7)]
    assert [a.id for a in week[day]] == [tomorrow.id]
    assert sum(len(rows) for rows in week.values()) == 1


def test_appointments_of_patient_latest_first(patient, dentist):
    """A patient's appointments come latest first, and only theirs."""
    first = book(patient, dentist, slot(day_offset=1))
    second = book(patient, dentist, slot(day_offset=3))
    book(make_patient(), dentist, slot(day_offset=2))
    assert [a.id for a in agenda.appointments_of_patient(patient.id)] == [second.id, first.id]


def test_active_dentists_lists_only_active_dentists(dentist):
    """The dentist selector offers active dentists only."""
    gone = make_dentist()
    users.deactivate_user(gone.id, "Saiu")
    make_user("receptionist")
    assert [u.id for u in agenda.active_dentists()] == [dentist.id]


def test_patient_cannot_be_booked_twice_at_the_same_time_with_two_dentists(patient):
    """A patient is in one chair at a time: a second dentist's overlapping slot is refused with a message."""
    first, second = make_dentist(), make_dentist()
    start, end = slot(1, 10)
    agenda.book_appointment(patient.id, first.id, start, end)
    with pytest.raises(ConflictError, match="paciente já tem consulta"):
        agenda.book_appointment(patient.id, second.id, start + timedelta(minutes=15), end + timedelta(minutes=15))
    assert appointment_count() == 1


def test_cancel_reason_must_fit_its_column(patient, dentist):
    """A reason longer than the stored column is a field error on every backend, and nothing is cancelled."""
    appointment = book(patient, dentist)
    with pytest.raises(ValidationError) as info:
        agenda.cancel_appointment(appointment.id, "x" * 501)
    assert "máximo de 500" in info.value.errors["reason"]
    assert fresh(appointment.id).status == "scheduled"
    agenda.cancel_appointment(appointment.id, "Paciente viajou")
    assert fresh(appointment.id).cancellation_reason == "Paciente viajou"


def test_today_for_a_dentist_is_their_own_day_and_for_others_the_clinic(app):
    """The dashboard's scope is decided here: a dentist sees their own appointments, every other role the clinic."""
    ana, bruno = make_dentist(full_name="Ana Souza"), make_dentist(full_name="Bruno Lima")
    carla, davi = make_patient(full_name="Carla Dias"), make_patient(full_name="Davi Reis")
    for patient, dentist, hour in ((carla, ana, 0), (davi, bruno, 1)):
        with acting_as(dentist.id):
            place_appointment(patient, dentist, slot(0, hour), actor_id=dentist.id)
    own = agenda.today_for(ana.id, "dentist")
    assert own.own_only and [a.patient_id for a in own.appointments] == [carla.id]
    assert own.day == clinic_day() and own.warnings.keys() == {carla.id}
    for role in ("admin", "receptionist"):
        clinic = agenda.today_for(make_user(role).id, role)
        assert not clinic.own_only and [a.patient_id for a in clinic.appointments] == [carla.id, davi.id]
        assert clinic.dentists == {ana.id: "Dr(a). Ana Souza", bruno.id: "Dr(a). Bruno Lima"}


# --- when a visit may be booked: not in the past, inside clinic hours -------------------------------------------


def _next(weekday: int, hour: int, minute: int = 0) -> tuple[datetime, datetime]:
    """A 30-minute slot at HH:MM clinic time on the next given weekday (Monday = 0) after today."""
    day = clinic_day() + timedelta(days=1)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    start = datetime.combine(day, dt_time(hour, minute), tzinfo=clinic_tz())
    return start, start + timedelta(minutes=30)


@pytest.mark.parametrize(
    "span, message",
    [
        (lambda: _next(0, 7, 30), "Fora do horário da clínica: na segunda-feira, das 08:00 às 18:00."),
        (lambda: _next(2, 17, 45), "Fora do horário da clínica: na quarta-feira, das 08:00 às 18:00."),
        (lambda: _next(5, 11, 45), "Fora do horário da clínica: no sábado, das 08:00 às 12:00."),
        (lambda: _next(6, 10), "A clínica não abre no domingo. Escolha outro dia."),
        (lambda: (local(0, 0, 0) - timedelta(hours=2), local(0, 0, 0) - timedelta(hours=1, minutes=30)), "já passou"),
        (lambda: (utcnow() - timedelta(minutes=20), utcnow() + timedelta(minutes=10)), "horário que já passou"),
    ],
)
def test_booking_outside_hours_or_in_the_past_is_refused(patient, dentist, span, message):
    """Before opening, past closing, on a closed weekday or in the past: a field error, nothing booked."""
    with pytest.raises(ValidationError) as info:
        book(patient, dentist, span())
    assert message in info.value.errors["starts_at"]
    assert appointment_count() == 0


@pytest.mark.parametrize("span", [lambda: _next(0, 8), lambda: _next(4, 17, 30), lambda: _next(5, 11, 30)])
def test_booking_at_the_edges_of_opening_hours_is_allowed(patient, dentist, span):
    """Starting at opening and ending at closing fit."""
    book(patient, dentist, span())
    assert appointment_count() == 1


def test_opening_hours_come_from_the_clinic_settings(patient, dentist):
    """An admin who opens on Sundays makes Sunday bookable; closing Monday makes it refused."""
    hours = {weekday: ("08:00", "18:00") for weekday in range(7)}
    hours[0] = None
    current = settings.current()
    settings.update_settings(
        name=current.name,
        state=current.state,
        opening_hours=hours,
        slot_minutes=current.slot_minutes,
        paper_size=current.paper_size,
        confirmation_template=current.confirmation_template,
        recall_template=current.recall_template,
    )
    book(patient, dentist, _next(6, 10))
    with pytest.raises(ValidationError, match="não abre na segunda-feira"):
        book(make_patient(), dentist, _next(0, 10))


@pytest.mark.parametrize("span", [lambda: _next(6, 10), lambda: (local(0, 0, 0), local(0, 0, 30))])
def test_moving_into_the_past_or_a_closed_day_is_refused(patient, dentist, span):
    """Moving follows the same rule as booking, and the appointment stays where it was."""
    appointment = book(patient, dentist)
    with pytest.raises(ValidationError) as info:
        agenda.move_appointment(appointment.id, *span())
    assert "starts_at" in info.value.errors
    assert fresh(appointment.id).starts_at == slot()[0]


def test_booking_refusal_answers_without_raising(app):
    """The grid asks the same question: None for a bookable time, the reason otherwise."""
    assert agenda.booking_refusal(*slot()) is None
    assert "não abre" in agenda.booking_refusal(*_next(6, 10))


def test_next_statuses_offer_only_what_set_status_accepts(patient, dentist):
    """A future visit can only be confirmed; today's started one also arrive, be attended or missed; an attended
    one nothing."""
    future = book(patient, dentist)
    assert agenda.next_statuses(future) == ["confirmed"]
    started = place_appointment(make_patient(), dentist, started_slot())
    assert agenda.next_statuses(started) == ["confirmed", "arrived", "attended", "missed"]
    for status in agenda.next_statuses(started):
        assert status in agenda.TRANSITIONS[started.status]
    agenda.set_appointment_status(started.id, "attended")
    assert agenda.next_statuses(fresh(started.id)) == []
