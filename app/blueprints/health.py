"""GET /healthz: {"status": "ok"} or 503, revealing nothing else to anonymous callers."""

from flask import Blueprint, jsonify

from app.services.system import databases_ready

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Every bind answers a trivial query and has been migrated."""
    if not databases_ready():
        return jsonify(status="unavailable"), 503
    return jsonify(status="ok")
