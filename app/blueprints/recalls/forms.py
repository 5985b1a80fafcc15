"""Forms of the recalls blueprint; the recalls service validates the content, these only bound the sizes."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import Length

from app.blueprints.helpers import column_length, vocabulary_choices
from app.models.pacientes import Recall, RecallAttempt
from app.vocabulary import RecallOutcome


class AttemptForm(FlaskForm):
    """One call-back attempt: its outcome and a short note."""

    outcome = SelectField(_l("Resultado"), choices=vocabulary_choices(RecallOutcome), validate_choice=False)
    notes = StringField(_l("Observação"), validators=[column_length(RecallAttempt, "notes")])
    next = HiddenField(validators=[Length(max=500)])


class RecallForm(FlaskForm):
    """A recall for a patient: when to call back, and why."""

    due_date = StringField(
        _l("Data do retorno"), validators=[Length(max=10)], render_kw={"type": "date", "required": True}
    )
    reason = StringField(_l("Motivo"), validators=[column_length(Recall, "reason")], render_kw={"required": True})
