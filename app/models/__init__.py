"""All models, one module per bind: the bind of a table is its file."""

from app.models import history, pacientes, users  # noqa: F401
