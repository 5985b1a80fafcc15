"""Routes of the main blueprint: the dashboard at `/`."""

from flask import render_template
from flask_login import current_user

from app.blueprints.main import bp
from app.services import agenda


@bp.get("/")
def index():
    """Today's appointments in the user's scope (agenda.today_for decides), anamnesis warnings, search."""
    sheet = agenda.today_for(current_user.id, current_user.role)
    return render_template(
        "main/index.html",
        today=sheet.day,
        own_only=sheet.own_only,
        appointments=sheet.appointments,
        warnings=sheet.warnings,
        dentists=sheet.dentists,
    )
