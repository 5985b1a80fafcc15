"""Issued documents (prescriptions, certificates): stored exactly as issued; every print is audited."""

from sqlalchemy import select

from app.db import PACIENTES
from app.db.actor import current_actor
from app.db.append_only import forbid_changes
from app.db.audit import add_timeline, record_event
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import IssuedDocument, Patient
from app.services.errors import PermissionDenied, ValidationError
from app.services.guards import get_or_404, require_active_dentist, require_patient
from app.services.validation import refuse_control_chars
from app.vocabulary import DocumentKind

# Portuguese past participles agree with the document's gender (a receita, o atestado).
_ISSUED = {DocumentKind.PRESCRIPTION: "emitida", DocumentKind.CERTIFICATE: "emitido"}
_PRINTED = {DocumentKind.PRESCRIPTION: "impressa", DocumentKind.CERTIFICATE: "impresso"}
MAX_CONTENT = 20_000

forbid_changes(
    IssuedDocument, PermissionDenied, "Documentos emitidos não podem ser alterados nem excluídos: emita um novo."
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
        errors["kind"] = "Tipo de documento inválido: use receita ou atestado."
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
    """Issue a prescription or certificate signed by the current user, who must be an active dentist."""
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
    """The document as issued, for printing; each print (and reprint) is an audit event and a timeline line."""
    with unit_of_work(PACIENTES):
        document = get_or_404(IssuedDocument, document_id, "Documento")
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
