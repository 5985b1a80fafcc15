"""Audit capture: one session-level mechanism that no service can forget.

After every flush, each new, changed or deleted row of `pacientes` and `users` becomes an event in the
`audit_outbox` table of the same bind, on the same connection and in the same transaction as the change
itself. After the commit, the relay (app/db/relay.py) moves the events to history.db.
Services add what the ORM cannot see (logins, record views, prints, timeline summaries) with
`record_event` and `add_timeline`, which go through the same outbox.
"""

import json
import uuid
from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session

from app.db import PACIENTES, USERS, engine_of
from app.db.actor import current_actor
from app.db.types import utcnow
from app.db.unit_of_work import WRITE_BINDS, UnitOfWorkError, object_bind

AUDITED_BINDS = (PACIENTES, USERS)
REDACTED = "[redacted]"
PENDING_RELAY = "sorriso_pending_relay"
LABELS = "sorriso_audit_labels"
TIMELINES = "sorriso_pending_timelines"
_STATUS_ACTIONS = {True: "activate", False: "deactivate"}


def outbox_table(bind: str):
    """The outbox table of an audited bind."""
    from app.models.pacientes import PacientesOutbox
    from app.models.users import UsersOutbox

    return {PACIENTES: PacientesOutbox, USERS: UsersOutbox}[bind].__table__


def to_json_value(value):
    """A JSON-safe form of a column value."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _is_secret(column_attr) -> bool:
    return any(col.info.get("secret") for col in column_attr.columns)


def _is_audited(column_attr) -> bool:
    """Columns marked `info={"audited": False}` (bookkeeping such as a session's last use) never make events."""
    return all(col.info.get("audited", True) for col in column_attr.columns)


def _row_changes(obj, kind: str) -> dict:
    """Changed columns as {name: [old, new]}; secrets appear only as "[redacted]"."""
    state = inspect(obj)
    changes = {}
    for attr in state.mapper.column_attrs:
        if not _is_audited(attr):
            continue
        hist = state.attrs[attr.key].history
        if kind == "create":
            old, new = None, getattr(obj, attr.key)
            if new is None:
                continue
        elif kind == "delete":
            old, new = getattr(obj, attr.key), None
        else:
            if not hist.has_changes():
                continue
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old == new:
                continue
        if _is_secret(attr):
            changes[attr.key] = [REDACTED if old is not None else None, REDACTED]
        else:
            changes[attr.key] = [to_json_value(old), to_json_value(new)]
    return changes


def _patient_id_of(obj) -> int | None:
    """The patient a row belongs to: its `patient_id` column, or what its `owner_patient_id` property says."""
    if hasattr(type(obj), "owner_patient_id"):  # on the class: a failing property must not be swallowed
        return obj.owner_patient_id
    return getattr(obj, "patient_id", None)


def audit_payload(action: str, bind: str, table: str, row_id, patient_id=None, changes=None) -> dict:
    """The audit part of an outbox event, stamped with the current actor and time."""
    actor = current_actor()
    return {
        "occurred_at": utcnow().isoformat(),
        "actor_user_id": actor.user_id,
        "action": action,
        "bind": bind,
        "table_name": table,
        "row_id": row_id,
        "patient_id": patient_id,
        "changes": changes or {},
        "request_path": actor.request_path,
        "client_addr": actor.client_addr,
    }


def _write_outbox(session: Session, bind: str, events: list[dict]) -> None:
    """Insert one outbox row holding these events, on the session's own connection (same transaction).

    Each event carries its own id (history deduplicates on it); the row's id names the batch.
    """
    if not events:
        return
    declared = session.info.get(WRITE_BINDS)
    if declared is None or bind not in declared:
        raise UnitOfWorkError(f"audit events for {bind} need a unit of work that declares {bind}")
    for event_ in events:
        event_["event_id"] = uuid.uuid4().hex
    row = {"event_id": uuid.uuid4().hex, "created_at": utcnow(), "payload": json.dumps({"events": events})}
    session.connection(bind_arguments={"bind": engine_of(bind)}).execute(insert(outbox_table(bind)), row)
    session.info.setdefault(PENDING_RELAY, set()).add(bind)


def record_event(
    session: Session,
    bind: str,
    action: str,
    table: str,
    row_id,
    patient_id=None,
    changes=None,
    timeline: dict | None = None,
) -> None:
    """Add an event the ORM cannot see (login, record view, print), optionally with a timeline line."""
    event_ = {"audit": audit_payload(action, bind, table, row_id, patient_id, changes)}
    if timeline:
        event_["timeline"] = timeline_payload(patient_id, table=table, row_id=row_id, **timeline)
    _write_outbox(session, bind, [event_])


def timeline_payload(patient_id: int, kind: str, summary: str, table: str | None = None, row_id=None) -> dict:
    """The timeline part of an outbox event."""
    return {
        "patient_id": patient_id,
        "occurred_at": utcnow().isoformat(),
        "kind": kind,
        "summary": summary,
        "actor_user_id": current_actor().user_id,
        "source_table": table,
        "source_row_id": row_id,
    }


def label_change(session: Session, obj, action: str) -> None:
    """Name the audit action of an object's next flushed change ("login", "password_change", ...)."""
    session.info.setdefault(LABELS, {})[id(obj)] = action


def add_timeline(session: Session, obj, kind: str, summary: str) -> None:
    """Add a readable line to the timeline of the patient a pacientes row belongs to, via the outbox.

    The line travels in the same event as the row's own change when the row has one to flush;
    otherwise it is written on its own just before the commit.
    """
    session.info.setdefault(TIMELINES, {})[id(obj)] = (obj, kind, summary)
    session.flush()


def _timeline_for(obj, kind: str, summary: str) -> dict:
    """The timeline part of an event about `obj`; a row that belongs to no patient is a programming error."""
    if _patient_id_of(obj) is None:
        raise UnitOfWorkError(f"a timeline line needs a patient, and {type(obj).__name__} names none")
    mapper = inspect(obj).mapper
    row_id = mapper.primary_key_from_instance(obj)[0]
    return timeline_payload(_patient_id_of(obj), kind, summary, mapper.local_table.name, row_id)


@event.listens_for(Session, "after_flush")
def _capture_changes(session, _flush_context):
    """Turn every flushed change of an audited bind into an event in that bind's outbox."""
    by_bind = defaultdict(list)
    labels = session.info.pop(LABELS, {})
    timelines = session.info.get(TIMELINES, {})
    for kind, objects in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            bind = object_bind(obj)
            if bind not in AUDITED_BINDS or not getattr(obj, "__audited__", True):
                continue  # derived rows (search tokens) are covered by the audit event of their source
            changes = _row_changes(obj, kind)
            if kind == "update" and not changes:
                continue
            action = labels.get(id(obj), kind)
            if action == "update" and "is_active" in changes:
                action = _STATUS_ACTIONS[bool(changes["is_active"][1])]
            mapper = inspect(obj).mapper
            row_id = mapper.primary_key_from_instance(obj)[0]
            event_ = {
                "audit": audit_payload(action, bind, mapper.local_table.name, row_id, _patient_id_of(obj), changes)
            }
            if id(obj) in timelines:
                event_["timeline"] = _timeline_for(*timelines.pop(id(obj)))
            by_bind[bind].append(event_)
    for bind, events in by_bind.items():
        _write_outbox(session, bind, events)


@event.listens_for(Session, "before_commit")
def _write_remaining_timelines(session):
    """Timeline lines about rows with nothing left to flush still reach the outbox, in this transaction."""
    if session.info.get(TIMELINES):
        session.flush()
        leftovers = session.info.pop(TIMELINES, {})
        _write_outbox(session, PACIENTES, [{"timeline": _timeline_for(*entry)} for entry in leftovers.values()])


@event.listens_for(Session, "after_commit")
def _relay_after_commit(session):
    """Move the events just committed to history.db; a failure here leaves them safe in the outbox."""
    binds = session.info.pop(PENDING_RELAY, None)
    if binds:
        from app.db.relay import relay_after_commit

        relay_after_commit(sorted(binds))


@event.listens_for(Session, "after_rollback")
def _forget_pending(session):
    """Rolled-back events never reached the outbox."""
    session.info.pop(PENDING_RELAY, None)
    session.info.pop(LABELS, None)
    session.info.pop(TIMELINES, None)
