"""Recalls: patients due for a call-back, the contact attempts, and the monthly call list."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.db import PACIENTES
from app.db.actor import current_actor
from app.db.audit import add_timeline
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import Patient, Recall, RecallAttempt
from app.services import settings, whatsapp
from app.services.clock import add_months, clinic_day, format_date
from app.services.errors import ConflictError, ValidationError
from app.services.guards import get_or_404, require_active_user, require_patient
from app.services.history import user_names
from app.services.locks import get_for_update
from app.services.patients import Page
from app.services.validation import column_limit, optional_text, required_text
from app.vocabulary import RecallOutcome, RecallStatus

# Outcomes that settle the recall: nobody needs to call again.
CLOSING_OUTCOMES = frozenset({RecallOutcome.SCHEDULED, RecallOutcome.DECLINED})
MAX_REASON, MAX_NOTES = column_limit(Recall, "reason"), column_limit(RecallAttempt, "notes")


def _parse_due_date(value) -> date:
    """A date, or an ISO date string (AAAA-MM-DD)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationError({"due_date": "Data do retorno inválida (use AAAA-MM-DD)."}) from None


def _clean_reason(reason: str | None) -> str:
    """The recall's reason: one line, required, at most 200 characters (the call-back list shows it)."""
    return required_text(reason, "reason", "Informe o motivo do retorno.", MAX_REASON)


def create_recall(patient_id: int, due_date, reason: str) -> Recall:
    """Put an active patient on the call-back list for a date; the creator (if any) must be an active user."""
    due = _parse_due_date(due_date)
    reason = _clean_reason(reason)
    actor = current_actor().user_id
    with unit_of_work(PACIENTES):
        if actor is not None:
            require_active_user(actor)
        patient = require_patient(patient_id)
        recall = Recall(
            patient_id=patient.id, due_date=due, reason=reason, status=RecallStatus.OPEN, created_by_user_id=actor
        )
        db.session.add(recall)
        add_timeline(db.session, recall, "recall_created", f"Retorno previsto para {format_date(due)}: {reason}.")
    return recall


def get_recall(recall_id: int) -> Recall:
    """One recall, for reading, or NotFound."""
    return get_or_404(Recall, recall_id, "Retorno")


def _open_recall(recall_id: int) -> Recall:
    """The recall `recall_id`, re-read for a change inside the caller's unit of work; it must still be open."""
    recall = get_for_update(Recall, recall_id, "Retorno")
    if recall.status != RecallStatus.OPEN:
        raise ConflictError("Este retorno já foi encerrado.")
    return recall


def record_attempt(recall_id: int, outcome: str, notes: str | None = None) -> RecallAttempt:
    """Record a contact attempt by the current user; 'scheduled' or 'declined' closes the recall as done."""
    if outcome not in RecallOutcome.values():
        raise ValidationError({"outcome": "Resultado do contato inválido."})
    notes = optional_text(notes, "notes", MAX_NOTES, multiline=True)
    with unit_of_work(PACIENTES):
        user = require_active_user(current_actor().user_id)
        recall = _open_recall(recall_id)
        require_patient(recall.patient_id)
        attempt = RecallAttempt(recall=recall, outcome=outcome, notes=notes, by_user_id=user.id)
        db.session.add(attempt)
        if outcome in CLOSING_OUTCOMES:
            recall.status = RecallStatus.DONE
        add_timeline(db.session, recall, "recall_attempt", f"Contato de retorno: {RecallOutcome.label_of(outcome)}.")
    return attempt


def cancel_recall(recall_id: int) -> Recall:
    """Take an open recall off the call-back list (also for a deactivated patient)."""
    actor = current_actor().user_id
    with unit_of_work(PACIENTES):
        if actor is not None:
            require_active_user(actor)
        recall = _open_recall(recall_id)
        recall.status = RecallStatus.CANCELLED
        add_timeline(db.session, recall, "recall_cancelled", f"Retorno de {format_date(recall.due_date)} cancelado.")
    return recall


@dataclass(frozen=True)
class DueRecall:
    """One line of the monthly call-back list: the recall (attempts loaded) and its patient."""

    recall: Recall
    patient: Patient


def recalls_due(month_first_day: date) -> list[DueRecall]:
    """Open recalls of active patients due in the month of `month_first_day`, by date then name; two queries."""
    start = month_first_day.replace(day=1)
    rows = db.session.execute(
        select(Recall, Patient)
        .join(Patient, Patient.id == Recall.patient_id)
        .where(
            Recall.status == RecallStatus.OPEN,
            Recall.due_date >= start,
            Recall.due_date < add_months(start, 1),
            Patient.is_active.is_(True),
        )
        .order_by(Recall.due_date, Patient.search_name, Recall.id)
        .options(selectinload(Recall.attempts))
    )
    return [DueRecall(recall, patient) for recall, patient in rows]


@dataclass(frozen=True)
class RecallLine:
    """One line of the call-back list: the recall, its patient, the last attempt and who made it, the link."""

    recall: Recall
    patient: Patient
    attempts: int
    last_attempt: RecallAttempt | None
    last_by: str
    whatsapp_link: str | None  # None: the patient has no mobile phone


def recall_link(patient: Patient) -> str | None:
    """The wa.me link with the clinic's recall template filled in for a patient, or None without a mobile."""
    clinic = settings.current()
    return whatsapp.link(patient.phone, clinic.recall_template, {"paciente": patient.full_name, "clinica": clinic.name})


def _open_recalls_of_active_patients():
    """Open recalls joined to their patients, only active patients (the call list's base query)."""
    return (
        select(Recall, Patient)
        .join(Patient, Patient.id == Recall.patient_id)
        .where(Recall.status == RecallStatus.OPEN, Patient.is_active.is_(True))
    )


def _lines(rows) -> list[RecallLine]:
    """Call-list lines for (recall, patient) rows whose attempts are loaded: one more query for the names."""
    rows = list(rows)
    last = {recall.id: recall.attempts[-1] for recall, _patient in rows if recall.attempts}
    names = user_names(attempt.by_user_id for attempt in last.values())
    return [
        RecallLine(
            recall,
            patient,
            len(recall.attempts),
            last.get(recall.id),
            names.get(last[recall.id].by_user_id, "") if recall.id in last else "",
            recall_link(patient),
        )
        for recall, patient in rows
    ]


def call_list(page: int = 1, per_page: int = 25, today: date | None = None) -> Page:
    """Open recalls due this month or overdue (active patients), oldest first, paginated: four queries a page."""
    month_end = add_months((today or clinic_day()).replace(day=1), 1)
    query = _open_recalls_of_active_patients().where(Recall.due_date < month_end)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.execute(
        query.order_by(Recall.due_date, Patient.search_name, Recall.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
        .options(selectinload(Recall.attempts))
    )
    return Page(_lines(rows), total, page, per_page)


@dataclass(frozen=True)
class WeekRecalls:
    """Open recalls due in the current week (Monday to Sunday): how many, and the first few."""

    first: date
    last: date
    total: int
    lines: list[RecallLine]


def due_this_week(today: date | None = None, limit: int = 5) -> WeekRecalls:
    """The week's open recalls of active patients, earliest first, at most `limit` of them with the total."""
    today = today or clinic_day()
    first = today - timedelta(days=today.weekday())
    last = first + timedelta(days=6)
    query = _open_recalls_of_active_patients().where(Recall.due_date >= first, Recall.due_date <= last)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.execute(
        query.order_by(Recall.due_date, Patient.search_name, Recall.id)
        .limit(limit)
        .options(selectinload(Recall.attempts))
    )
    return WeekRecalls(first, last, total, _lines(rows))


def recalls_of_patient(patient_id: int) -> list[Recall]:
    """Every recall of one patient, latest due date first, attempts loaded (two queries)."""
    return list(
        db.session.scalars(
            select(Recall)
            .where(Recall.patient_id == patient_id)
            .order_by(Recall.due_date.desc(), Recall.id.desc())
            .options(selectinload(Recall.attempts))
        )
    )
