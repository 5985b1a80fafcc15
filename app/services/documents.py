"""Issued documents (prescriptions, certificates, exam requests): stored exactly as issued; every print is audited.

The forms issue structured documents: `issue_prescription`, `issue_certificate` and `issue_exam_request` check
their fields and store them as JSON text in `content` (`{"format": 1, ...}`); `issue_document` stores a free
text as given. `content_of` reads either back for the print page, which is rendered from what was stored.
Each print (and reprint) is a `document_print` row and an audit event, in one unit of work.
"""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time

from sqlalchemy import select

from app.db import PACIENTES
from app.db.actor import current_actor
from app.db.append_only import forbid_changes
from app.db.audit import add_timeline, record_event
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import DocumentPrint, IssuedDocument, Patient
from app.models.users import User
from app.services.clock import clinic_day, format_date
from app.services.errors import NotFound, PermissionDenied, ValidationError
from app.services.guards import get_or_404, require_active_dentist, require_patient
from app.services.validation import clean_text, refuse_control_chars
from app.vocabulary import DocumentKind

# Portuguese past participles agree with the document's gender (a receita, o atestado).
_ISSUED = {
    DocumentKind.PRESCRIPTION: "emitida",
    DocumentKind.CERTIFICATE: "emitido",
    DocumentKind.EXAM_REQUEST: "emitido",
}
_PRINTED = {
    DocumentKind.PRESCRIPTION: "impressa",
    DocumentKind.CERTIFICATE: "impresso",
    DocumentKind.EXAM_REQUEST: "impresso",
}
MAX_CONTENT = 20_000
FORMAT = 1  # version of the JSON layout of structured documents
MAX_ROWS = 20  # medications of a prescription, exams of a request
MAX_NAME = 200  # a medication, its dose, an exam
MAX_DIRECTIONS = 1_000
MAX_INDICATION = 2_000
MAX_ABSENCE_DAYS = 365
CID = re.compile(r"^([A-Z][0-9]{2})\.?([0-9A-Z]{1,2})?$")

for _model in (IssuedDocument, DocumentPrint):
    forbid_changes(
        _model, PermissionDenied, "Documentos emitidos não podem ser alterados nem excluídos: emita um novo."
    )


def _title(kind: str) -> str:
    """`Receita` / `Atestado`: the kind's label starting a sentence."""
    return DocumentKind.label_of(kind).capitalize()


def _validate(kind: str, content: str | None) -> str:
    """Kind must be known; content passes the shared multi-line check, is not blank nor too long; returns it.

    The layout of a document is part of it: line endings are normalised, nothing is trimmed.
    """
    errors = {}
    if kind not in DocumentKind.values():
        errors["kind"] = "Tipo de documento inválido: use receita, atestado ou pedido de exame."
    try:
        content = refuse_control_chars(content, "content", multiline=True) if isinstance(content, str) else ""
    except ValidationError as exc:
        errors.update(exc.errors)
    else:
        if not content.strip():
            errors["content"] = "Escreva o conteúdo do documento."
        elif len(content) > MAX_CONTENT:
            errors["content"] = f"Conteúdo longo demais (máximo de {MAX_CONTENT} caracteres)."
    if errors:
        raise ValidationError(errors)
    return content


def issue_document(patient_id: int, kind: str, content: str) -> IssuedDocument:
    """Issue a document of free text signed by the current user, who must be an active dentist."""
    content = _validate(kind, content)
    with unit_of_work(PACIENTES):
        dentist = require_active_dentist(current_actor().user_id)
        patient = require_patient(patient_id)
        document = IssuedDocument(patient_id=patient.id, dentist_user_id=dentist.id, kind=kind, content=content)
        db.session.add(document)
        db.session.flush()  # the summary names the new id
        add_timeline(
            db.session,
            document,
            "document_issued",
            f"{_title(kind)} #{document.id} {_ISSUED[kind]} por {dentist.full_name}.",
        )
    return document


def print_document(document_id: int) -> IssuedDocument:
    """The document as issued, for printing; each print (and reprint) is a `document_print` row, an audit event
    and a timeline line."""
    with unit_of_work(PACIENTES):
        document = get_or_404(IssuedDocument, document_id, "Documento")
        db.session.add(DocumentPrint(document=document, by_user_id=current_actor().user_id))
        summary = f"{_title(document.kind)} #{document.id} {_PRINTED[document.kind]}."
        record_event(
            db.session,
            PACIENTES,
            "print_document",
            "issued_document",
            document.id,
            patient_id=document.patient_id,
            timeline={"kind": "document_printed", "summary": summary},
        )
    return document


def get_document(patient_id: int, document_id: int) -> IssuedDocument:
    """A document of this patient, or NotFound (a document of another patient is not found under this record)."""
    document = get_or_404(IssuedDocument, document_id, "Documento")
    if document.patient_id != patient_id:
        raise NotFound("Documento", document_id)
    return document


def signer_of(document: IssuedDocument) -> User | None:
    """The dentist who issued a document (name and CRO for the signature)."""
    return db.session.get(User, document.dentist_user_id)


def prints_of(document_ids: Iterable[int]) -> dict[int, list[DocumentPrint]]:
    """{document id: its prints, oldest first}, in one query."""
    ids = set(document_ids)
    prints = {document_id: [] for document_id in ids}
    if ids:
        query = select(DocumentPrint).where(DocumentPrint.document_id.in_(ids)).order_by(DocumentPrint.id)
        for row in db.session.scalars(query):
            prints[row.document_id].append(row)
    return prints


def documents_of_patient(patient_id: int) -> list[IssuedDocument]:
    """Every document issued to a patient, newest first."""
    get_or_404(Patient, patient_id, "Paciente")
    return list(
        db.session.scalars(
            select(IssuedDocument)
            .where(IssuedDocument.patient_id == patient_id)
            .order_by(IssuedDocument.issued_at.desc(), IssuedDocument.id.desc())
        )
    )


# --- structured documents -----------------------------------------------------------------------------------


def _store(patient_id: int, kind: str, fields: dict) -> IssuedDocument:
    """Issue a structured document: its checked fields as JSON text."""
    content = json.dumps({"format": FORMAT, **fields}, ensure_ascii=False, sort_keys=True, indent=1)
    return issue_document(patient_id, kind, content)


def _line(value, field: str, max_length: int, errors: dict, *, multiline: bool = False) -> str | None:
    """One text field of a structured document, checked; a problem goes into `errors` under `field`."""
    try:
        return clean_text(value, field, multiline=multiline, max_length=max_length)
    except ValidationError as exc:
        errors.update(exc.errors)
        return None


def issue_prescription(patient_id: int, medications: list[dict]) -> IssuedDocument:
    """A prescription (receituário): one or more medications, each with name, dose and directions.

    Rows left wholly blank are ignored; a row with a dose or directions needs the medication's name. Field
    errors are named `medications-<row>-<field>` (the row as given) and `medications` for the whole list.
    """
    errors, rows = {}, []
    for index, row in enumerate(medications or []):
        name = _line(row.get("name"), f"medications-{index}-name", MAX_NAME, errors)
        dose = _line(row.get("dose"), f"medications-{index}-dose", MAX_NAME, errors)
        directions = _line(row.get("directions"), f"medications-{index}-directions", MAX_DIRECTIONS, errors)
        if not (name or dose or directions):
            continue
        if not name and f"medications-{index}-name" not in errors:
            errors[f"medications-{index}-name"] = "Informe o medicamento desta linha."
        rows.append({"name": name, "dose": dose, "directions": directions})
    if not rows and not errors:
        errors["medications"] = "Informe ao menos um medicamento."
    elif len(rows) > MAX_ROWS:
        errors["medications"] = f"No máximo {MAX_ROWS} medicamentos por receita."
    if errors:
        raise ValidationError(errors)
    return _store(patient_id, DocumentKind.PRESCRIPTION, {"medications": rows})


def _parse_date(value, field: str, errors: dict) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        errors[field] = "Informe a data (dd/mm/aaaa)."
        return None


def _parse_time(value, field: str, errors: dict) -> time | None:
    if value is None or isinstance(value, time):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return time.fromisoformat(text).replace(second=0, microsecond=0, tzinfo=None)
    except ValueError:
        errors[field] = "Informe o horário (hh:mm)."
        return None


def _parse_days(value, errors: dict) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        days = int(str(value).strip())
    except ValueError:
        errors["days"] = "Informe o número de dias."
        return None
    if not 1 <= days <= MAX_ABSENCE_DAYS:
        errors["days"] = f"Informe de 1 a {MAX_ABSENCE_DAYS} dias."
        return None
    return days


def parse_cid(value) -> str | None:
    """A CID-10 code as printed (`K02.1`, `K08`), from `k021`, `K02.1`...; None when blank; ValidationError else."""
    text = "".join(str(value or "").split()).upper()
    if not text:
        return None
    match = CID.match(text)
    if match is None:
        raise ValidationError({"cid": "Código CID inválido: use o formato K02.1."})
    return f"{match[1]}.{match[2]}" if match[2] else match[1]


def issue_certificate(
    patient_id: int,
    day,
    days=None,
    start=None,
    end=None,
    cid=None,
    cid_consent: bool = False,
) -> IssuedDocument:
    """A certificate (atestado) for `day` (not in the future): absence for `days` days, or attendance from `start`
    to `end`; a CID code only with the patient's consent, which is recorded with it."""
    errors = {}
    day = _parse_date(day, "day", errors)
    if day is not None and day > clinic_day():
        errors["day"] = "A data do atestado não pode estar no futuro."
    days = _parse_days(days, errors)
    start, end = _parse_time(start, "start", errors), _parse_time(end, "end", errors)
    has_range = start is not None or end is not None
    if not errors:
        if days is not None and has_range:
            errors["days"] = "Informe o afastamento em dias ou o horário de comparecimento, não os dois."
        elif days is None and not has_range:
            errors["days"] = "Informe os dias de afastamento ou o horário de comparecimento."
        elif has_range and (start is None or end is None):
            errors["start" if start is None else "end"] = "Informe o início e o fim do comparecimento."
        elif has_range and start >= end:
            errors["end"] = "O fim do comparecimento deve ser depois do início."
    try:
        cid = parse_cid(cid)
    except ValidationError as exc:
        errors.update(exc.errors)
    else:
        if cid is not None and not cid_consent:
            errors["cid"] = (
                "O CID só pode constar no atestado com o consentimento do paciente: "
                "marque a autorização ou deixe o código em branco."
            )
    if errors:
        raise ValidationError(errors)
    fields = {
        "day": day.isoformat(),
        "days": days,
        "start": start.strftime("%H:%M") if start else None,
        "end": end.strftime("%H:%M") if end else None,
        "cid": cid,
        "cid_consent": bool(cid_consent),
    }
    return _store(patient_id, DocumentKind.CERTIFICATE, fields)


def issue_exam_request(patient_id: int, exams: list[str], indication: str | None = None) -> IssuedDocument:
    """An exam request (pedido de exame): one or more exams, blank rows ignored, and the clinical indication."""
    errors, rows = {}, []
    for index, exam in enumerate(exams or []):
        name = _line(exam, f"exams-{index}", MAX_NAME, errors)
        if name:
            rows.append(name)
    indication = _line(indication, "indication", MAX_INDICATION, errors, multiline=True)
    if not rows and not errors:
        errors["exams"] = "Informe ao menos um exame."
    elif len(rows) > MAX_ROWS:
        errors["exams"] = f"No máximo {MAX_ROWS} exames por pedido."
    if errors:
        raise ValidationError(errors)
    return _store(patient_id, DocumentKind.EXAM_REQUEST, {"exams": rows, "indication": indication})


@dataclass(frozen=True)
class Content:
    """What a document says, read back from what was stored: `fields` of a structured document, else `text`."""

    kind: str
    fields: dict | None
    text: str | None

    @property
    def day(self) -> date | None:
        """A certificate's date."""
        return date.fromisoformat(self.fields["day"]) if self.fields and self.fields.get("day") else None


def content_of(document: IssuedDocument) -> Content:
    """A document's content as issued: the structured fields its form stored, or its free text."""
    try:
        data = json.loads(document.content)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("format") == FORMAT:
        return Content(document.kind, data, None)
    return Content(document.kind, None, document.content)


def summary_of(document: IssuedDocument) -> str:
    """One line for the documents list: the medications, the period of absence, the exams, or the text's start."""
    content = content_of(document)
    fields = content.fields
    if fields is None:
        text = " ".join(content.text.split())
        return text if len(text) <= 120 else text[:119] + "…"
    if document.kind == DocumentKind.PRESCRIPTION:
        return "; ".join(" ".join(filter(None, (m["name"], m.get("dose")))) for m in fields["medications"])
    if document.kind == DocumentKind.EXAM_REQUEST:
        return "; ".join(fields["exams"])
    day = format_date(content.day)
    if fields.get("days"):
        return f"Afastamento de {fields['days']} dia(s) a partir de {day}"
    return f"Comparecimento em {day}, das {fields['start']} às {fields['end']}"
