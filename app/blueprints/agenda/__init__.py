"""The agenda: day and week grids, booking, moving and cancelling appointments, the printable day sheet."""

from flask import Blueprint

bp = Blueprint("agenda", __name__, url_prefix="/agenda")

from app.blueprints.agenda import routes  # noqa: E402,F401
