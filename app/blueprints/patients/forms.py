"""Forms of the patients blueprint; the services validate the content, these only bound the sizes."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from app.blueprints.helpers import column_length, vocabulary_choices
from app.models.pacientes import Patient, ToothFinding
from app.services.anamnesis import MAX_TEXT
from app.services.dental import SURFACES
from app.services.patients import EDITABLE
from app.services.validation import UFS
from app.vocabulary import FindingCode, Sex

SEX_CHOICES = [SelectChoice("", _l("Não informado")), *vocabulary_choices(Sex)]
UF_CHOICES = [SelectChoice("", "—")] + [SelectChoice(uf) for uf in sorted(UFS)]
PATIENT_FIELDS = EDITABLE  # the form's fields are exactly what the service lets a user edit


def fits(field: str):
    """The length bound of a patient field, read from its column."""
    return column_length(Patient, field)


class PatientForm(FlaskForm):
    """A patient's registration data."""

    full_name = StringField(_l("Nome completo"), validators=[fits("full_name")], render_kw={"required": True})
    birth_date = StringField(
        _l("Data de nascimento"),
        validators=[Optional(), Length(max=10)],
        render_kw={"type": "date", "max": "2100-12-31"},
    )
    sex = SelectField(_l("Sexo"), choices=SEX_CHOICES, validate_choice=False)
    # CPF, phone and CEP arrive with punctuation, so they are bounded as typed; the service stores them parsed.
    cpf = StringField(
        _l("CPF"), validators=[Length(max=20)], render_kw={"inputmode": "numeric", "placeholder": "000.000.000-00"}
    )
    phone = TelField(_l("Telefone"), validators=[Length(max=20)], render_kw={"placeholder": "(11) 98765-4321"})
    email = EmailField(_l("E-mail"), validators=[fits("email")])
    cep = StringField(
        _l("CEP"), validators=[Length(max=9)], render_kw={"inputmode": "numeric", "placeholder": "00000-000"}
    )
    street = StringField(_l("Logradouro"), validators=[fits("street")])
    number = StringField(_l("Número"), validators=[fits("number")])
    complement = StringField(_l("Complemento"), validators=[fits("complement")])
    district = StringField(_l("Bairro"), validators=[fits("district")])
    city = StringField(_l("Cidade"), validators=[fits("city")])
    state = SelectField(_l("UF"), choices=UF_CHOICES, validate_choice=False)
    notes = TextAreaField(_l("Observações"), validators=[Length(max=5000)], render_kw={"rows": 3})


class DeactivateForm(FlaskForm):
    """The written reason for deactivating a record or an account."""

    reason = TextAreaField(
        _l("Motivo"), validators=[fits("deactivation_reason")], render_kw={"rows": 3, "required": True}
    )


class AnamnesisForm(FlaskForm):
    """The patient's medical history."""

    allergies = TextAreaField(_l("Alergias"), validators=[Length(max=MAX_TEXT)], render_kw={"rows": 3})
    medications = TextAreaField(_l("Medicamentos em uso"), validators=[Length(max=MAX_TEXT)], render_kw={"rows": 3})
    conditions = TextAreaField(
        _l("Condições de saúde"),
        validators=[Length(max=MAX_TEXT)],
        render_kw={"rows": 3, "placeholder": _l("Diabetes, hipertensão, gestação, cardiopatias, coagulação...")},
    )
    notes = TextAreaField(_l("Observações"), validators=[Length(max=MAX_TEXT)], render_kw={"rows": 3})
    complete = BooleanField(_l("Anamnese completa e revisada com o paciente"))


SURFACE_CHOICES = [SelectChoice(letter) for letter in SURFACES]


class FindingForm(FlaskForm):
    """A finding on one tooth of the odontogram; tooth, finding and surfaces are checked by the service."""

    tooth = HiddenField()
    finding = SelectField(_l("Achado"), choices=vocabulary_choices(FindingCode), validate_choice=False)
    surfaces = SelectMultipleField(_l("Faces"), choices=SURFACE_CHOICES, validate_choice=False)
    notes = TextAreaField(_l("Observação"), validators=[column_length(ToothFinding, "notes")], render_kw={"rows": 2})


class ChartItemForm(FlaskForm):
    """A procedure from the catalogue for one tooth, added to the patient's proposed plan."""

    tooth = HiddenField()
    procedure_id = SelectField(_l("Procedimento"), validate_choice=False)
    surfaces = SelectMultipleField(_l("Faces"), choices=SURFACE_CHOICES, validate_choice=False)
