"""The cash desk at the patient's side: payments, adjustments, refunds, instalments, receipts and PIX charges."""

from flask import Blueprint

bp = Blueprint("payments", __name__, url_prefix="/payments")

from app.blueprints.payments import routes  # noqa: E402,F401
