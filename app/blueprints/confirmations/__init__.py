"""Confirmations: the next clinic day's appointments, a WhatsApp link each, contact attempts, confirm or not."""

from flask import Blueprint

bp = Blueprint("confirmations", __name__, url_prefix="/agenda/confirmations")

from app.blueprints.confirmations import routes  # noqa: E402,F401
