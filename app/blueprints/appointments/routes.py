"""Routes of the appointments blueprint: set an appointment's status from any worklist.

An HTMX request gets the appointment's line re-rendered in the shape of the page that asked (`view`: the
dashboard's worklist row, the confirmations row or a plain card) and `HX-Trigger: appointment-changed`, so other
parts of the page can refresh. A refused change answers the same line showing why, without the trigger. Without
HTMX the message is flashed and the browser goes back to `next`.
"""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.appointments import bp
from app.blueprints.appointments.forms import StatusForm
from app.security import is_htmx, is_safe_next
from app.services import agenda, anamnesis, contacts
from app.services.errors import ServiceError, ValidationError
from app.vocabulary import AppointmentStatus, Role

CHANGED_EVENT = "appointment-changed"


def worklist_context(appointment) -> dict:
    """What the dashboard's worklist row needs for one appointment."""
    return {
        "a": appointment,
        "own_only": current_user.role == Role.DENTIST,
        "warnings": anamnesis.anamnesis_warnings([appointment.patient_id]),
        "dentists": agenda.dentist_names([appointment.dentist_user_id]),
    }


def _partial(view: str, appointment_id: int, error: str | None = None) -> str:
    """The appointment's line as the asking page draws it, with an error message if the change was refused."""
    appointment = agenda.get_appointment(appointment_id)
    if view == "confirmation":
        return render_template("confirmations/_row.html", row=contacts.confirmation_rows([appointment])[0], error=error)
    if view == "worklist":
        return render_template("main/_worklist_row.html", error=error, **worklist_context(appointment))
    dentists = agenda.dentist_names([appointment.dentist_user_id])
    return render_template("appointments/_card.html", a=appointment, dentists=dentists, error=error)


@bp.post("/<id:appointment_id>/status")
def set_status(appointment_id: int):
    """Move an appointment to the posted status through agenda.set_appointment_status."""
    agenda.get_appointment(appointment_id)  # an unknown appointment is a 404 before the form is looked at
    form = StatusForm()
    error = None
    if not form.validate_on_submit():
        error = _("Pedido inválido: recarregue a página e tente de novo.")
    else:
        try:
            agenda.set_appointment_status(appointment_id, form.status.data)
        except ValidationError as exc:
            error = " ".join(exc.errors.values())
        except ServiceError as exc:
            error = exc.message
    if is_htmx():
        body = _partial(form.view.data or "", appointment_id, error)
        # A refusal is the same line with its reason, swapped in place like a success (an HTTP error status
        # would not be swapped by HTMX, and the browser would report it as a failed request).
        return body, 200, {} if error else {"HX-Trigger": CHANGED_EVENT}
    if error:
        flash(error, "error")
    else:
        label = AppointmentStatus.label_of(form.status.data)
        flash(_("Consulta marcada como %(status)s.", status=label), "success")
    target = form.next.data
    return redirect(target if is_safe_next(target) else url_for("main.index"))


@bp.app_template_global()
def appointment_next_statuses(appointment) -> list[str]:
    """The statuses a page may offer as buttons for an appointment now (agenda.next_statuses decides)."""
    return agenda.next_statuses(appointment)
