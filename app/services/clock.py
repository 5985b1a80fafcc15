"""Time in the clinic: stored in UTC, shown and reasoned about in the clinic's time zone."""

import calendar
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app

from app.db.types import utcnow


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
    return to_local(moment).strftime("%d/%m/%Y às %H:%M")


def format_day_time(moment: datetime) -> str:
    """dd/mm às HH:MM in the clinic's time zone, for short summaries."""
    return to_local(moment).strftime("%d/%m às %H:%M")


def format_date(day: date) -> str:
    """dd/mm/aaaa."""
    return day.strftime("%d/%m/%Y")


def format_money(cents: int) -> str:
    """R$ 1.234,56 from integer cents."""
    sign = "-" if cents < 0 else ""
    reais, centavos = divmod(abs(cents), 100)
    return f"{sign}R$ {reais:,}".replace(",", ".") + f",{centavos:02d}"


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (31/08 + 6 months → 28/02)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
