"""Patients: register, update, deactivate with reason, accent-insensitive search, record views."""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select

from app.db import PACIENTES
from app.db.actor import current_actor
from app.db.audit import add_timeline, record_event
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import Anamnesis, Patient
from app.services.clock import clinic_day
from app.services.errors import ConflictError, ValidationError
from app.services.guards import get_or_404, require_active_user
from app.services.locks import get_for_update

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
MAX_REASON = 500
UFS = set("AC AL AP AM BA CE DF ES GO MA MT MS MG PA PB PR PE PI RJ RN RS RO RR SC SP SE TO".split())


def search_key(text: str) -> str:
    """Lower-case, accent-free, single-spaced: `João  da Conceição` → `joao da conceicao`."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())


def digits(text: str | None) -> str:
    """Only the digits of a string."""
    return re.sub(r"\D", "", text or "")


def like_escape(text: str) -> str:
    """Escape LIKE wildcards so that `%` or `_` typed by a user match themselves (escape character `\\`)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def cpf_is_valid(cpf: str) -> bool:
    """Check a CPF's two verification digits (11 digits, not all equal)."""
    if len(cpf) != 11 or not cpf.isdigit() or cpf == cpf[0] * 11:
        return False
    for size in (9, 10):
        total = sum(int(d) * w for d, w in zip(cpf[:size], range(size + 1, 1, -1), strict=True))
        check = (total * 10) % 11 % 10
        if check != int(cpf[size]):
            return False
    return True


def _clean(data: dict) -> dict:
    """Validate and normalise patient fields; raises ValidationError with one message per bad field."""
    errors, clean = {}, {}
    name = " ".join((data.get("full_name") or "").split())
    if len(name) < 3:
        errors["full_name"] = "Informe o nome completo do paciente."
    clean["full_name"] = name
    cpf = digits(data.get("cpf"))
    if cpf and not cpf_is_valid(cpf):
        errors["cpf"] = "CPF inválido: confira os 11 dígitos."
    clean["cpf"] = cpf or None
    birth = data.get("birth_date")
    if isinstance(birth, str) and birth.strip():
        try:
            birth = date.fromisoformat(birth.strip())
        except ValueError:
            errors["birth_date"] = "Data de nascimento inválida (use AAAA-MM-DD)."
            birth = None
    birth = birth or None
    if isinstance(birth, date) and (birth > clinic_day() or birth.year < 1900):
        errors["birth_date"] = "Data de nascimento fora do intervalo possível."
    clean["birth_date"] = birth
    sex = (data.get("sex") or "").strip().upper() or None
    if sex not in (None, "F", "M", "O"):
        errors["sex"] = "Sexo deve ser F, M ou O."
    clean["sex"] = sex
    phone = (data.get("phone") or "").strip() or None
    if phone and not 10 <= len(digits(phone)) <= 13:
        errors["phone"] = "Telefone inválido: informe DDD e número."
    clean["phone"] = phone
    email = (data.get("email") or "").strip() or None
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        errors["email"] = "E-mail inválido."
    clean["email"] = email
    cep = digits(data.get("cep"))
    if cep and len(cep) != 8:
        errors["cep"] = "CEP deve ter 8 dígitos."
    clean["cep"] = cep or None
    state = (data.get("state") or "").strip().upper() or None
    if state and state not in UFS:
        errors["state"] = "UF inválida."
    clean["state"] = state
    for name in ("street", "number", "complement", "district", "city", "notes"):
        clean[name] = (data.get(name) or "").strip() or None
    for name, value in clean.items():  # PostgreSQL refuses strings longer than the column
        limit = getattr(Patient.__table__.c[name].type, "length", None)
        if isinstance(value, str) and limit and len(value) > limit:
            errors.setdefault(name, f"Máximo de {limit} caracteres.")
    if errors:
        raise ValidationError(errors)
    return clean


def _refuse_duplicate_cpf(cpf: str | None, patient_id: int | None = None) -> None:
    if not cpf:
        return
    other = db.session.scalar(select(Patient.id).where(Patient.cpf == cpf, Patient.id != (patient_id or 0)))
    if other is not None:
        raise ValidationError({"cpf": f"Este CPF já pertence ao paciente #{other}."})


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
            phone_digits=digits(clean["phone"]) or None,
            created_by_user_id=actor,
        )
        db.session.add(patient)
        db.session.add(Anamnesis(patient=patient, status="PENDING", updated_by_user_id=actor))
        add_timeline(db.session, patient, "patient_created", "Paciente cadastrado.")
    return patient


def update_patient(patient_id: int, data: dict) -> Patient:
    """Change a patient's data; fields absent from `data` keep their value; the timeline says what changed."""
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise ValidationError({name: "Campo desconhecido." for name in sorted(unknown)})
    with unit_of_work(PACIENTES):
        patient = get_for_update(Patient, patient_id, "Paciente")
        clean = _clean({**{name: getattr(patient, name) for name in EDITABLE}, **data})
        _refuse_duplicate_cpf(clean["cpf"], patient.id)
        changed = [name for name in EDITABLE if getattr(patient, name) != clean[name]]
        for name in changed:
            setattr(patient, name, clean[name])
        patient.search_name = search_key(patient.full_name)
        patient.phone_digits = digits(patient.phone) or None
        if changed:
            summary = "Cadastro atualizado: " + ", ".join(FIELD_LABELS[name] for name in changed) + "."
            add_timeline(db.session, patient, "patient_updated", summary)
    return patient


def deactivate_patient(patient_id: int, reason: str) -> Patient:
    """Deactivate a patient with a written reason (records are never deleted)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Informe o motivo da desativação."})
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": f"Motivo longo demais (máximo de {MAX_REASON} caracteres)."})
    with unit_of_work(PACIENTES):
        patient = get_or_404(Patient, patient_id, "Paciente")
        if not patient.is_active:
            raise ConflictError("Este paciente já está desativado.")
        patient.is_active = False
        patient.deactivation_reason = reason
        add_timeline(db.session, patient, "patient_deactivated", f"Cadastro desativado: {reason}")
    return patient


def reactivate_patient(patient_id: int) -> Patient:
    """Reactivate a patient."""
    with unit_of_work(PACIENTES):
        patient = get_or_404(Patient, patient_id, "Paciente")
        if patient.is_active:
            raise ConflictError("Este paciente já está ativo.")
        patient.is_active, patient.deactivation_reason = True, None
        add_timeline(db.session, patient, "patient_reactivated", "Cadastro reativado.")
    return patient


def get_patient(patient_id: int) -> Patient:
    """A patient by id, or NotFound."""
    return get_or_404(Patient, patient_id, "Paciente")


def open_record(patient_id: int) -> Patient:
    """A patient's record, opened by the current actor: the opening itself is audited (not every SELECT)."""
    with unit_of_work(PACIENTES):
        patient = get_or_404(Patient, patient_id, "Paciente")
        record_event(db.session, PACIENTES, "view_record", "patient", patient.id, patient_id=patient.id)
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


def search_patients(query: str = "", page: int = 1, per_page: int = 20, include_inactive: bool = False) -> Page:
    """Find patients by name (accent-insensitive, any word start), CPF or phone; paginated, by name."""
    page, per_page = max(1, int(page)), min(max(1, int(per_page)), 100)
    conditions = [] if include_inactive else [Patient.is_active.is_(True)]
    term = search_key(query)
    number = digits(query)
    if term:
        term = like_escape(term)
        matches = [
            Patient.search_name.like(f"{term}%", escape="\\"),
            Patient.search_name.like(f"% {term}%", escape="\\"),
        ]
        if len(number) >= 3 and len(number) >= len(re.sub(r"[\s.\-()/]", "", query)):
            matches += [Patient.cpf.like(f"{number}%"), Patient.phone_digits.like(f"%{number}%")]
        conditions.append(or_(*matches))
    base = select(Patient).where(*conditions)
    total = db.session.scalar(select(func.count()).select_from(base.subquery()))
    items = db.session.scalars(
        base.order_by(Patient.search_name, Patient.id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total, page, per_page)
