"""Time in the clinic: stored in UTC, shown and reasoned about in the clinic's time zone; dates and money
written the Brazilian way by Babel (`pt_BR`)."""

import calendar
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel.numbers import format_currency
from flask import current_app

from app.db.types import utcnow

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


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (31/08 + 6 months → 28/02)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
