"""Forms of the admin blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from app.blueprints.helpers import column_length, new_password_fields, vocabulary_choices
from app.models.pacientes import ClinicSettings
from app.models.users import User
from app.services.settings import PAPER_SIZES, SLOT_CHOICES, WEEKDAY_NAMES, WEEKDAYS
from app.services.validation import UFS
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


class SettingsForm(FlaskForm):
    """The clinic's settings: header of printed pages, opening hours, message templates, PIX data.

    Opening hours are seven rows of fields `hours_<weekday>_opens`, `_closes` and `_closed` (Monday = 0), added
    below the class; the settings service validates every value (this form only carries them).
    """

    name = StringField(_l("Nome da clínica"), validators=[column_length(ClinicSettings, "name")])
    cnpj = StringField(_l("CNPJ"), render_kw={"placeholder": "11.222.333/0001-81", "inputmode": "text"})
    address = StringField(_l("Endereço"), validators=[column_length(ClinicSettings, "address")])
    phone = StringField(_l("Telefone"), render_kw={"placeholder": "(11) 3333-4444", "inputmode": "tel"})
    state = SelectField(_l("Estado (UF)"), choices=[SelectChoice(uf, uf) for uf in sorted(UFS)], validate_choice=False)
    slot_minutes = SelectField(
        _l("Duração do horário na agenda"),
        choices=[SelectChoice(str(m), f"{m} min") for m in SLOT_CHOICES],
        validate_choice=False,
    )
    paper_size = SelectField(
        _l("Papel dos documentos"), choices=[SelectChoice(size, size) for size in PAPER_SIZES], validate_choice=False
    )
    confirmation_template = TextAreaField(_l("Mensagem de confirmação (WhatsApp)"), render_kw={"rows": 3})
    recall_template = TextAreaField(_l("Mensagem de retorno (WhatsApp)"), render_kw={"rows": 3})
    pix_key = StringField(_l("Chave PIX"), validators=[column_length(ClinicSettings, "pix_key")])
    merchant_name = StringField(
        _l("Nome do recebedor (PIX, até 25 caracteres)"), validators=[column_length(ClinicSettings, "merchant_name")]
    )
    merchant_city = StringField(
        _l("Cidade do recebedor (PIX, até 15 caracteres)"), validators=[column_length(ClinicSettings, "merchant_city")]
    )

    def hours_rows(self):
        """(weekday name, opens field, closes field, closed field) for each weekday, Monday first."""
        return [
            (WEEKDAY_NAMES[day], self[f"hours_{day}_opens"], self[f"hours_{day}_closes"], self[f"hours_{day}_closed"])
            for day in WEEKDAYS
        ]


for _day in WEEKDAYS:
    setattr(SettingsForm, f"hours_{_day}_opens", StringField(_l("Abre"), render_kw={"type": "time"}))
    setattr(SettingsForm, f"hours_{_day}_closes", StringField(_l("Fecha"), render_kw={"type": "time"}))
    setattr(SettingsForm, f"hours_{_day}_closed", BooleanField(_l("Fechado")))
