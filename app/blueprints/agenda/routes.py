"""Routes of the agenda: the day and week grids, booking, moving and cancelling, the day sheet, preferences.

Forms open in the page's side panel through HTMX (and as whole pages without JavaScript). A successful change
answers with `HX-Trigger: appointment-changed`; the grid reloads itself on that event, so any page part that
changes an appointment (also the status buttons) refreshes it.
"""

from datetime import date, datetime, timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.agenda import bp, grid
from app.blueprints.agenda.forms import (
    FIRST_YEAR,
    LAST_YEAR,
    START_FORMAT,
    BookForm,
    CancelForm,
    MoveForm,
    PreferencesForm,
    duration_choices,
)
from app.blueprints.helpers import apply_service_errors, date_arg, id_arg
from app.edge import positive_int
from app.models.pacientes import Appointment, Patient
from app.security import is_htmx
from app.services import agenda, confirmations, patients, preferences, settings
from app.services.clock import clinic_day, clinic_tz, to_local
from app.services.errors import NotFound, ServiceError, ValidationError
from app.vocabulary import AgendaView

GRID_TARGET = "agenda-grid"
PANEL_TARGET = "agenda-panel"
CHANGED = {"HX-Trigger": "appointment-changed"}
SEARCH_RESULTS = 8
SEARCH_MAX = 100


def _wants(target: str) -> bool:
    """Whether this is an HTMX request that will swap the element with id `target`."""
    return is_htmx() and request.headers.get("HX-Target") == target


def _choice(name: str, allowed, fallback):
    """A query value among `allowed`, else the fallback."""
    value = request.args.get(name)
    return value if value in allowed else fallback


def _view_state(remember: bool = True):
    """Date, view and dentist filter of this request: explicit query values (remembered), else the user's own."""
    prefs = preferences.get(current_user.id)
    dentists = agenda.active_dentists()
    dentist_ids = {d.id for d in dentists}
    view = _choice("view", set(AgendaView), prefs.agenda_view)
    if "dentist" in request.args:
        dentist_id = id_arg("dentist")
        dentist_id = dentist_id if dentist_id in dentist_ids else None
    else:
        dentist_id = prefs.agenda_dentist_id if prefs.agenda_dentist_id in dentist_ids else None
    if remember and ("view" in request.args or "dentist" in request.args):
        try:
            prefs = preferences.save(current_user.id, agenda_view=view, agenda_dentist_id=dentist_id)
        except ServiceError:
            pass  # a preference that cannot be kept never stops the agenda from opening
    return date_arg("date") or clinic_day(), view, dentist_id, dentists, prefs


def _day_grid(day: date, dentist_id: int | None, dentists, clinic) -> list[grid.Column]:
    """One column per active dentist (or the chosen one) with that day's slots and appointments."""
    shown = [d for d in dentists if dentist_id in (None, d.id)]
    names = {d.id: agenda.dentist_label(d) for d in dentists}
    rows = [t.time() for t in grid.slot_times(day, clinic.hours_on(day), clinic.slot_minutes)]
    by_dentist: dict[int, list[Appointment]] = {}
    for appointment in agenda.appointments_for_day(day, dentist_id):
        by_dentist.setdefault(appointment.dentist_user_id, []).append(appointment)
    return [grid.column(d.id, names[d.id], day, d.id, rows, by_dentist.get(d.id, []), names, clinic) for d in shown]


def _week_grid(day: date, dentist, clinic, holidays: dict[date, str]) -> list[grid.Column]:
    """The dentist's Monday to Sunday: one column per day, rows over the week's widest hours."""
    span = clinic.day_span()
    rows = [t.time() for t in grid.slot_times(day, span, clinic.slot_minutes)]
    names = {dentist.id: agenda.dentist_label(dentist)}
    week = agenda.appointments_for_week(day, dentist.id)
    return [grid.column(d, "", d, dentist.id, rows, week[d], names, clinic, holiday=holidays.get(d)) for d in week]


def _agenda_context() -> dict:
    """Everything the agenda page and its grid partial need."""
    day, view, dentist_id, dentists, prefs = _view_state()
    clinic = settings.current()
    if view == AgendaView.WEEK:
        monday = day - timedelta(days=day.weekday())
        first, last, step = monday, monday + timedelta(days=6), 7
    else:
        first = last = day
        step = 1
    holidays = settings.holidays_between(first, last, clinic.state)
    week_dentist = None
    if view == AgendaView.WEEK and dentists:
        week_dentist = next((d for d in dentists if d.id == dentist_id), dentists[0])
        columns = _week_grid(day, week_dentist, clinic, holidays)
    elif view == AgendaView.WEEK:
        columns = []
    else:
        columns = _day_grid(day, dentist_id, dentists, clinic)
    rows = columns[0].cells if columns else []
    return {
        "day": day,
        "view": view,
        "dentist_id": dentist_id,
        "week_dentist": week_dentist,
        "dentists": dentists,
        "prefs": prefs,
        "clinic": clinic,
        "columns": columns,
        "rows": rows,
        "holidays": holidays,
        "previous_day": day - timedelta(days=step),
        "next_day": day + timedelta(days=step),
        "today": clinic_day(),
        "week_start": day - timedelta(days=day.weekday()),
        "weekday_names": settings.WEEKDAY_NAMES,
        "next_statuses": agenda.next_statuses,
        "preferences_form": PreferencesForm(slot_density=prefs.slot_density, agenda_view=prefs.agenda_view),
    }


@bp.get("")
def day():
    """The agenda: every dentist's day, or one dentist's week; HTMX reloads only the grid."""
    context = _agenda_context()
    booked = id_arg("booked")
    if booked is not None and not is_htmx():
        context["booked"] = _booked_context(booked)
    template = "agenda/_grid.html" if _wants(GRID_TARGET) else "agenda/index.html"
    return render_template(template, **context)


def _booked_context(appointment_id: int) -> dict | None:
    """The just-booked appointment with its confirmation link, for the "send the confirmation" next step."""
    try:
        appointment = agenda.get_appointment(appointment_id)
    except NotFound:
        return None
    name = agenda.dentist_names([appointment.dentist_user_id]).get(appointment.dentist_user_id, "")
    link = confirmations.confirmation_link(appointment, appointment.patient, name, settings.current())
    return {"appointment": appointment, "dentist_name": name, "whatsapp": link}


def _panel(template: str, status: int = 200, headers: dict | None = None, **context):
    """A form or message in the agenda's side panel (HTMX), or as its own page."""
    if is_htmx():
        return render_template(template, **context), status, headers or {}
    return render_template("agenda/panel_page.html", panel_template=template, **context), status, headers or {}


def _start_arg() -> datetime | None:
    """The `start` query value (YYYY-MM-DDTHH:MM, clinic time), or None."""
    try:
        return datetime.strptime(request.args.get("start", ""), START_FORMAT)
    except ValueError:
        return None


def _when_choices(form, clinic) -> None:
    """Dentist and duration options."""
    form.dentist.choices = [(d.id, agenda.dentist_label(d)) for d in agenda.active_dentists()]
    form.duration.choices = duration_choices(clinic.slot_minutes)


def _span(form) -> tuple[datetime, datetime]:
    """The form's start (clinic time) and end as aware datetimes."""
    starts_at = form.starts_at.data.replace(tzinfo=clinic_tz())
    return starts_at, starts_at + timedelta(minutes=form.duration.data)


def _apply_when_errors(form, errors: dict[str, str]) -> None:
    """Service field names onto the form's fields."""
    apply_service_errors(
        form, {{"ends_at": "duration", "dentist_user_id": "dentist"}.get(k, k): v for k, v in errors.items()}
    )


def _holiday_of(form, clinic) -> str | None:
    """The name of the holiday on the form's start day, if it is one."""
    if form.starts_at.data is None or not FIRST_YEAR <= form.starts_at.data.year <= LAST_YEAR:
        return None
    day = form.starts_at.data.date()
    return settings.holidays_between(day, day, clinic.state).get(day)


def _holiday_confirmed(form, holiday: str | None) -> bool:
    """A holiday needs the confirmation box ticked; without it the box shows the error."""
    if holiday and not form.confirm_holiday.data:
        form.confirm_holiday.errors = [_("Dia de feriado (%(name)s): marque a confirmação.", name=holiday)]
        return False
    return True


def _chosen_patient(patient_id) -> Patient | None:
    """The patient picked in the form (or preset by the link), if it exists."""
    patient_id = positive_int(str(patient_id)) if patient_id is not None else None
    try:
        return patients.get_patient(patient_id) if patient_id else None
    except NotFound:
        return None


@bp.route("/book", methods=["GET", "POST"])
def book():
    """Book a patient into a slot: dentist and start prefilled from the grid, patient by search (or preset)."""
    clinic = settings.current()
    form = BookForm()
    _when_choices(form, clinic)
    if request.method == "GET":
        form.dentist.data = id_arg("dentist")
        form.starts_at.data = _start_arg()
        form.duration.data = clinic.slot_minutes
        form.patient_id.data = id_arg("patient")
    patient = _chosen_patient(form.patient_id.data)
    query = request.args.get("q", "").strip()[:SEARCH_MAX]
    found = patients.search_patients(query, 1, SEARCH_RESULTS).items if query else []
    holiday = _holiday_of(form, clinic)
    if form.validate_on_submit():
        if patient is None:
            form.form_errors.append(_("Escolha o paciente."))
        elif _holiday_confirmed(form, holiday):
            try:
                appointment = agenda.book_appointment(patient.id, form.dentist.data, *_span(form), form.notes.data)
            except ValidationError as exc:
                _apply_when_errors(form, exc.errors)
            except ServiceError as exc:  # an overlap, an inactive dentist or patient
                form.form_errors.append(exc.message)
            else:
                if not is_htmx():
                    flash(_("Consulta marcada."), "success")
                    return redirect(
                        url_for("agenda.day", date=form.starts_at.data.date().isoformat(), booked=appointment.id)
                    )
                return _panel("agenda/_booked.html", headers=CHANGED, booked=_booked_context(appointment.id))
    return _panel("agenda/_book_form.html", form=form, patient=patient, found=found, query=query, holiday=holiday)


@bp.get("/patients")
def patient_search():
    """Patient options for the booking form (accent-insensitive search, active patients)."""
    query = request.args.get("q", "").strip()[:SEARCH_MAX]
    found = patients.search_patients(query, 1, SEARCH_RESULTS).items if query else []
    return render_template("agenda/_patient_options.html", found=found, query=query, patient=None)


def _open_appointment(appointment_id: int) -> Appointment:
    """The appointment, or NotFound (a 404 page)."""
    return agenda.get_appointment(appointment_id)


def _done(appointment: Appointment, message: str):
    """After a change: the message in the panel (HTMX, with the grid's trigger) or back to that day's agenda."""
    day = to_local(appointment.starts_at).date().isoformat()
    if is_htmx():
        return _panel("agenda/_done.html", headers=CHANGED, message=message, day=day)
    flash(message, "success")
    return redirect(url_for("agenda.day", date=day))


@bp.route("/<id:appointment_id>/move", methods=["GET", "POST"])
def move(appointment_id: int):
    """Another time and/or dentist for an open appointment; conflicts show in the form."""
    appointment = _open_appointment(appointment_id)
    clinic = settings.current()
    form = MoveForm()
    _when_choices(form, clinic)
    if request.method == "GET":
        form.dentist.data = appointment.dentist_user_id
        form.starts_at.data = to_local(appointment.starts_at).replace(tzinfo=None)
        form.duration.data = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
        if form.duration.data not in dict(form.duration.choices):
            form.duration.choices.append((form.duration.data, f"{form.duration.data} min"))
    elif form.duration.raw_data and form.duration.raw_data[0].isdigit():
        typed = int(form.duration.raw_data[0])
        if typed not in dict(form.duration.choices) and 5 <= typed <= 480:
            form.duration.choices.append((typed, f"{typed} min"))
    holiday = _holiday_of(form, clinic)
    if holiday and form.starts_at.data.date() == to_local(appointment.starts_at).date():
        holiday = None  # already on that day: moving within it asks nothing new
    if form.validate_on_submit() and _holiday_confirmed(form, holiday):
        try:
            moved = agenda.move_appointment(appointment.id, *_span(form), dentist_user_id=form.dentist.data)
        except ValidationError as exc:
            _apply_when_errors(form, exc.errors)
        except ServiceError as exc:
            form.form_errors.append(exc.message)
        else:
            return _done(moved, _("Consulta remarcada."))
    return _panel("agenda/_move_form.html", form=form, appointment=appointment, holiday=holiday)


@bp.route("/<id:appointment_id>/cancel", methods=["GET", "POST"])
def cancel(appointment_id: int):
    """Cancel an open appointment with a reason (required)."""
    appointment = _open_appointment(appointment_id)
    form = CancelForm()
    if form.validate_on_submit():
        try:
            cancelled = agenda.cancel_appointment(appointment.id, form.reason.data)
        except ValidationError as exc:
            apply_service_errors(form, exc.errors)
        except ServiceError as exc:
            form.form_errors.append(exc.message)
        else:
            return _done(cancelled, _("Consulta cancelada."))
    return _panel("agenda/_cancel_form.html", form=form, appointment=appointment)


@bp.post("/preferences", endpoint="preferences")
def save_preferences():
    """Save how this user's agenda is drawn (density, view), then back to the agenda."""
    form = PreferencesForm()
    if form.validate_on_submit():
        try:
            preferences.save(current_user.id, slot_density=form.slot_density.data, agenda_view=form.agenda_view.data)
        except ValidationError:
            flash(_("Preferência inválida."), "warning")
        else:
            flash(_("Preferências salvas."), "success")
    else:
        flash(_("Preferência inválida."), "warning")
    return redirect(url_for("agenda.day", date=request.form.get("date") or None))


@bp.get("/sheet")
def day_sheet():
    """The printable day of one dentist: times, patients, phones, notes."""
    day, _view, dentist_id, dentists, _prefs = _view_state(remember=False)
    chosen = id_arg("dentist") or dentist_id
    dentist = next((d for d in dentists if d.id == chosen), dentists[0] if dentists else None)
    rows = agenda.appointments_for_day(day, dentist.id) if dentist else []
    holiday = settings.holidays_between(day, day).get(day)
    return render_template(
        "agenda/sheet.html",
        day=day,
        dentist=dentist,
        dentist_name=agenda.dentist_label(dentist) if dentist else "",
        rows=rows,
        holiday=holiday,
        weekday=settings.WEEKDAY_NAMES[day.weekday()],
    )
