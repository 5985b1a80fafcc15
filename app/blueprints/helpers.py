"""Small helpers the blueprints share: service errors onto forms, page numbers, form data for services."""

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length


def apply_service_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    """Show a service's ValidationError messages beside their fields (form-wide when no such field)."""
    for name, message in errors.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


def page_arg(name: str = "page") -> int:
    """A positive page number from the query string (1 when missing or garbage)."""
    value = request.args.get(name, 1, type=int)
    return value if value and value > 0 else 1


def per_page_arg(default: int, name: str = "per_page") -> int:
    """Rows per page from the query string, between 10 and 100 (`default` when missing or garbage)."""
    value = request.args.get(name, default, type=int) or default
    return min(max(value, 10), 100)


def form_values(form: FlaskForm, names) -> dict:
    """The named fields' data, as a plain dict for a service."""
    return {name: getattr(form, name).data for name in names}


def new_password_fields(label=None, confirm_label=None):
    """A chosen password and its confirmation, for a form's class body: `password, confirm = new_password_fields()`."""
    autocomplete = {"autocomplete": "new-password"}
    password = PasswordField(
        label or _l("Nova senha"),
        validators=[DataRequired(_l("Escolha uma senha.")), Length(max=200)],
        render_kw=autocomplete,
    )
    confirm = PasswordField(
        confirm_label or _l("Repita a senha"),
        validators=[EqualTo("password", _l("As senhas não conferem."))],
        render_kw=autocomplete,
    )
    return password, confirm
