"""Routes of the confirmations blueprint: the next clinic day's list and recording a contact attempt.

Opening a WhatsApp link posts a contact attempt ('message_sent') through HTMX while the browser follows the
link to wa.me in a new tab; "Não confirmou" posts 'not_confirmed'; "Confirmado" goes to the appointments
blueprint's status endpoint. Each answers with the re-rendered row.
"""

from datetime import timedelta

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from app.blueprints.appointments.routes import CHANGED_EVENT
from app.blueprints.confirmations import bp
from app.blueprints.confirmations.forms import ContactForm
from app.blueprints.helpers import date_arg
from app.security import is_htmx
from app.services import agenda, contacts, settings
from app.services.clock import clinic_day
from app.services.errors import ServiceError, ValidationError


@bp.get("")
def index():
    """The next clinic day's booked appointments (or `?date=`), each with its phone, link and contacts."""
    day = date_arg("date") or contacts.next_clinic_day()
    rows = contacts.confirmations_for(day)
    return render_template(
        "confirmations/index.html",
        day=day,
        weekday=settings.WEEKDAY_NAMES[day.weekday()],
        rows=rows,
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        holiday=settings.holidays_between(day, day).get(day),
        closed=settings.current().hours_on(day) is None,
    )


@bp.post("/<id:appointment_id>/contacts")
def contact(appointment_id: int):
    """Record a contact attempt; HTMX gets the row back, a plain post goes back to the list."""
    appointment = agenda.get_appointment(appointment_id)  # an unknown appointment is a 404 before the form
    form = ContactForm()
    error = None
    if not form.validate_on_submit():
        error = _("Pedido inválido: recarregue a página e tente de novo.")
    else:
        try:
            contacts.record_contact(appointment_id, form.outcome.data)
        except ValidationError as exc:
            error = " ".join(exc.errors.values())
        except ServiceError as exc:
            error = exc.message
    if is_htmx():
        body = render_template("confirmations/_row.html", row=contacts.confirmation_rows([appointment])[0], error=error)
        # A refusal is the same line with its reason, swapped in place like a success (an HTTP error status
        # would not be swapped by HTMX, and the browser would report it as a failed request).
        return body, 200, {} if error else {"HX-Trigger": CHANGED_EVENT}
    flash(error or _("Contato registrado."), "error" if error else "success")
    return redirect(url_for("confirmations.index", date=clinic_day(appointment.starts_at).isoformat()))
