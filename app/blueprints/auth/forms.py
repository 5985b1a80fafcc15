"""Forms of the auth blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.blueprints.helpers import column_length, new_password_fields
from app.models.users import User

PASSWORD_HINT = _l("Pelo menos 8 caracteres.")


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField(
        _l("Usuário"),
        validators=[DataRequired(_l("Informe o usuário.")), column_length(User, "username")],
        render_kw={"autocomplete": "username", "autofocus": True, "autocapitalize": "none"},
    )
    password = PasswordField(
        _l("Senha"),
        validators=[DataRequired(_l("Informe a senha.")), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class SetupForm(FlaskForm):
    """The clinic's first administrator."""

    full_name = StringField(
        _l("Nome completo"),
        validators=[DataRequired(_l("Informe o nome completo.")), column_length(User, "full_name")],
        render_kw={"autofocus": True},
    )
    username = StringField(
        _l("Usuário"),
        validators=[DataRequired(_l("Escolha um nome de usuário.")), column_length(User, "username")],
        render_kw={"autocomplete": "username", "autocapitalize": "none"},
    )
    email = EmailField(_l("E-mail"), validators=[Optional(), column_length(User, "email")])
    password, confirm = new_password_fields(_l("Senha"), _l("Repita a senha"))


class ChangePasswordForm(FlaskForm):
    """The logged-in user's current and new password."""

    current_password = PasswordField(
        _l("Senha atual"),
        validators=[DataRequired(_l("Informe a senha atual."))],
        render_kw={"autocomplete": "current-password"},
    )
    password, confirm = new_password_fields(_l("Nova senha"), _l("Repita a nova senha"))
