"""The procedure catalogue (admins only, see app/security.py): list with search, create, edit, (de)activate."""

from flask import Blueprint

bp = Blueprint("procedures", __name__, url_prefix="/admin/procedures")

from app.blueprints.procedures import routes  # noqa: E402,F401
