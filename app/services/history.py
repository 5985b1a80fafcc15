"""Reading history.db: a patient's timeline and the audit log viewer, paginated, a fixed number of queries a page.

history.db is append-only; this module only reads it. Names of users and patients (other binds) are fetched
for a whole page in one query each, never one query per row.
"""

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import distinct, func, select

from app.extensions import db
from app.models.history import AuditEvent, TimelineEvent
from app.models.pacientes import Patient
from app.models.users import User
from app.services.clock import clinic_tz
from app.services.guards import get_or_404
from app.services.patients import Page

MAX_PER_PAGE = 100

ACTION_LABELS = {
    "create": "criação",
    "update": "alteração",
    "delete": "exclusão",
    "activate": "ativação",
    "deactivate": "desativação",
    "login": "entrada",
    "login_failed": "entrada recusada",
    "login_refused_locked": "entrada recusada (conta bloqueada)",
    "lockout": "entrada atrasada por tentativas erradas",
    "login_refused_address": "entrada recusada (tentativas demais deste endereço)",
    "unlock": "desbloqueio de entrada",
    "logout": "saída",
    "session_start": "início de sessão",
    "session_end": "sessão encerrada",
    "password_change": "troca de senha",
    "password_change_failed": "troca de senha recusada (senha atual errada)",
    "password_change_refused": "troca de senha recusada (tentativas demais)",
    "view_record": "abertura de prontuário",
    "print_document": "impressão de documento",
    "data_report": "relatório de dados (LGPD)",
}


@dataclass(frozen=True)
class Change:
    """One field of an audit event: its old and new value."""

    field: str
    old: object
    new: object


@dataclass(frozen=True)
class AuditRow:
    """An audit event ready for display: who, what, which patient and the changed fields."""

    event: AuditEvent
    actor_name: str | None
    patient_name: str | None
    changes: list[Change]
    account_name: str | None = None  # the staff account a `user` row event is about (logins, role changes)

    @property
    def action_label(self) -> str:
        """The action in Portuguese."""
        return ACTION_LABELS.get(self.event.action, self.event.action)


@dataclass(frozen=True)
class TimelineRow:
    """A timeline line with the name of the person who caused it."""

    event: TimelineEvent
    actor_name: str | None


@dataclass(frozen=True)
class AuditFilters:
    """What the audit viewer filters on; None means "any"."""

    user_id: int | None = None
    patient_id: int | None = None
    action: str | None = None
    table_name: str | None = None
    date_from: date | None = None
    date_to: date | None = None


def _bounds(page: int, per_page: int) -> tuple[int, int]:
    return max(1, int(page)), min(max(1, int(per_page)), MAX_PER_PAGE)


def user_names(user_ids) -> dict[int, str]:
    """{user id: full name} for a set of ids, in one query on the users bind."""
    ids = {uid for uid in user_ids if uid is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all())


def patient_names(patient_ids) -> dict[int, str]:
    """{patient id: full name} for a set of ids, in one query on the pacientes bind."""
    ids = {pid for pid in patient_ids if pid is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Patient.id, Patient.full_name).where(Patient.id.in_(ids))).all())


def _paginate(query, order, page: int, per_page: int) -> tuple[list, int]:
    """One page of rows and the total count: two queries."""
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(*order).limit(per_page).offset((page - 1) * per_page)).all()
    return list(rows), total


def patient_timeline(patient_id: int, page: int = 1, per_page: int = 20) -> Page:
    """A patient's timeline, newest first, as TimelineRow items (NotFound for an unknown patient)."""
    get_or_404(Patient, patient_id, "Paciente")
    page, per_page = _bounds(page, per_page)
    query = select(TimelineEvent).where(TimelineEvent.patient_id == patient_id)
    events, total = _paginate(query, (TimelineEvent.occurred_at.desc(), TimelineEvent.id.desc()), page, per_page)
    names = user_names(e.actor_user_id for e in events)
    return Page([TimelineRow(e, names.get(e.actor_user_id)) for e in events], total, page, per_page)


def _clinic_midnight(day: date) -> datetime:
    """The instant the clinic's day `day` starts (aware, in the clinic's time zone)."""
    return datetime.combine(day, time.min, tzinfo=clinic_tz())


def _audit_query(filters: AuditFilters):
    query = select(AuditEvent)
    if filters.user_id is not None:
        query = query.where(AuditEvent.actor_user_id == filters.user_id)
    if filters.patient_id is not None:
        query = query.where(AuditEvent.patient_id == filters.patient_id)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.table_name:
        query = query.where(AuditEvent.table_name == filters.table_name)
    if filters.date_from:
        query = query.where(AuditEvent.occurred_at >= _clinic_midnight(filters.date_from))
    if filters.date_to:
        query = query.where(AuditEvent.occurred_at < _clinic_midnight(filters.date_to + timedelta(days=1)))
    return query


def parse_changes(raw: str | None) -> list[Change]:
    """The {field: [old, new]} JSON of an audit event as a list of Change, in field order."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return [Change("?", None, raw)]
    changes = []
    for name, value in sorted(data.items()):
        old, new = value if isinstance(value, list) and len(value) == 2 else (None, value)
        changes.append(Change(name, old, new))
    return changes


def search_audit(filters: AuditFilters, page: int = 1, per_page: int = 50) -> Page:
    """Audit events matching the filters, newest first, as AuditRow items; four queries whatever the page size."""
    page, per_page = _bounds(page, per_page)
    order = (AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    events, total = _paginate(_audit_query(filters), order, page, per_page)
    accounts = [e.row_id for e in events if e.table_name == "user"]
    names = user_names([*(e.actor_user_id for e in events), *accounts])
    patients = patient_names(e.patient_id for e in events)
    rows = [
        AuditRow(
            e,
            names.get(e.actor_user_id),
            patients.get(e.patient_id),
            parse_changes(e.changes),
            names.get(e.row_id) if e.table_name == "user" else None,
        )
        for e in events
    ]
    return Page(rows, total, page, per_page)


def audit_choices() -> tuple[list[str], list[str]]:
    """The distinct actions and table names present in the audit log (for the viewer's filters)."""
    actions = db.session.scalars(select(distinct(AuditEvent.action)).order_by(AuditEvent.action)).all()
    tables = db.session.scalars(select(distinct(AuditEvent.table_name)).order_by(AuditEvent.table_name)).all()
    return list(actions), list(tables)
