"""Recalls: the month's call-back list, contact attempts, and setting a recall on a patient's record."""

from flask import Blueprint

bp = Blueprint("recalls", __name__, url_prefix="/recalls")

from app.blueprints.recalls import routes  # noqa: E402,F401
