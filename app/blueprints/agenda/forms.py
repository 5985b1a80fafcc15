"""Forms of the agenda; the agenda service decides what may be booked, these only parse and bound the input."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from app.blueprints.helpers import column_length, vocabulary_choices
from app.models.pacientes import Appointment
from app.services.agenda import MAX_NOTES
from app.vocabulary import AgendaView, SlotDensity

DURATIONS = (15, 20, 30, 40, 45, 60, 90, 120, 180, 240)
START_FORMAT = "%Y-%m-%dT%H:%M"
FIRST_YEAR, LAST_YEAR = 2000, 2100


def duration_choices(slot_minutes: int) -> list[tuple[int, str]]:
    """Visit lengths offered, the clinic's slot length among them."""
    return [
        (m, f"{m} min" if m < 60 else f"{m // 60}h{m % 60:02d}".replace("h00", "h"))
        for m in sorted({*DURATIONS, slot_minutes})
    ]


class _WhenForm(FlaskForm):
    """Start, length and dentist of a visit."""

    dentist = SelectField(_l("Dentista"), coerce=int, validators=[InputRequired(_l("Escolha o dentista."))])
    starts_at = DateTimeLocalField(
        _l("Início"), format=START_FORMAT, validators=[DataRequired(_l("Informe data e hora do início."))]
    )
    duration = SelectField(_l("Duração"), coerce=int, validators=[InputRequired(_l("Escolha a duração."))])
    confirm_holiday = BooleanField(_l("Confirmo a marcação no feriado"))

    def validate_starts_at(self, field) -> None:
        """A year an agenda can hold (the service judges past and opening hours)."""
        if field.data is not None and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
            raise ValidationError(_l("Data fora do intervalo aceito."))


class BookForm(_WhenForm):
    """Book a patient: the patient is picked from the search results (a radio named patient_id)."""

    patient_id = HiddenField()
    notes = TextAreaField(_l("Observações"), validators=[Optional(), Length(max=MAX_NOTES)])


class MoveForm(_WhenForm):
    """Another time and/or dentist for an open appointment."""


class CancelForm(FlaskForm):
    """Cancel with a written reason."""

    reason = TextAreaField(
        _l("Motivo do cancelamento"),
        validators=[column_length(Appointment, "cancellation_reason")],
        render_kw={"required": True, "rows": 2},
    )


class PreferencesForm(FlaskForm):
    """How the agenda is drawn for this user."""

    slot_density = SelectField(_l("Densidade"), choices=vocabulary_choices(SlotDensity))
    agenda_view = SelectField(_l("Visão"), choices=vocabulary_choices(AgendaView))
