"""Forms of the admin blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

ROLE_CHOICES = [
    SelectChoice("receptionist", _l("Recepcionista")),
    SelectChoice("dentist", _l("Dentista")),
    SelectChoice("admin", _l("Administrador")),
]


class AccountForm(FlaskForm):
    """Name, e-mail, role and CRO of a staff account."""

    full_name = StringField(_l("Nome completo"), validators=[Length(max=120)], render_kw={"required": True})
    email = EmailField(_l("E-mail"), validators=[Length(max=254)])
    role = SelectField(_l("Papel"), choices=ROLE_CHOICES, validate_choice=False)
    cro = StringField(_l("CRO"), validators=[Length(max=20)], render_kw={"placeholder": "SP-12345"})


class NewAccountForm(AccountForm):
    """A new staff account: the fields above plus username and initial password."""

    username = StringField(
        _l("Usuário"),
        validators=[Length(max=64)],
        render_kw={"required": True, "autocapitalize": "none", "autocomplete": "off"},
    )
    password = PasswordField(
        _l("Senha inicial"), validators=[Length(max=200)], render_kw={"required": True, "autocomplete": "new-password"}
    )
    confirm = PasswordField(
        _l("Repita a senha"),
        validators=[EqualTo("password", _l("As senhas não conferem."))],
        render_kw={"autocomplete": "new-password"},
    )


class PasswordResetForm(FlaskForm):
    """A new password chosen by the administrator."""

    password = PasswordField(
        _l("Nova senha"),
        validators=[DataRequired(_l("Escolha a nova senha.")), Length(max=200)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repita a nova senha"),
        validators=[EqualTo("password", _l("As senhas não conferem."))],
        render_kw={"autocomplete": "new-password"},
    )


class ReasonForm(FlaskForm):
    """The written reason for deactivating an account."""

    reason = TextAreaField(_l("Motivo"), validators=[Length(max=500)], render_kw={"rows": 3, "required": True})
