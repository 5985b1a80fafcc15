"""Forms of the cash desk; amounts arrive as typed (`1.234,56`) and the services parse and check them."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from app.blueprints.helpers import column_length, vocabulary_choices
from app.models.pacientes import Payment
from app.vocabulary import AdjustmentKind, PaymentMethod

# Money as typed: digits, separators and "R$" fit in 40 characters (parse_money refuses anything longer anyway).
AMOUNT_RENDER = {"inputmode": "decimal", "placeholder": "1.234,56", "autocomplete": "off"}
CASH_METHODS = [m for m in PaymentMethod if m != PaymentMethod.OTHER]  # "outro" marks adjustments


def amount_field(label=None):
    """A money field typed the Brazilian way."""
    return StringField(label or _l("Valor (R$)"), validators=[Length(max=40)], render_kw=AMOUNT_RENDER)


def reason_field(label=None):
    """A mandatory reason, bounded by the payment's reason column."""
    return TextAreaField(
        label or _l("Motivo"), validators=[column_length(Payment, "reason")], render_kw={"rows": 2, "required": True}
    )


class PaymentForm(FlaskForm):
    """Money received for a plan, optionally for one of its instalments."""

    method = SelectField(_l("Forma de pagamento"), choices=vocabulary_choices(CASH_METHODS), validate_choice=False)
    amount = amount_field()
    installment = SelectField(_l("Parcela"), choices=[], validate_choice=False)


class AdjustmentForm(FlaskForm):
    """A discount, write-off or extra charge with its reason."""

    kind = SelectField(_l("Tipo de ajuste"), choices=vocabulary_choices(AdjustmentKind), validate_choice=False)
    amount = amount_field()
    reason = reason_field()


class RefundForm(FlaskForm):
    """The refund of one payment, with its reason."""

    reason = reason_field(_l("Motivo do estorno"))


class InstallmentsForm(FlaskForm):
    """Split an approved plan into monthly instalments."""

    count = StringField(
        _l("Número de parcelas"), validators=[Length(max=3)], render_kw={"inputmode": "numeric", "required": True}
    )
    first_due_date = StringField(
        _l("Primeiro vencimento"), validators=[Length(max=10)], render_kw={"type": "date", "required": True}
    )


def installment_choices(open_installments) -> list[SelectChoice]:
    """The instalment select: none, or one of the open instalments with its due date and open amount."""
    from app.services.clock import format_date, format_money

    return [SelectChoice("", _l("Nenhuma (valor livre)"))] + [
        SelectChoice(
            str(i.number),
            f"{i.number}ª — {format_date(i.due_date)} — {format_money(i.amount_cents - i.paid_cents)}",
        )
        for i in open_installments
    ]
