"""Forms of the admin blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from app.blueprints.helpers import column_length, new_password_fields
from app.models.users import User

ROLE_CHOICES = [
    SelectChoice("receptionist", _l("Recepcionista")),
    SelectChoice("dentist", _l("Dentista")),
    SelectChoice("admin", _l("Administrador")),
]


class AccountForm(FlaskForm):
    """Name, e-mail, role and CRO of a staff account."""

    full_name = StringField(
        _l("Nome completo"), validators=[column_length(User, "full_name")], render_kw={"required": True}
    )
    email = EmailField(_l("E-mail"), validators=[column_length(User, "email")])
    role = SelectField(_l("Papel"), choices=ROLE_CHOICES, validate_choice=False)
    cro = StringField(_l("CRO"), validators=[column_length(User, "cro")], render_kw={"placeholder": "SP-12345"})


class NewAccountForm(AccountForm):
    """A new staff account: the fields above plus username and initial password."""

    username = StringField(
        _l("Usuário"),
        validators=[column_length(User, "username")],
        render_kw={"required": True, "autocapitalize": "none", "autocomplete": "off"},
    )
    password, confirm = new_password_fields(_l("Senha inicial"), _l("Repita a senha"))


class PasswordResetForm(FlaskForm):
    """A new password chosen by the administrator."""

    password, confirm = new_password_fields(_l("Nova senha"), _l("Repita a nova senha"))


class ReasonForm(FlaskForm):
    """The written reason for deactivating an account."""

    reason = TextAreaField(
        _l("Motivo"), validators=[column_length(User, "deactivation_reason")], render_kw={"rows": 3, "required": True}
    )
