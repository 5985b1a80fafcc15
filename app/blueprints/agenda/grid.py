"""The agenda's grid layout: slot rows from clinic hours, appointments placed in (and spanning) their rows.

Pure layout for the templates; which times may be booked is asked of the agenda service (`booking_refusal`).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from app.models.pacientes import Appointment
from app.services import agenda, confirmations
from app.services.clock import clinic_tz, to_local
from app.services.settings import Settings


@dataclass
class Card:
    """One appointment as the grid shows it: the row, its patient, its WhatsApp confirmation link."""

    appointment: Appointment
    dentist_name: str
    whatsapp: str | None


@dataclass
class Cell:
    """A grid cell: appointments starting in its first row (spanning `span` rows), or an empty slot."""

    start: datetime
    span: int = 1
    cards: list[Card] = field(default_factory=list)
    covered: bool = False  # inside an earlier cell's rowspan: the template writes no <td>
    closed: bool = False  # outside that day's hours
    bookable: bool = False


@dataclass
class Column:
    """A dentist (day view) or a day (week view), with one cell per row and the appointments outside the rows."""

    key: int | date
    title: str
    cells: list[Cell]
    day: date
    dentist_id: int | None
    closed: bool = False
    holiday: str | None = None
    outside: list[Card] = field(default_factory=list)


def slot_times(day: date, span: tuple[time, time] | None, minutes: int) -> list[datetime]:
    """Clinic-local starts of every slot from opening to closing on `day`."""
    if span is None:
        return []
    start = datetime.combine(day, span[0], tzinfo=clinic_tz())
    end = datetime.combine(day, span[1], tzinfo=clinic_tz())
    times = []
    while start + timedelta(minutes=minutes) <= end:
        times.append(start)
        start += timedelta(minutes=minutes)
    return times


def card(appointment: Appointment, dentist_name: str, settings: Settings) -> Card:
    """An appointment with its confirmation link (the same link the confirmations page offers)."""
    link = confirmations.confirmation_link(appointment, appointment.patient, dentist_name, settings)
    return Card(appointment, dentist_name, link)


def column(
    key,
    title: str,
    day: date,
    dentist_id: int | None,
    rows: list[time],
    appointments: list[Appointment],
    dentist_names: dict[int, str],
    settings: Settings,
    holiday: str | None = None,
) -> Column:
    """One column: cells for `rows` (times of day), the day's hours decide closed cells, appointments placed."""
    minutes = settings.slot_minutes
    hours = settings.hours_on(day)
    tz = clinic_tz()
    cells = []
    for row in rows:
        start = datetime.combine(day, row, tzinfo=tz)
        end = start + timedelta(minutes=minutes)
        closed = hours is None or not (hours[0] <= row and end.time() <= hours[1] and end.date() == day)
        bookable = not closed and dentist_id is not None and agenda.booking_refusal(start, end) is None
        cells.append(Cell(start, closed=closed, bookable=bookable))
    result = Column(key, title, cells, day, dentist_id, closed=hours is None, holiday=holiday)
    grid_start = datetime.combine(day, rows[0], tzinfo=tz) if rows else None
    open_cell: Cell | None = None
    open_until = -1
    for appointment in sorted(appointments, key=lambda a: (a.starts_at, a.id)):
        shown = card(appointment, dentist_names.get(appointment.dentist_user_id, ""), settings)
        starts, ends = to_local(appointment.starts_at), to_local(appointment.ends_at)
        index = int((starts - grid_start).total_seconds() // (minutes * 60)) if grid_start else -1
        if index < 0 or index >= len(cells):
            result.outside.append(shown)
            continue
        last = min(
            len(cells) - 1, index + max(1, -(-int((ends - cells[index].start).total_seconds()) // (minutes * 60))) - 1
        )
        if open_cell is not None and index <= open_until:
            open_cell.cards.append(shown)  # overlaps the cell above (a missed visit and its replacement)
            index = cells.index(open_cell)
        else:
            open_cell = cells[index]
            open_cell.cards.append(shown)
        open_until = max(open_until, last)
        open_cell.span = open_until - index + 1
        for covered in cells[index + 1 : open_until + 1]:
            covered.covered = True
    return result
