"""Treatment plans on the patient record: create, items, approve, perform, complete, cancel, print the budget.

The plans tab itself is `patients.plans`; this blueprint holds the actions and the printable budget.
"""

from flask import Blueprint

bp = Blueprint("plans", __name__, url_prefix="/plans")

from app.blueprints.plans import routes  # noqa: E402,F401
