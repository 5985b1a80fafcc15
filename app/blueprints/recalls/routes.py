"""Routes of the recalls blueprint: the call-back list, recording an attempt, setting a recall on a patient."""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from app.blueprints.helpers import page_arg, per_page_arg
from app.blueprints.recalls import bp
from app.blueprints.recalls.forms import AttemptForm, RecallForm
from app.security import is_safe_next
from app.services import patients, recalls
from app.services.clock import clinic_day, format_date
from app.services.errors import NotFound, ServiceError, ValidationError


def _first_error(form) -> str:
    """A form's first error message, for a flash (the list shows many forms, one message is enough)."""
    for messages in form.errors.values():
        if messages:
            return str(messages[0])
    return _("Pedido inválido: recarregue a página e tente de novo.")


@bp.get("")
def index():
    """Open recalls due this month or overdue, oldest first, paginated, each with its last attempt."""
    page = recalls.call_list(page_arg(), per_page_arg(25))
    return render_template("recalls/index.html", page=page, today=clinic_day(), attempt_form=AttemptForm())


@bp.post("/<id:recall_id>/attempts")
def attempt(recall_id: int):
    """Record a call-back attempt; back to the list (the page it was on) with what happened."""
    recalls.get_recall(recall_id)  # an unknown recall is a 404 before the form is looked at
    form = AttemptForm()
    if form.validate_on_submit():
        try:
            recalls.record_attempt(recall_id, form.outcome.data, form.notes.data)
        except NotFound:
            raise
        except ValidationError as exc:
            flash(" ".join(exc.errors.values()), "error")
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(_("Tentativa de contato registrada."), "success")
    else:
        flash(_first_error(form), "error")
    target = form.next.data
    return redirect(target if is_safe_next(target) else url_for("recalls.index"))


@bp.post("/patient/<id:patient_id>")
def create(patient_id: int):
    """Put a patient on the call-back list for a date (fields `due_date` AAAA-MM-DD and `reason`)."""
    patients.get_patient(patient_id)  # an unknown patient is a 404 before the form is looked at
    form = RecallForm()
    if form.validate_on_submit():
        try:
            recall = recalls.create_recall(patient_id, form.due_date.data, form.reason.data)
        except NotFound:
            raise
        except ValidationError as exc:
            flash(" ".join(exc.errors.values()), "error")
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(_("Retorno marcado para %(day)s.", day=format_date(recall.due_date)), "success")
    else:
        flash(_first_error(form), "error")
    return redirect(url_for("patients.appointments", patient_id=patient_id))
