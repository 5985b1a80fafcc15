"""Routes of the main blueprint: the dashboard at `/`, the day's worklist."""

from flask import render_template
from flask_login import current_user

from app.blueprints.main import bp
from app.db.types import utcnow
from app.services import agenda, contacts, recalls
from app.vocabulary import AppointmentStatus


@bp.get("/")
def index():
    """Today's appointments in the user's scope (agenda.today_for decides) with status buttons, who is waiting,
    anamnesis warnings, the next clinic day's unconfirmed count and the recalls due this week."""
    sheet = agenda.today_for(current_user.id, current_user.role)
    waiting = sorted(
        (a for a in sheet.appointments if a.status == AppointmentStatus.ARRIVED),
        key=lambda a: a.arrived_at or a.starts_at,
    )
    next_day = contacts.next_clinic_day(sheet.day)
    return render_template(
        "main/index.html",
        today=sheet.day,
        now=utcnow(),
        own_only=sheet.own_only,
        appointments=sheet.appointments,
        warnings=sheet.warnings,
        dentists=sheet.dentists,
        waiting=waiting,
        next_day=next_day,
        unconfirmed=contacts.unconfirmed_count(next_day),
        week_recalls=recalls.due_this_week(sheet.day),
    )
