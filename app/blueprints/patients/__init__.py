"""Patients: list and search, register, edit, deactivate, and the patient record with its tabs."""

from flask import Blueprint

bp = Blueprint("patients", __name__, url_prefix="/patients")

from app.blueprints.patients import chart, clinical, routes  # noqa: E402,F401
