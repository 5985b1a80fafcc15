"""Forms of the clinical tabs (notes and documents); the services check the content, these bound the sizes."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, Form, FormField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from app.services.clock import clinic_day
from app.services.documents import MAX_DIRECTIONS, MAX_INDICATION, MAX_NAME, MAX_ROWS
from app.services.notes import MAX_TEXT

BLANK_ROWS = 5  # rows a prescription or exam request starts with; blank ones are ignored
MORE_ROWS = 3  # rows "Mais linhas" adds


class NoteForm(FlaskForm):
    """A clinical note, optionally about one of today's appointments and/or an item of an approved plan."""

    text = TextAreaField(_l("Evolução"), validators=[Length(max=MAX_TEXT)], render_kw={"rows": 5, "required": True})
    appointment_id = SelectField(_l("Consulta de hoje"), choices=[], validate_choice=False)
    treatment_item_id = SelectField(_l("Item do plano"), choices=[], validate_choice=False)


class CorrectionForm(FlaskForm):
    """The corrected text of a note (a new note that references the old one)."""

    text = TextAreaField(
        _l("Texto corrigido"), validators=[Length(max=MAX_TEXT)], render_kw={"rows": 6, "required": True}
    )


class MedicationForm(Form):
    """One medication of a prescription (a row of the repeating group; no CSRF of its own)."""

    name = StringField(_l("Medicamento"), validators=[Length(max=MAX_NAME)])
    dose = StringField(_l("Dose"), validators=[Length(max=MAX_NAME)], render_kw={"placeholder": _l("500 mg")})
    directions = StringField(
        _l("Posologia"),
        validators=[Length(max=MAX_DIRECTIONS)],
        render_kw={"placeholder": _l("1 comprimido de 8 em 8 horas por 7 dias")},
    )


class PrescriptionForm(FlaskForm):
    """A prescription (receituário): up to MAX_ROWS medications."""

    medications = FieldList(FormField(MedicationForm), min_entries=BLANK_ROWS, max_entries=MAX_ROWS)


class CertificateForm(FlaskForm):
    """A certificate (atestado): date, days of absence or attendance hours, CID only with consent."""

    day = StringField(_l("Data"), validators=[Length(max=10)], render_kw={"type": "date", "required": True})
    days = StringField(
        _l("Dias de afastamento"), validators=[Length(max=4)], render_kw={"inputmode": "numeric", "size": 4}
    )
    start = StringField(_l("Compareceu das"), validators=[Length(max=5)], render_kw={"type": "time"})
    end = StringField(_l("às"), validators=[Length(max=5)], render_kw={"type": "time"})
    cid = StringField(_l("CID"), validators=[Length(max=10)], render_kw={"placeholder": "K08.1", "size": 8})
    cid_consent = BooleanField(_l("O paciente autoriza constar o CID no atestado"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_submitted() and not self.day.data:
            self.day.data = clinic_day().isoformat()


class ExamRequestForm(FlaskForm):
    """An exam request (pedido de exame): up to MAX_ROWS exams and the clinical indication."""

    exams = FieldList(
        StringField(_l("Exame"), validators=[Length(max=MAX_NAME)]), min_entries=BLANK_ROWS, max_entries=MAX_ROWS
    )
    indication = TextAreaField(_l("Indicação clínica"), validators=[Length(max=MAX_INDICATION)], render_kw={"rows": 3})
