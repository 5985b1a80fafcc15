"""WSGI entry point: `gunicorn wsgi:app` or `flask --app wsgi ...`."""

import os

from app import create_app
from app.db.relay import relay_at_startup

app = create_app()
if not os.environ.get("FLASK_RUN_FROM_CLI"):
    # Server start: relay what a previous process left in the outboxes. CLI commands (and
    # `flask db upgrade -x bind=...`, which must not touch the other files) skip this.
    relay_at_startup(app)
