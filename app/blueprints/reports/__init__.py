"""The administrator's reports: production, receipts, receivables, missed appointments, new patients, with CSV."""

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

from app.blueprints.reports import routes  # noqa: E402,F401
