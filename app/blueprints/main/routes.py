"""Routes of the main blueprint: the dashboard at `/`."""

from flask import render_template
from flask_login import current_user

from app.blueprints.main import bp
from app.services import agenda, anamnesis
from app.services.clock import clinic_day
from app.vocabulary import Role


@bp.get("/")
def index():
    """Today's appointments (a dentist sees their own, everyone else the whole clinic), anamnesis warnings, search."""
    today = clinic_day()
    own_only = current_user.role == Role.DENTIST
    rows = agenda.appointments_for_day(today, current_user.id if own_only else None)
    return render_template(
        "main/index.html",
        today=today,
        own_only=own_only,
        appointments=rows,
        warnings=anamnesis.anamnesis_warnings(a.patient_id for a in rows),
        dentists=agenda.dentist_names(a.dentist_user_id for a in rows),
    )
