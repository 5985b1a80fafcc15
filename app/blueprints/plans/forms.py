"""Forms of treatment plans."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from app.blueprints.helpers import column_length
from app.models.pacientes import TreatmentItem, TreatmentPlan
from app.services.clock import format_money

MONEY_INPUT = {"inputmode": "decimal", "autocomplete": "off"}


def money_text(cents: int) -> str:
    """`1.234,56`: cents as a person types them into a price field."""
    return format_money(cents).removeprefix("R$").strip()


class NewPlanForm(FlaskForm):
    """A new proposed plan: its title and, when a non-dentist opens it, the dentist responsible."""

    title = StringField(
        _l("Título do plano"),
        validators=[column_length(TreatmentPlan, "title")],
        render_kw={"placeholder": _l("Por exemplo: Tratamento restaurador")},
    )
    dentist_user_id = SelectField(_l("Dentista responsável"), validate_choice=False)

    def set_dentists(self, dentists) -> None:
        """Offer the active dentists."""
        self.dentist_user_id.choices = [SelectChoice(str(d.id), d.full_name) for d in dentists]


class ItemFields(FlaskForm):
    """Tooth (FDI, optional), surfaces and price of a plan item; the price is typed as 1.234,56."""

    tooth = StringField(
        _l("Dente"), render_kw={"inputmode": "numeric", "placeholder": "ex.: 36", "autocomplete": "off"}
    )
    surfaces = StringField(
        _l("Faces"),
        validators=[column_length(TreatmentItem, "surfaces")],
        render_kw={"placeholder": "ex.: MOD", "autocapitalize": "characters", "autocomplete": "off"},
    )
    price = StringField(_l("Valor (R$)"), render_kw=MONEY_INPUT)


class AddItemForm(ItemFields):
    """A catalogue procedure for a proposed plan; an empty price takes the catalogue's."""

    procedure_id = SelectField(_l("Procedimento"), validate_choice=False)
    price = StringField(_l("Valor (R$)"), render_kw={**MONEY_INPUT, "placeholder": _l("preço do catálogo")})

    def set_procedures(self, procedures) -> None:
        """Offer the active catalogue; each option carries its price for the price field (app.js)."""
        self.procedure_id.choices = [
            SelectChoice(
                str(p.id),
                f"{p.code} · {p.name} · {format_money(p.default_price_cents)}",
                {"data-price": money_text(p.default_price_cents)},
            )
            for p in procedures
        ]


class CancelPlanForm(FlaskForm):
    """The written reason for cancelling a proposed plan."""

    reason = TextAreaField(
        _l("Motivo do cancelamento"),
        validators=[column_length(TreatmentPlan, "cancellation_reason")],
        render_kw={"rows": 3, "required": True},
    )
