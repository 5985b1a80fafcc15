"""GET /metrics: the operation metrics (app/metrics.py) in Prometheus' text format, for a clinic's monitoring.

Administrators read it logged in; a monitoring system sends `Authorization: Bearer <METRICS_TOKEN>`.
app/security.py checks both, and answers anyone else 401 (403 to a logged-in user of another role).
"""

from flask import Blueprint, Response, current_app

from app import metrics

bp = Blueprint("metrics", __name__)


@bp.get("/metrics", endpoint="index")
def index():
    """Request counts and durations per route (every worker's), the audit outboxes' depth and relay lag."""
    body, content_type = metrics.exposition(current_app)
    return Response(body, content_type=content_type)
