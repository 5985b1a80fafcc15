"""Clinic settings: the one record of pacientes.db that every printed page, the agenda and the messages read.

`current()` gives the settings as an immutable `Settings` (the defaults below until an admin saves the page);
`update_settings` validates and writes the row (audited like every change of pacientes.db). Holidays come from
the `holidays` package for the clinic's state; message templates use the placeholders in `PLACEHOLDERS`, filled
by `fill_template` (a plain substitution: a template can never reach attributes or other variables).
"""

import functools
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time

import holidays as holiday_calendars
from flask import g, has_request_context

from app.db import PACIENTES
from app.db.actor import current_actor
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import ClinicSettings
from app.services.errors import ValidationError
from app.services.validation import UFS, clean_text, column_limit, parse_cnpj, parse_phone, required_text

SETTINGS_ID = 1
SLOT_CHOICES = (15, 20, 30)
PAPER_SIZES = ("A4", "A5")
WEEKDAYS = tuple(range(7))  # Monday = 0, as date.weekday()
WEEKDAY_NAMES = ("segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira", "sábado", "domingo")
PLACEHOLDERS = ("paciente", "data", "hora", "dentista", "clinica")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
MAX_TEMPLATE = 1000

DEFAULT_HOURS: dict[int, tuple[time, time] | None] = {
    **{weekday: (time(8), time(18)) for weekday in range(5)},
    5: (time(8), time(12)),
    6: None,
}
DEFAULT_CONFIRMATION = (
    "Olá, {paciente}! Lembramos da sua consulta na {clinica} em {data} às {hora} com {dentista}. "
    "Podemos confirmar sua presença?"
)
DEFAULT_RECALL = "Olá, {paciente}! Está na hora da sua consulta de retorno na {clinica}. Vamos agendar um horário?"


@dataclass(frozen=True)
class Settings:
    """The clinic's settings as the pages and services read them (times as `time`, hours per weekday)."""

    name: str = "Clínica Odontológica"
    cnpj: str | None = None
    address: str | None = None
    phone: str | None = None
    state: str = "SP"
    opening_hours: dict[int, tuple[time, time] | None] = field(default_factory=lambda: dict(DEFAULT_HOURS))
    slot_minutes: int = 30
    paper_size: str = "A4"
    confirmation_template: str = DEFAULT_CONFIRMATION
    recall_template: str = DEFAULT_RECALL
    pix_key: str | None = None
    merchant_name: str | None = None
    merchant_city: str | None = None
    updated_at: datetime | None = None
    updated_by_user_id: int | None = None

    def hours_on(self, day: date) -> tuple[time, time] | None:
        """(opens, closes) on that calendar day, or None when the clinic is closed that weekday."""
        return self.opening_hours.get(day.weekday())

    def within_hours(self, starts_local: datetime, ends_local: datetime) -> bool:
        """Whether a visit (clinic-local times, same day) fits inside that day's opening hours."""
        hours = self.hours_on(starts_local.date())
        if hours is None or starts_local.date() != ends_local.date():
            return False
        return hours[0] <= starts_local.time() and ends_local.time() <= hours[1]

    def day_span(self) -> tuple[time, time] | None:
        """The earliest opening and latest closing of the week (the agenda grid's rows), None if always closed."""
        open_days = [hours for hours in self.opening_hours.values() if hours]
        if not open_days:
            return None
        return min(hours[0] for hours in open_days), max(hours[1] for hours in open_days)


def _hours_from_json(text: str | None) -> dict[int, tuple[time, time] | None]:
    """Stored opening hours → {weekday: (opens, closes) | None}; anything unreadable counts as the defaults."""
    try:
        stored = json.loads(text or "")
        return {
            weekday: (time.fromisoformat(stored[str(weekday)][0]), time.fromisoformat(stored[str(weekday)][1]))
            if stored.get(str(weekday))
            else None
            for weekday in WEEKDAYS
        }
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return dict(DEFAULT_HOURS)


def _hours_to_json(hours: dict[int, tuple[time, time] | None]) -> str:
    """{weekday: (opens, closes) | None} → the stored JSON text."""
    return json.dumps(
        {
            str(weekday): [hours[weekday][0].strftime("%H:%M"), hours[weekday][1].strftime("%H:%M")]
            if hours.get(weekday)
            else None
            for weekday in WEEKDAYS
        },
        sort_keys=True,
    )


def _from_row(row: ClinicSettings | None) -> Settings:
    """The immutable view of the stored row (the defaults when there is none)."""
    if row is None:
        return Settings()
    return Settings(
        name=row.name,
        cnpj=row.cnpj,
        address=row.address,
        phone=row.phone,
        state=row.state,
        opening_hours=_hours_from_json(row.opening_hours),
        slot_minutes=row.slot_minutes,
        paper_size=row.paper_size,
        confirmation_template=row.confirmation_template,
        recall_template=row.recall_template,
        pix_key=row.pix_key,
        merchant_name=row.merchant_name,
        merchant_city=row.merchant_city,
        updated_at=row.updated_at,
        updated_by_user_id=row.updated_by_user_id,
    )


def current() -> Settings:
    """The clinic's settings; read once per request (kept on `g`), the defaults until an admin saves them."""
    if has_request_context() and "clinic_settings" in g:
        return g.clinic_settings
    settings = _from_row(db.session.get(ClinicSettings, SETTINGS_ID))
    if has_request_context():
        g.clinic_settings = settings
    return settings


def check_template(template, field_name: str) -> str:
    """A message template: required, at most 1,000 characters, only the known placeholders."""
    text = required_text(template, field_name, "Escreva a mensagem.", MAX_TEMPLATE, multiline=True)
    unknown = sorted({name for name in PLACEHOLDER.findall(text) if name not in PLACEHOLDERS})
    if unknown:
        allowed = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
        raise ValidationError({field_name: f"Marcador desconhecido: {{{unknown[0]}}}. Use apenas {allowed}."})
    return text


def fill_template(template: str, values: dict[str, str]) -> str:
    """The template with each known placeholder replaced by its value (missing values leave it empty)."""
    return PLACEHOLDER.sub(
        lambda match: str(values.get(match.group(1), "")) if match.group(1) in PLACEHOLDERS else match.group(0),
        template,
    )


def _check_hours(hours) -> dict[int, tuple[time, time] | None]:
    """{weekday: (opens, closes) | None} with `time` values or "HH:MM" strings; closing after opening."""
    if not isinstance(hours, dict):
        raise ValidationError({"opening_hours": "Informe o horário de cada dia da semana."})
    checked: dict[int, tuple[time, time] | None] = {}
    for weekday in WEEKDAYS:
        pair = hours.get(weekday)
        if not pair:
            checked[weekday] = None
            continue
        field_name = f"hours_{weekday}"
        try:
            opens, closes = (value if isinstance(value, time) else time.fromisoformat(str(value)) for value in pair)
        except (ValueError, TypeError):
            raise ValidationError({field_name: "Horário inválido (use HH:MM)."}) from None
        if opens >= closes:
            raise ValidationError(
                {field_name: f"Na {WEEKDAY_NAMES[weekday]}, o fechamento deve vir depois da abertura."}
            )
        checked[weekday] = (opens.replace(second=0, microsecond=0), closes.replace(second=0, microsecond=0))
    return checked


def _clean(fields: dict) -> dict:
    """Every field checked; ValidationError with one message per field in trouble."""
    errors: dict[str, str] = {}
    cleaned: dict = {}

    def attempt(name, check):
        try:
            cleaned[name] = check()
        except ValidationError as exc:
            errors.update(exc.errors)

    attempt(
        "name",
        lambda: required_text(
            fields.get("name"), "name", "Informe o nome da clínica.", column_limit(ClinicSettings, "name")
        ),
    )
    attempt("cnpj", lambda: parse_cnpj(fields.get("cnpj")))
    attempt(
        "address",
        lambda: clean_text(fields.get("address"), "address", max_length=column_limit(ClinicSettings, "address")),
    )
    attempt("phone", lambda: parse_phone(fields.get("phone")))
    state = (fields.get("state") or "").strip().upper()
    if state not in UFS:
        errors["state"] = "Escolha a UF da clínica."
    cleaned["state"] = state
    attempt("opening_hours", lambda: _check_hours(fields.get("opening_hours")))
    slot = fields.get("slot_minutes")
    if slot not in SLOT_CHOICES:
        errors["slot_minutes"] = "A duração do horário deve ser 15, 20 ou 30 minutos."
    cleaned["slot_minutes"] = slot
    if fields.get("paper_size") not in PAPER_SIZES:
        errors["paper_size"] = "Escolha o papel: A4 ou A5."
    cleaned["paper_size"] = fields.get("paper_size")
    attempt(
        "confirmation_template", lambda: check_template(fields.get("confirmation_template"), "confirmation_template")
    )
    attempt("recall_template", lambda: check_template(fields.get("recall_template"), "recall_template"))
    for name in ("pix_key", "merchant_name", "merchant_city"):
        attempt(
            name, lambda name=name: clean_text(fields.get(name), name, max_length=column_limit(ClinicSettings, name))
        )
    if errors:
        raise ValidationError(errors)
    return cleaned


def update_settings(**fields) -> Settings:
    """Validate and save the clinic's settings (every field at once, as the admin page sends them)."""
    cleaned = _clean(fields)
    cleaned["opening_hours"] = _hours_to_json(cleaned["opening_hours"])
    with unit_of_work(PACIENTES):
        row = db.session.get(ClinicSettings, SETTINGS_ID, with_for_update=True)
        if row is None:
            row = ClinicSettings(id=SETTINGS_ID)
            db.session.add(row)
        for name, value in cleaned.items():
            setattr(row, name, value)
        row.updated_by_user_id = current_actor().user_id
    if has_request_context():
        g.pop("clinic_settings", None)
    return _from_row(row)


def holidays_between(first: date, last: date, state: str | None = None) -> dict[date, str]:
    """National and state holidays (names in Portuguese) from `first` to `last` inclusive, for the clinic's UF."""
    state = state or current().state
    found = (item for year in range(first.year, last.year + 1) for item in _holidays_of(state, year))
    return {day: name for day, name in found if first <= day <= last}


@functools.lru_cache(maxsize=64)
def _holidays_of(state: str, year: int) -> tuple[tuple[date, str], ...]:
    """One year's holidays of a state, computed once per process (the package takes milliseconds per call)."""
    calendar = holiday_calendars.country_holidays("BR", subdiv=state, years=year, language="pt_BR")
    return tuple(sorted(calendar.items()))
