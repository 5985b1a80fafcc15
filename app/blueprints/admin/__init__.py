"""Administration: staff accounts, the audit log viewer, the system page (admins only, see app/security.py)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from app.blueprints.admin import routes  # noqa: E402,F401
