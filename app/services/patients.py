"""Patients: register, update, deactivate with reason, accent-insensitive search, record views."""

import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import and_, false, func, intersect, select

from app.db import PACIENTES
from app.db.actor import current_actor
from app.db.audit import add_timeline, record_event
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import Anamnesis, Patient, PatientSearchToken
from app.services.clock import clinic_day
from app.services.errors import ConflictError, ValidationError
from app.services.guards import get_or_404, require_active_user, require_patient
from app.services.locks import get_for_update
from app.services.validation import (
    clean_text,
    column_limit,
    fit_column,
    parse_cep,
    parse_cpf,
    parse_email,
    parse_phone,
    parse_uf,
    phone_digit_forms,
    phone_national_digits,
    required_text,
)
from app.vocabulary import AnamnesisStatus, Sex

EDITABLE = (
    "full_name",
    "cpf",
    "birth_date",
    "sex",
    "phone",
    "email",
    "cep",
    "street",
    "number",
    "complement",
    "district",
    "city",
    "state",
    "notes",
)
FIELD_LABELS = {
    "full_name": "nome",
    "cpf": "CPF",
    "birth_date": "data de nascimento",
    "sex": "sexo",
    "phone": "telefone",
    "email": "e-mail",
    "cep": "CEP",
    "street": "logradouro",
    "number": "número",
    "complement": "complemento",
    "district": "bairro",
    "city": "cidade",
    "state": "UF",
    "notes": "observações",
}
MAX_REASON = column_limit(Patient, "deactivation_reason")
MULTILINE = frozenset({"notes"})


def search_key(text: str) -> str:
    """Lower-case, accent-free, single-spaced: `João  da Conceição` → `joao da conceicao`."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())


def digits(text: str | None) -> str:
    """Only the digits of a string."""
    return re.sub(r"\D", "", text or "")


def _full_name(text: str | None) -> str:
    """A single-spaced name of at least three characters."""
    name = " ".join((text or "").split())
    if len(name) < 3:
        raise ValidationError({"full_name": "Informe o nome completo do paciente."})
    return name


def _birth_date(value) -> date | None:
    """A birth date (a date, or AAAA-MM-DD) between 1900 and today; empty → None."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise ValidationError({"birth_date": "Data de nascimento inválida (use AAAA-MM-DD)."}) from None
    if value is None:
        return None
    if not isinstance(value, date) or value > clinic_day() or value.year < 1900:
        raise ValidationError({"birth_date": "Data de nascimento fora do intervalo possível."})
    return value


def _sex(text: str | None) -> str | None:
    """F, M or O (any case); empty → None."""
    sex = text.upper() if text else None
    if sex is not None and sex not in Sex.values():
        raise ValidationError({"sex": "Sexo deve ser F, M ou O."})
    return sex


def _as_typed(text: str | None) -> str | None:
    """A free-text field: stored as typed (trimmed)."""
    return text


# How each field is parsed once it passed the shared text check; the others are stored as typed (trimmed).
PARSERS = {
    "full_name": _full_name,
    "cpf": parse_cpf,
    "birth_date": _birth_date,
    "sex": _sex,
    "phone": parse_phone,
    "email": parse_email,
    "cep": parse_cep,
    "state": parse_uf,
}


def _clean_field(name: str, value):
    """One field: the shared text check, its own parser, then the column's length (PostgreSQL refuses longer)."""
    if not isinstance(value, date):  # a birth date may arrive parsed already
        value = clean_text(value, name, multiline=name in MULTILINE)
    return fit_column(PARSERS.get(name, _as_typed)(value), Patient, name)


def _clean(data: dict) -> dict:
    """Validate and normalise patient fields; raises ValidationError with one message per bad field.

    A field that does not parse is an error, never an empty value: only a field left empty clears.
    """
    errors, clean = {}, {}
    for name in EDITABLE:
        try:
            clean[name] = _clean_field(name, data.get(name))
        except ValidationError as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    return clean


def _refuse_duplicate_cpf(cpf: str | None, patient_id: int | None = None) -> None:
    if not cpf:
        return
    other = db.session.scalar(select(Patient.id).where(Patient.cpf == cpf, Patient.id != (patient_id or 0)))
    if other is not None:
        raise ValidationError({"cpf": f"Este CPF já pertence ao paciente #{other}."})


def name_tokens(search_name: str) -> set[str]:
    """The words of an accent-free name that search looks up: `joao da conceicao` → {joao, da, conceicao}."""
    return {word[:60] for word in re.findall(r"[a-z0-9]+", search_name or "")}


def search_tokens(search_name: str, phone: str | None, cpf: str | None = None) -> set[str]:
    """Everything a patient can be found by: name words, CPF, the phone with and without +55 and area code."""
    return name_tokens(search_name) | ({cpf} if cpf else set()) | phone_digit_forms(phone)


def _sync_search_tokens(patient: Patient) -> None:
    """Make the patient's search tokens match its name and phone (only the tokens that changed are written)."""
    wanted = search_tokens(patient.search_name, patient.phone, patient.cpf)
    for token in [t for t in patient.search_tokens if t.token not in wanted]:
        patient.search_tokens.remove(token)
    have = {t.token for t in patient.search_tokens}
    patient.search_tokens.extend(PatientSearchToken(token=word) for word in sorted(wanted - have))


def create_patient(data: dict) -> Patient:
    """Register a patient (with a pending anamnesis, so the record warns until it is filled in)."""
    clean = _clean(data)
    actor = current_actor().user_id
    with unit_of_work(PACIENTES):
        if actor is not None:
            require_active_user(actor)
        _refuse_duplicate_cpf(clean["cpf"])
        patient = Patient(
            **clean,
            search_name=search_key(clean["full_name"]),
            phone_digits=phone_national_digits(clean["phone"]),
            created_by_user_id=actor,
        )
        _sync_search_tokens(patient)
        db.session.add(patient)
        db.session.add(Anamnesis(patient=patient, status=AnamnesisStatus.PENDING, updated_by_user_id=actor))
        add_timeline(db.session, patient, "patient_created", "Paciente cadastrado.")
    return patient


def update_patient(patient_id: int, data: dict) -> Patient:
    """Change an active patient's data; fields absent from `data` keep theirs; the timeline says what changed."""
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise ValidationError({name: "Campo desconhecido." for name in sorted(unknown)})
    with unit_of_work(PACIENTES):
        patient = get_for_update(Patient, patient_id, "Paciente")
        require_patient(patient.id)  # a deactivated record is read-only
        clean = _clean({**{name: getattr(patient, name) for name in EDITABLE}, **data})
        _refuse_duplicate_cpf(clean["cpf"], patient.id)
        changed = [name for name in EDITABLE if getattr(patient, name) != clean[name]]
        for name in changed:
            setattr(patient, name, clean[name])
        patient.search_name = search_key(patient.full_name)
        patient.phone_digits = phone_national_digits(patient.phone)
        _sync_search_tokens(patient)
        if changed:
            summary = "Cadastro atualizado: " + ", ".join(FIELD_LABELS[name] for name in changed) + "."
            add_timeline(db.session, patient, "patient_updated", summary)
    return patient


def deactivate_patient(patient_id: int, reason: str) -> Patient:
    """Deactivate a patient with a written reason (records are never deleted)."""
    reason = required_text(reason, "reason", "Informe o motivo da desativação.", MAX_REASON, multiline=True)
    with unit_of_work(PACIENTES):
        patient = get_for_update(Patient, patient_id, "Paciente")
        if not patient.is_active:
            raise ConflictError("Este paciente já está desativado.")
        patient.is_active = False
        patient.deactivation_reason = reason
        add_timeline(db.session, patient, "patient_deactivated", f"Cadastro desativado: {reason}")
    return patient


def reactivate_patient(patient_id: int) -> Patient:
    """Reactivate a patient."""
    with unit_of_work(PACIENTES):
        patient = get_for_update(Patient, patient_id, "Paciente")
        if patient.is_active:
            raise ConflictError("Este paciente já está ativo.")
        patient.is_active, patient.deactivation_reason = True, None
        add_timeline(db.session, patient, "patient_reactivated", "Cadastro reativado.")
    return patient


def get_patient(patient_id: int) -> Patient:
    """A patient by id, or NotFound."""
    return get_or_404(Patient, patient_id, "Paciente")


class RecentViews:
    """Which (login session, patient) pairs had their record opening audited lately, in this process.

    Decided on the server only: the first view of a record in a login session is always audited, and again
    once `window` has passed. Each worker process keeps its own memory, so a second worker may audit the
    same visit once more (an extra event, never a missing one).
    """

    MAX_ENTRIES = 20_000

    def __init__(self):
        self._seen: dict[tuple[int, int], float] = {}
        self._lock = threading.Lock()

    def due(self, session_id: int, patient_id: int, window_seconds: float) -> bool:
        """Whether this visit should be audited now (and, if so, remember that it was)."""
        now, key = time.monotonic(), (session_id, patient_id)
        with self._lock:
            last = self._seen.get(key)
            if last is not None and now - last < window_seconds:
                return False
            if len(self._seen) >= self.MAX_ENTRIES:
                self._seen = {k: t for k, t in self._seen.items() if now - t < window_seconds}
            self._seen[key] = now
            return True

    def forget(self, session_id: int, patient_id: int) -> None:
        """Drop a remembered visit (its audit event was not written after all)."""
        with self._lock:
            self._seen.pop((session_id, patient_id), None)


def _recent_views() -> RecentViews:
    """This app's memory of audited record visits."""
    views = current_app.extensions.get("sorriso_recent_views")
    if views is None:
        views = current_app.extensions.setdefault("sorriso_recent_views", RecentViews())
    return views


def open_record(patient_id: int, visit: int | None = None) -> Patient:
    """A patient's record, opened by the current actor: the opening is audited (never every SELECT).

    `visit` names the login session: within it, one event per patient per RECORD_VIEW_AUDIT_MINUTES
    (tabs and fragments included). Without it, every opening is audited.
    """
    window = current_app.config["RECORD_VIEW_AUDIT_MINUTES"] * 60
    if visit is not None and not _recent_views().due(visit, patient_id, window):
        return get_patient(patient_id)
    try:
        # An opening changes nothing: its event survives any process crash, and only a power cut in the
        # moment before the next durable commit could lose it, so it does not wait for the disk.
        with unit_of_work(PACIENTES, durable=False):
            patient = get_or_404(Patient, patient_id, "Paciente")
            record_event(db.session, PACIENTES, "view_record", "patient", patient.id, patient_id=patient.id)
    except BaseException:
        if visit is not None:
            _recent_views().forget(visit, patient_id)
        raise
    return patient


@dataclass
class Page:
    """One page of a list."""

    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least one)."""
        return max(1, -(-self.total // self.per_page))


def _starts_with(column, prefix: str):
    """`column` starts with `prefix` ([a-z0-9] only), in a form each backend answers from its index."""
    if db.session.get_bind(Patient).dialect.name == "sqlite":
        # SQLite's LIKE ignores case, so it cannot use an index; a range over the BINARY order can.
        return and_(column >= prefix, column < prefix[:-1] + chr(ord(prefix[-1]) + 1))
    return column.like(f"{prefix}%")


def _looks_numeric(query: str, number: str) -> bool:
    """A CPF or phone fragment: at least three digits and nothing but digits and punctuation (+55 included)."""
    return len(number) >= 3 and len(number) >= len(re.sub(r"[\s.\-()/+]", "", query))


def _token_match(prefixes: list[str]):
    """Patients having, for every prefix, a search token that starts with it (one indexed lookup each)."""
    lookups = [
        select(PatientSearchToken.patient_id).where(_starts_with(PatientSearchToken.token, prefix))
        for prefix in prefixes
    ]
    return Patient.id.in_(lookups[0] if len(lookups) == 1 else intersect(*lookups))


def search_patients(query: str = "", page: int = 1, per_page: int = 20, include_inactive: bool = False) -> Page:
    """Find patients by name (accent-insensitive, every typed word starts a word of the name), CPF or phone
    (the start of the CPF, or of the phone with or without +55 and its area code).

    Lookups go through PatientSearchToken's index, so the cost grows with the matches, not with the clinic.
    """
    page, per_page = max(1, int(page)), min(max(1, int(per_page)), 100)
    conditions = [] if include_inactive else [Patient.is_active.is_(True)]
    number = digits(query)
    words = sorted(name_tokens(search_key(query)), key=len, reverse=True)[:5]
    if _looks_numeric(query, number):
        conditions.append(_token_match([number]))
    elif words:
        conditions.append(_token_match(words))
    elif search_key(query):
        conditions.append(false())  # only punctuation typed: nothing can match
    base = select(Patient).where(*conditions)
    total = db.session.scalar(select(func.count()).select_from(base.subquery()))
    items = db.session.scalars(
        base.order_by(Patient.search_name, Patient.id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total, page, per_page)
