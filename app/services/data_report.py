"""The patient data report (LGPD art. 18): everything Sorriso holds about one patient, and who read or changed it.

`produce_data_report` checks who may ask (an administrator, or a dentist with an appointment or a plan for the
patient: PermissionDenied otherwise), audits the production (action `data_report`, like `view_record`, through
the outbox) and gathers the rows in a fixed number of queries: one per kind of row, one for every staff name,
one for the audit trail. `as_json` turns the report into plain JSON values, every stored column included.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, inspect, or_, select
from sqlalchemy.orm import selectinload

from app.db import PACIENTES
from app.db.actor import current_actor
from app.db.audit import record_event, to_json_value
from app.db.types import utcnow
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.history import AuditEvent, TimelineEvent
from app.models.pacientes import (
    Anamnesis,
    Appointment,
    AppointmentContact,
    ClinicalNote,
    Installment,
    IssuedDocument,
    Patient,
    Payment,
    Recall,
    ToothFinding,
    TreatmentPlan,
)
from app.models.users import User
from app.services.errors import PermissionDenied, ValidationError
from app.services.guards import get_or_404
from app.services.history import ACTION_LABELS, parse_changes, user_names
from app.services.plans import PlanBalance, plan_balances
from app.vocabulary import Role

ACTION = "data_report"
FORMATS = ("html", "json")
TABLE_LABELS = {
    "patient": "cadastro",
    "anamnesis": "anamnese",
    "appointment": "consulta",
    "appointment_contact": "contato de confirmação",
    "treatment_plan": "plano de tratamento",
    "treatment_item": "item de plano",
    "installment": "parcela",
    "payment": "pagamento",
    "clinical_note": "evolução clínica",
    "issued_document": "documento",
    "tooth_finding": "odontograma",
    "recall": "retorno",
    "recall_attempt": "tentativa de contato",
}


@dataclass(frozen=True)
class AccessEntry:
    """One audit event about the patient: when, who, what they did, to which row, which fields."""

    occurred_at: datetime
    actor_user_id: int | None
    actor_name: str | None
    action: str
    table_name: str
    row_id: int | None
    fields: list[str]
    request_path: str | None

    @property
    def action_label(self) -> str:
        """The action in Portuguese."""
        return ACTION_LABELS.get(self.action, self.action)

    @property
    def table_label(self) -> str:
        """What kind of row the event is about, in Portuguese."""
        return TABLE_LABELS.get(self.table_name, self.table_name)


@dataclass
class DataReport:
    """Everything about one patient, each kind of row oldest first, with the names of the staff involved."""

    patient: Patient
    generated_at: datetime
    generated_by: int | None
    anamnesis: Anamnesis | None
    appointments: list[Appointment]
    contacts: list[AppointmentContact]
    plans: list[TreatmentPlan]
    installments: list[Installment]
    payments: list[Payment]
    notes: list[ClinicalNote]
    documents: list[IssuedDocument]
    findings: list[ToothFinding]
    recalls: list[Recall]
    timeline: list[TimelineEvent]
    access: list[AccessEntry]
    names: dict[int, str] = field(default_factory=dict)
    balances: dict[int, PlanBalance] = field(default_factory=dict)

    def name(self, user_id: int | None) -> str:
        """A staff member's name (or "—")."""
        return self.names.get(user_id, "—") if user_id is not None else "—"

    @property
    def readers(self) -> list[str]:
        """Every staff member who opened or changed the record, by name, each once."""
        return sorted({entry.actor_name for entry in self.access if entry.actor_name})


def may_produce(patient_id: int, user: User) -> bool:
    """Whether a staff account may produce this patient's report: an admin, or one of the patient's dentists."""
    if not user.is_active:
        return False
    if user.role == Role.ADMIN:
        return True
    if user.role != Role.DENTIST:
        return False
    related = or_(
        select(Appointment.id)
        .where(Appointment.patient_id == patient_id, Appointment.dentist_user_id == user.id)
        .exists(),
        select(TreatmentPlan.id)
        .where(TreatmentPlan.patient_id == patient_id, TreatmentPlan.dentist_user_id == user.id)
        .exists(),
    )
    return bool(db.session.scalar(select(related)))


def require_may_produce(patient_id: int) -> None:
    """NotFound for an unknown patient; PermissionDenied unless the current actor may produce its report."""
    get_or_404(Patient, patient_id, "Paciente")
    user_id = current_actor().user_id
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is None or not may_produce(patient_id, user):
        raise PermissionDenied(
            "Só administradores e os dentistas que atendem este paciente podem gerar o relatório de dados."
        )


def produce_data_report(patient_id: int, output: str = "html") -> DataReport:
    """Check the actor may, audit the production (with a timeline line), then gather the report."""
    if output not in FORMATS:
        raise ValidationError({"format": "Formato desconhecido."})
    require_may_produce(patient_id)
    with unit_of_work(PACIENTES):
        patient = get_or_404(Patient, patient_id, "Paciente")
        record_event(
            db.session,
            PACIENTES,
            ACTION,
            "patient",
            patient.id,
            patient_id=patient.id,
            changes={"format": [None, output]},
            timeline={"kind": ACTION, "summary": "Relatório de dados pessoais (LGPD) gerado."},
        )
    return gather(patient_id)


def _access(patient_id: int) -> list[AuditEvent]:
    """Audit events about the patient: those stamped with the patient, and any on the patient row itself."""
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(
                or_(
                    AuditEvent.patient_id == patient_id,
                    and_(AuditEvent.table_name == "patient", AuditEvent.row_id == patient_id),
                )
            )
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
    )


def _changed_fields(raw: str | None) -> list[str]:
    """The names of the fields an audit event changed."""
    return [change.field for change in parse_changes(raw)]


def gather(patient_id: int) -> DataReport:
    """Every row about the patient, one query per kind of row (no permission check, no audit: see above)."""
    patient = get_or_404(Patient, patient_id, "Paciente")
    appointments = list(
        db.session.scalars(
            select(Appointment).where(Appointment.patient_id == patient_id).order_by(Appointment.starts_at)
        )
    )
    contacts = list(
        db.session.scalars(
            select(AppointmentContact)
            .join(Appointment, AppointmentContact.appointment_id == Appointment.id)
            .where(Appointment.patient_id == patient_id)
            .order_by(AppointmentContact.contacted_at)
        )
    )
    plans = list(
        db.session.scalars(
            select(TreatmentPlan)
            .options(selectinload(TreatmentPlan.items))
            .where(TreatmentPlan.patient_id == patient_id)
            .order_by(TreatmentPlan.created_at, TreatmentPlan.id)
        )
    )
    plan_ids = [plan.id for plan in plans]
    installments = list(
        db.session.scalars(
            select(Installment)
            .where(Installment.plan_id.in_(plan_ids))
            .order_by(Installment.plan_id, Installment.number)
        )
    )
    payments = list(
        db.session.scalars(select(Payment).where(Payment.plan_id.in_(plan_ids)).order_by(Payment.paid_at, Payment.id))
    )
    notes = list(
        db.session.scalars(
            select(ClinicalNote).where(ClinicalNote.patient_id == patient_id).order_by(ClinicalNote.created_at)
        )
    )
    documents = list(
        db.session.scalars(
            select(IssuedDocument).where(IssuedDocument.patient_id == patient_id).order_by(IssuedDocument.issued_at)
        )
    )
    findings = list(
        db.session.scalars(
            select(ToothFinding)
            .where(ToothFinding.patient_id == patient_id)
            .order_by(ToothFinding.recorded_at, ToothFinding.id)
        )
    )
    recalls = list(
        db.session.scalars(
            select(Recall)
            .options(selectinload(Recall.attempts))
            .where(Recall.patient_id == patient_id)
            .order_by(Recall.due_date)
        )
    )
    timeline = list(
        db.session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.patient_id == patient_id)
            .order_by(TimelineEvent.occurred_at, TimelineEvent.id)
        )
    )
    events = _access(patient_id)
    names = user_names(
        [
            patient.created_by_user_id,
            patient.anamnesis.updated_by_user_id if patient.anamnesis else None,
            *(a.dentist_user_id for a in appointments),
            *(a.created_by_user_id for a in appointments),
            *(c.by_user_id for c in contacts),
            *(p.dentist_user_id for p in plans),
            *(p.received_by_user_id for p in payments),
            *(n.dentist_user_id for n in notes),
            *(d.dentist_user_id for d in documents),
            *(f.recorded_by_user_id for f in findings),
            *(r.created_by_user_id for r in recalls),
            *(attempt.by_user_id for r in recalls for attempt in r.attempts),
            *(t.actor_user_id for t in timeline),
            *(e.actor_user_id for e in events),
            current_actor().user_id,
        ]
    )
    access = [
        AccessEntry(
            e.occurred_at,
            e.actor_user_id,
            names.get(e.actor_user_id),
            e.action,
            e.table_name,
            e.row_id,
            _changed_fields(e.changes),
            e.request_path,
        )
        for e in events
    ]
    return DataReport(
        patient=patient,
        generated_at=utcnow(),
        generated_by=current_actor().user_id,
        anamnesis=patient.anamnesis,
        appointments=appointments,
        contacts=contacts,
        plans=plans,
        installments=installments,
        payments=payments,
        notes=notes,
        documents=documents,
        findings=findings,
        recalls=recalls,
        timeline=timeline,
        access=access,
        names=names,
        balances=plan_balances(plan_ids),
    )


def _columns(row) -> dict:
    """Every stored column of an ORM row, as JSON values."""
    return {attr.key: to_json_value(getattr(row, attr.key)) for attr in inspect(row).mapper.column_attrs}


def as_json(report: DataReport) -> dict:
    """The report as plain JSON values: every column of every row, plus staff names and the access list."""

    def when(value: datetime | date | None):
        return to_json_value(value)

    return {
        "generated_at": when(report.generated_at),
        "generated_by": report.name(report.generated_by),
        "patient": _columns(report.patient),
        "anamnesis": _columns(report.anamnesis) if report.anamnesis else None,
        "appointments": [_columns(row) for row in report.appointments],
        "appointment_contacts": [_columns(row) for row in report.contacts],
        "treatment_plans": [
            {
                **_columns(plan),
                "items": [_columns(item) for item in plan.items],
                "balance_cents": report.balances[plan.id].balance_cents if plan.id in report.balances else None,
            }
            for plan in report.plans
        ],
        "installments": [_columns(row) for row in report.installments],
        "payments": [_columns(row) for row in report.payments],
        "clinical_notes": [_columns(row) for row in report.notes],
        "issued_documents": [_columns(row) for row in report.documents],
        "tooth_findings": [_columns(row) for row in report.findings],
        "recalls": [
            {**_columns(recall), "attempts": [_columns(attempt) for attempt in recall.attempts]}
            for recall in report.recalls
        ],
        "timeline": [
            {**_columns(event), "actor_name": report.names.get(event.actor_user_id)} for event in report.timeline
        ],
        "access_log": [
            {
                "occurred_at": when(entry.occurred_at),
                "actor_user_id": entry.actor_user_id,
                "actor_name": entry.actor_name,
                "action": entry.action,
                "action_label": entry.action_label,
                "table": entry.table_name,
                "row_id": entry.row_id,
                "fields": entry.fields,
                "request_path": entry.request_path,
            }
            for entry in report.access
        ],
        "staff_names": {str(user_id): name for user_id, name in sorted(report.names.items())},
    }
