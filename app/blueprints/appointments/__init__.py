"""Appointments: the status endpoint every worklist posts to (confirmed, arrived, attended, missed)."""

from flask import Blueprint

bp = Blueprint("appointments", __name__, url_prefix="/appointments")

from app.blueprints.appointments import routes  # noqa: E402,F401
