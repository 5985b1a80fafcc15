"""Forms of the procedure catalogue."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice

from app.blueprints.helpers import column_length, vocabulary_choices
from app.models.pacientes import Procedure
from app.services.procedures import result_findings

MONEY_INPUT = {"inputmode": "decimal", "autocomplete": "off", "placeholder": "1.234,56"}


def finding_choices() -> list[SelectChoice]:
    """ "Nothing" first, then the findings a performed procedure can leave on the chart."""
    return [SelectChoice("", _l("Nada (não altera o odontograma)")), *vocabulary_choices(result_findings())]


class ProcedureForm(FlaskForm):
    """Code, name, default price (typed as 1.234,56) and the chart finding of a catalogue procedure."""

    code = StringField(
        _l("Código"),
        validators=[column_length(Procedure, "code")],
        render_kw={"required": True, "autocapitalize": "characters", "autocomplete": "off"},
    )
    name = StringField(_l("Nome"), validators=[column_length(Procedure, "name")], render_kw={"required": True})
    default_price = StringField(_l("Preço padrão (R$)"), render_kw={**MONEY_INPUT, "required": True})
    finding = SelectField(
        _l("Registra no odontograma quando realizado"), choices=finding_choices, validate_choice=False
    )
