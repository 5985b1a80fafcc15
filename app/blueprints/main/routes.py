"""Routes of the main blueprint."""

from flask import render_template

from app.blueprints.main import bp


@bp.get("/")
def index():
    """The home page."""
    return render_template("main/index.html")
