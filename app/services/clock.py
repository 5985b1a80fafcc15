"""Time in the clinic: stored in UTC, shown and reasoned about in the clinic's time zone; dates and money
written the Brazilian way by Babel (`pt_BR`)."""

import calendar
import re
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel.numbers import NumberFormatError, format_currency, parse_decimal
from flask import current_app
from num2words import num2words

from app.db.types import utcnow
from app.services.errors import ValidationError
from app.services.procedures import MAX_PRICE_CENTS

LOCALE = "pt_BR"


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
    return babel_dates.format_datetime(moment, "dd/MM/yyyy 'às' HH:mm", tzinfo=clinic_tz(), locale=LOCALE)


def format_day_time(moment: datetime) -> str:
    """dd/mm às HH:MM in the clinic's time zone, for short summaries."""
    return babel_dates.format_datetime(moment, "dd/MM 'às' HH:mm", tzinfo=clinic_tz(), locale=LOCALE)


def format_day_month(moment: datetime) -> str:
    """dd/mm in the clinic's time zone."""
    return babel_dates.format_datetime(moment, "dd/MM", tzinfo=clinic_tz(), locale=LOCALE)


def format_time(moment: datetime) -> str:
    """HH:MM in the clinic's time zone."""
    return babel_dates.format_datetime(moment, "HH:mm", tzinfo=clinic_tz(), locale=LOCALE)


def format_date(day: date) -> str:
    """dd/mm/aaaa."""
    return babel_dates.format_date(day, "dd/MM/yyyy", locale=LOCALE)


def format_money(cents: int) -> str:
    """R$ 1.234,56 (and -R$ 5,00) from integer cents.

    Babel separates the symbol with a no-break space; it becomes a plain one, as timeline lines store this text
    and have always been written so.
    """
    return format_currency(Decimal(cents).scaleb(-2), "BRL", locale=LOCALE).replace("\xa0", " ")


# What a typed amount may contain: digits with Brazilian separators (`1.234,56`), an optional `R$` and a sign
# (so that `-5` is refused as negative rather than as unreadable).
TYPED_MONEY = re.compile(r"[-+]?\s*(R\$)?\s*[-+]?\s*[0-9][0-9.,]*")


def parse_money(text: str | None, field: str, allow_zero: bool = False) -> int:
    """Integer cents from an amount typed the Brazilian way (`1.234,56`, `R$ 50`, `12,5`), or ValidationError.

    Babel's strict parser refuses misplaced grouping (`1,2,3`, `1.23`); negatives, more than two decimals, zero
    (unless allowed) and amounts above the catalogue's ceiling are refused with a message for the field.
    """
    typed = " ".join((text or "").split())
    if not typed:
        raise ValidationError({field: "Informe o valor."})
    if len(typed) > 40 or not TYPED_MONEY.fullmatch(typed):
        raise ValidationError({field: "Valor inválido: digite como 1.234,56."})
    if "-" in typed:
        raise ValidationError({field: "O valor não pode ser negativo."})
    digits = typed.replace("R$", "").replace("+", "").replace(" ", "")
    try:
        value = parse_decimal(digits, locale=LOCALE, strict=True)
    except NumberFormatError:
        raise ValidationError({field: "Valor inválido: digite como 1.234,56."}) from None
    if not value.is_finite() or value.as_tuple().exponent < -2:
        raise ValidationError({field: "Valor inválido: use no máximo duas casas decimais (centavos)."})
    cents = int(value.scaleb(2))
    if cents == 0 and not allow_zero:
        raise ValidationError({field: "O valor não pode ser zero."})
    if cents > MAX_PRICE_CENTS:
        raise ValidationError({field: f"Valor alto demais (até {format_money(MAX_PRICE_CENTS)}): confira os dígitos."})
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
