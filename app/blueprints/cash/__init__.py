"""The cash desk's daily closing (administrators): the day's payments and refunds, closing, printable sheet."""

from flask import Blueprint

bp = Blueprint("cash", __name__, url_prefix="/cash")

from app.blueprints.cash import routes  # noqa: E402,F401
