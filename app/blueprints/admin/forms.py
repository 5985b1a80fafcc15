"""Forms of the admin blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, TextAreaField

from app.blueprints.helpers import column_length, new_password_fields, vocabulary_choices
from app.models.users import User
from app.vocabulary import Role

# Least privilege first: a new account starts as a receptionist unless the administrator picks otherwise.
ROLE_ORDER = (Role.RECEPTIONIST, Role.DENTIST, Role.ADMIN)


class AccountForm(FlaskForm):
    """Name, e-mail, role and CRO of a staff account."""

    full_name = StringField(
        _l("Nome completo"), validators=[column_length(User, "full_name")], render_kw={"required": True}
    )
    email = EmailField(_l("E-mail"), validators=[column_length(User, "email")])
    role = SelectField(_l("Papel"), choices=vocabulary_choices(ROLE_ORDER), validate_choice=False)
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
