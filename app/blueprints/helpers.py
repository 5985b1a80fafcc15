"""Small helpers the blueprints share: service errors onto forms, query-string values, form data for services."""

from collections.abc import Iterable
from datetime import date

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from app.edge import page_number, positive_int, query_date, rows_per_page
from app.services.validation import column_limit
from app.vocabulary import Vocabulary


def apply_service_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    """Show a service's ValidationError messages beside their fields (form-wide when no such field)."""
    for name, message in errors.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


def vocabulary_choices(members: Iterable[Vocabulary]) -> list[SelectChoice]:
    """Select options for vocabulary members, in the order given: the stored value and the capitalised label."""
    return [SelectChoice(member.value, member.capitalised_label) for member in members]


def page_arg(name: str = "page") -> int:
    """A page number from the query string (1 when missing, garbage or silly: see app.edge.page_number)."""
    return page_number(request.args.get(name))


def per_page_arg(default: int, name: str = "per_page") -> int:
    """Rows per page from the query string, between 10 and 100 (`default` when missing or garbage)."""
    return rows_per_page(request.args.get(name), default)


def id_arg(name: str) -> int | None:
    """An optional id filter from the query string (None when missing, garbage or impossible)."""
    return positive_int(request.args.get(name))


def date_arg(name: str) -> date | None:
    """An optional aaaa-mm-dd date from the query string (None when missing, garbage or out of range)."""
    return query_date(request.args.get(name))


def form_values(form: FlaskForm, names) -> dict:
    """The named fields' data, as a plain dict for a service."""
    return {name: getattr(form, name).data for name in names}


def column_length(model, field: str) -> Length:
    """A form field's length bound read from the model column it is stored in, never typed again."""
    limit = column_limit(model, field)
    if limit is None:
        raise ValueError(f"{model.__name__}.{field} has no length limit")
    return Length(max=limit)


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
