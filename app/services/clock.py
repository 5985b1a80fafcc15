"""Time in the clinic: stored in UTC, shown and reasoned about in the clinic's time zone; dates and money
written the Brazilian way (`pt_BR`). The numeric date and time forms (dd/mm/aaaa, HH:MM) are the same in every
locale and are written directly (a page of the agenda writes hundreds of them); Babel writes money and parses it."""

import calendar
import re
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.numbers import NumberFormatError, format_currency, parse_decimal
from flask import current_app
from num2words import num2words

from app.db.types import utcnow
from app.services.errors import ValidationError

LOCALE = "pt_BR"
MAX_PRICE_CENTS = 100_000_000  # R$ 1.000.000,00: any amount above is a typo


def clinic_tz() -> ZoneInfo:
    """The clinic's time zone (CLINIC_TIMEZONE, America/Sao_Paulo by default)."""
    return ZoneInfo(current_app.config.get("CLINIC_TIMEZONE", "America/Sao_Paulo"))


def to_local(moment: datetime) -> datetime:
    """A UTC instant in the clinic's time zone."""
    return moment.astimezone(clinic_tz())


def clinic_day(moment: datetime | None = None) -> date:
    """The clinic's calendar day of an instant (now by default)."""
    return to_local(moment or utcnow()).date()


def format_datetime(moment: datetime) -> str:
    """dd/mm/aaaa às HH:MM in the clinic's time zone."""
    local = to_local(moment)
    return f"{format_date(local.date())} às {local:%H:%M}"


def format_day_time(moment: datetime) -> str:
    """dd/mm às HH:MM in the clinic's time zone, for short summaries."""
    local = to_local(moment)
    return f"{local:%d/%m} às {local:%H:%M}"


def format_day_month(moment: datetime) -> str:
    """dd/mm in the clinic's time zone."""
    return f"{to_local(moment):%d/%m}"


def format_time(moment: datetime) -> str:
    """HH:MM in the clinic's time zone."""
    return f"{to_local(moment):%H:%M}"


def format_date(day: date) -> str:
    """dd/mm/aaaa."""
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def format_money(cents: int) -> str:
    """R$ 1.234,56 (and -R$ 5,00) from integer cents.

    Babel separates the symbol with a no-break space; it becomes a plain one, as timeline lines store this text
    and have always been written so.
    """
    return format_currency(Decimal(cents).scaleb(-2), "BRL", locale=LOCALE).replace("\xa0", " ")


# What a typed amount may hold once a leading "R$" is gone: a sign, ASCII digits, dots and commas (no exponent,
# NaN or other scripts' digits, which Babel would accept); the length bound keeps absurd input cheap.
MONEY_TEXT = re.compile(r"[+-]?[0-9.,]{1,20}", re.ASCII)
MONEY_HINT = "digite como 1.234,56"


def parse_money(text: str | None, field: str, required: bool = True, *, positive: bool = False) -> int | None:
    """Integer cents from an amount typed the Brazilian way (`1.234,56`, `1234,5`, `R$ 80`), or ValidationError.

    Dots group thousands and the comma starts the cents (Babel's strict pt_BR rules: `1.23` is refused, not
    read as 123 or 1,23); at most two decimal places. The sign is kept: whether a negative or zero amount makes
    sense is the calling service's rule, or `positive=True` (money received or given back) refuses zero, negative
    amounts and amounts above the catalogue's ceiling here, beside the field. An empty text is None when not
    `required`.
    """
    cleaned = "".join((text or "").split())
    sign = cleaned[:1] if cleaned[:1] in "+-" else ""
    cleaned = sign + cleaned[len(sign) :].removeprefix("R$")  # "R$ 80" and format_money's "-R$ 5,00"
    if not cleaned:
        if required:
            raise ValidationError({field: "Informe o valor."})
        return None
    if not MONEY_TEXT.fullmatch(cleaned):
        raise ValidationError({field: f"Valor inválido: {MONEY_HINT}."})
    try:
        amount = parse_decimal(cleaned, locale=LOCALE, strict=True)
    except NumberFormatError:
        raise ValidationError({field: f"Valor inválido: {MONEY_HINT}."}) from None
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(Decimal("0.01")):
        raise ValidationError({field: f"Use no máximo dois dígitos para os centavos (duas casas): {MONEY_HINT}."})
    cents = int(amount.scaleb(2))
    if positive:
        if cents < 0:
            raise ValidationError({field: "O valor não pode ser negativo."})
        if cents == 0:
            raise ValidationError({field: "O valor não pode ser zero."})
        if cents > MAX_PRICE_CENTS:
            raise ValidationError(
                {field: f"Valor alto demais (até {format_money(MAX_PRICE_CENTS)}): confira os dígitos."}
            )
    return cents


def format_money_input(cents: int | None) -> str:
    """Cents as typed in a form field (`1.234,56`, no currency symbol), or empty."""
    if cents is None:
        return ""
    return format_money(cents).replace("R$", "").replace("\xa0", " ").strip()


def amount_in_words(cents: int) -> str:
    """An amount in words as Brazilian receipts and cheques write it: `um mil, duzentos e trinta e quatro reais
    e cinquenta e seis centavos`.

    num2words writes the thousands alone (`mil, duzentos...`) and `zero reais e um centavo` below one real;
    receipts say `um mil` (so nothing can be written in front of it) and just `um centavo`.
    """
    if isinstance(cents, bool) or not isinstance(cents, int) or cents < 0:
        raise ValueError(f"cents must be a non-negative integer, got {cents!r}")
    reais, centavos = divmod(cents, 100)
    if reais == 0:
        return num2words(centavos, lang="pt_BR") + (" centavo" if centavos == 1 else " centavos")
    words = num2words(Decimal(cents).scaleb(-2), lang="pt_BR", to="currency")
    return "um " + words if words.startswith("mil") else words


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (31/08 + 6 months → 28/02)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
