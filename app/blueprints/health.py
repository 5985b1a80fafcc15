"""GET /healthz: {"status": "ok"} or 503, revealing nothing else to anonymous callers."""

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Every bind answers a trivial query and has been migrated."""
    try:
        for engine in db.engines.values():
            with engine.connect() as conn:
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    except SQLAlchemyError:
        return jsonify(status="unavailable"), 503
    return jsonify(status="ok")
