"""The procedure catalogue: codes, names and default prices; plans freeze name and price when an item is added."""

from sqlalchemy import select

from app.db import PACIENTES
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import Procedure
from app.services.clock import MAX_PRICE_CENTS
from app.services.errors import ConflictError, ValidationError
from app.services.guards import get_or_404
from app.services.locks import get_for_update
from app.services.patients import Page, search_key
from app.services.validation import clean_text, column_limit
from app.vocabulary import FindingCode

MAX_CODE, MAX_NAME = column_limit(Procedure, "code"), column_limit(Procedure, "name")
# Diagnoses are charted by the dentist, never produced by performing a procedure.
NOT_RESULTS = frozenset({FindingCode.CARIES, FindingCode.EXTRACTION_INDICATED})


def result_findings() -> tuple[FindingCode, ...]:
    """The findings a performed procedure can leave on a tooth (an extraction leaves it missing)."""
    return tuple(member for member in FindingCode if member not in NOT_RESULTS)


def check_cents(value, field: str, allow_zero: bool = True, allow_negative: bool = False) -> int:
    """An integer amount of cents within sane bounds, or ValidationError on `field`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({field: "Informe o valor em centavos (número inteiro)."})
    if value < 0 and not allow_negative:
        raise ValidationError({field: "O valor não pode ser negativo."})
    if value == 0 and not allow_zero:
        raise ValidationError({field: "O valor não pode ser zero."})
    if abs(value) > MAX_PRICE_CENTS:
        raise ValidationError({field: "Valor alto demais: confira os dígitos."})
    return value


def _clean(code: str, name: str, default_price_cents: int, finding: str | None = None) -> dict:
    """Validate and normalise catalogue fields (code upper-case, single-spaced name, a result finding or None)."""
    errors, text = {}, {}
    for field, value in (("code", code), ("name", name)):
        try:
            text[field] = clean_text(value, field) or ""
        except ValidationError as exc:
            errors.update(exc.errors)
    code = "".join(text.get("code", "").split()).upper()
    if "code" not in errors and not 1 <= len(code) <= MAX_CODE:
        errors["code"] = f"Informe um código de até {MAX_CODE} caracteres."
    name = " ".join(text.get("name", "").split())
    if "name" not in errors and not 2 <= len(name) <= MAX_NAME:
        errors["name"] = f"Informe o nome do procedimento (até {MAX_NAME} caracteres)."
    try:
        check_cents(default_price_cents, "default_price_cents")
    except ValidationError as exc:
        errors.update(exc.errors)
    finding = finding or None
    if finding is not None and finding not in result_findings():
        errors["finding"] = "Escolha um registro do odontograma da lista (ou nenhum)."
    if errors:
        raise ValidationError(errors)
    return {"code": code, "name": name, "default_price_cents": default_price_cents, "finding": finding}


def _refuse_duplicate_code(code: str, procedure_id: int | None = None) -> None:
    """ValidationError when another procedure already uses `code` (checked under the unit of work's write lock)."""
    other = db.session.scalar(select(Procedure.id).where(Procedure.code == code, Procedure.id != (procedure_id or 0)))
    if other is not None:
        raise ValidationError({"code": f"Já existe um procedimento com o código {code}."})


def create_procedure(code: str, name: str, default_price_cents: int, finding: str | None = None) -> Procedure:
    """Add a procedure to the catalogue; codes are unique; `finding` is what a done item records on its tooth."""
    fields = _clean(code, name, default_price_cents, finding)
    with unit_of_work(PACIENTES):
        _refuse_duplicate_code(fields["code"])
        procedure = Procedure(**fields, is_active=True)
        db.session.add(procedure)
    return procedure


def update_procedure(
    procedure_id: int, code: str, name: str, default_price_cents: int, finding: str | None = None
) -> Procedure:
    """Change code, name, default price or finding (None clears it); plan items keep the name and price they froze."""
    fields = _clean(code, name, default_price_cents, finding)
    with unit_of_work(PACIENTES):
        procedure = get_for_update(Procedure, procedure_id, "Procedimento")
        _refuse_duplicate_code(fields["code"], procedure.id)
        for key, value in fields.items():
            setattr(procedure, key, value)
    return procedure


def set_procedure_active(procedure_id: int, active: bool) -> Procedure:
    """Activate or deactivate a procedure; an inactive one cannot be added to new plans."""
    with unit_of_work(PACIENTES):
        procedure = get_for_update(Procedure, procedure_id, "Procedimento")
        if procedure.is_active == active:
            state = "ativo" if active else "desativado"
            raise ConflictError(f"O procedimento {procedure.code} já está {state}.")
        procedure.is_active = active
    return procedure


def activate_procedure(procedure_id: int) -> Procedure:
    """Put a procedure back in the catalogue."""
    return set_procedure_active(procedure_id, True)


def deactivate_procedure(procedure_id: int) -> Procedure:
    """Take a procedure out of the catalogue (never deleted: plans refer to it)."""
    return set_procedure_active(procedure_id, False)


def get_procedure(procedure_id: int) -> Procedure:
    """A procedure by id, or NotFound."""
    return get_or_404(Procedure, procedure_id, "Procedimento")


def list_procedures(include_inactive: bool = False) -> list[Procedure]:
    """The catalogue by name (active procedures only, unless asked)."""
    query = select(Procedure).order_by(Procedure.name, Procedure.code)
    if not include_inactive:
        query = query.where(Procedure.is_active.is_(True))
    return list(db.session.scalars(query))


def search_procedures(query: str = "", page: int = 1, per_page: int = 25, include_inactive: bool = True) -> Page:
    """The catalogue by name, filtered by code or name (accent- and case-insensitive, every word must match).

    A clinic's catalogue holds hundreds of rows at most: one query reads it and the filter runs here, which keeps
    accent folding identical on SQLite and PostgreSQL without a search column.
    """
    page, per_page = max(1, int(page)), min(max(1, int(per_page)), 100)
    words = search_key(query).split()
    rows = [
        procedure
        for procedure in list_procedures(include_inactive)
        if all(word in search_key(f"{procedure.code} {procedure.name}") for word in words)
    ]
    return Page(rows[(page - 1) * per_page : page * per_page], len(rows), page, per_page)
