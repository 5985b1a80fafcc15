"""`flask seed demo`: realistic demo data in batches, fast enough for 100,000 patients.

Staff accounts and the procedure catalogue go through the services / ORM, so each gets its normal audit
event. Patients and their anamnesis, appointments, plans, items and payments are inserted in bulk with Core,
one unit of work per batch, and each batch records ONE summary audit event (`seed_demo`, with the counts and
the patient id range) through the same outbox, so the audit chain stays complete and verifiable without
100,000s of per-row events.
"""

import random
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, insert, select

from app.db import PACIENTES, engine_of
from app.db.actor import acting_as
from app.db.audit import record_event
from app.db.types import utcnow
from app.db.unit_of_work import unit_of_work
from app.db.wal import keep_bounded
from app.extensions import db
from app.models.pacientes import (
    Anamnesis,
    Appointment,
    CashClosing,
    Patient,
    PatientSearchToken,
    Payment,
    Procedure,
    TreatmentItem,
    TreatmentPlan,
)
from app.models.users import User
from app.ops import demo_data as demo
from app.services import procedures as procedures_service
from app.services import users as users_service
from app.services.clock import clinic_day, clinic_tz
from app.services.patients import search_key, search_tokens
from app.services.validation import phone_national_digits
from app.vocabulary import AnamnesisStatus, AppointmentStatus, PaymentKind, PaymentMethod, PlanStatus, Role, Sex

SEED_PATH = "cli:seed demo"
AGENDA_DAYS_BACK = 730
AGENDA_DAYS_AHEAD = 14
DEMO_STAFF = (
    (Role.ADMIN, "admin", "Administração da Clínica", None),
    (Role.DENTIST, "dra.helena", "Dra. Helena Magalhães", "SP-123456"),
    (Role.RECEPTIONIST, "recepcao", "Júlia Araújo", None),
)
PER_TOOTH_CODES = {code for code, _name, _price, per_tooth in demo.PROCEDURES if per_tooth}
PAYMENT_METHODS = (
    (PaymentMethod.PIX, 35),
    (PaymentMethod.CREDIT, 25),
    (PaymentMethod.DEBIT, 20),
    (PaymentMethod.CASH, 15),
    (PaymentMethod.TRANSFER, 5),
)


@dataclass
class SeedResult:
    """What the seed created."""

    counts: dict = field(
        default_factory=lambda: dict.fromkeys(
            ("patients", "anamneses", "appointments", "treatment_plans", "treatment_items", "payments"), 0
        )
    )
    staff_created: list = field(default_factory=list)  # (username, role, password)
    procedures_created: int = 0


def _free_username(wanted: str) -> str:
    """`wanted`, or `wanted2`, `wanted3`... when taken."""
    taken = set(db.session.scalars(select(User.username).where(User.username.like(f"{wanted}%"))))
    candidate, n = wanted, 1
    while candidate in taken:
        n += 1
        candidate = f"{wanted}{n}"
    return candidate


def ensure_staff(result: SeedResult) -> tuple[list[int], int]:
    """Active dentists and a receptionist (and an admin) to own the demo data; missing ones are created."""
    for role, username, full_name, cro in DEMO_STAFF:
        active = select(User.id).where(User.role == role, User.is_active.is_(True))
        if db.session.scalar(active.limit(1)) is None:
            password = secrets.token_urlsafe(12)
            user = users_service.create_user(_free_username(username), full_name, role, password, cro=cro)
            result.staff_created.append((user.username, role, password))
    dentists = list(
        db.session.scalars(select(User.id).where(User.role == Role.DENTIST, User.is_active.is_(True)).order_by(User.id))
    )
    receptionist = db.session.scalar(
        select(User.id).where(User.role == Role.RECEPTIONIST, User.is_active.is_(True)).order_by(User.id).limit(1)
    )
    return dentists, receptionist


def ensure_procedures(result: SeedResult) -> list[Procedure]:
    """The demo catalogue, through the procedures service (each one audited), when no active procedure exists."""
    active = procedures_service.list_procedures()
    if active:
        return active
    codes = set(db.session.scalars(select(Procedure.code)))
    for code, name, price, _per_tooth in demo.PROCEDURES:
        if code not in codes:
            procedures_service.create_procedure(code, name, price)
            result.procedures_created += 1
    return procedures_service.list_procedures()


def _clinic_slots(rng: random.Random, days: Iterator[date]) -> Iterator[tuple[datetime, datetime]]:
    """Non-overlapping appointment slots, 08:00-18:00 on weekdays, in the clinic's time zone, as UTC."""
    tz = clinic_tz()
    for day in days:
        if day.weekday() >= 5:
            continue
        cursor = datetime.combine(day, time(8, 0), tz)
        closing = datetime.combine(day, time(18, 0), tz)
        while True:
            cursor += timedelta(minutes=rng.choice((0, 0, 0, 15, 30)))
            end = cursor + timedelta(minutes=rng.choice((30, 30, 45, 60)))
            if end > closing:
                break
            yield cursor.astimezone(UTC), end.astimezone(UTC)
            cursor = end


def _agenda_days(first_taken: date | None, today: date) -> Iterator[date]:
    """Days to fill for one dentist, most recent first: from two weeks ahead back two years.

    A dentist who already has appointments only gets days before the first of them, so nothing overlaps.
    """
    newest = today + timedelta(days=AGENDA_DAYS_AHEAD)
    if first_taken is not None:
        newest = min(newest, first_taken - timedelta(days=1))
    oldest = today - timedelta(days=AGENDA_DAYS_BACK)
    day = newest
    while day >= oldest:
        yield day
        day -= timedelta(days=1)


def _agendas(rng: random.Random, dentists: list[int], today: date) -> dict[int, Iterator]:
    """One slot generator per dentist."""
    tz = clinic_tz()
    agendas = {}
    for dentist in dentists:
        first = db.session.scalar(select(func.min(Appointment.starts_at)).where(Appointment.dentist_user_id == dentist))
        first_day = first.astimezone(tz).date() if first else None
        agendas[dentist] = _clinic_slots(rng, _agenda_days(first_day, today))
    return agendas


@dataclass
class SeedContext:
    """What every batch needs: randomness, staff, catalogue, free slots, used CPFs, closed days."""

    rng: random.Random
    dentists: list[int]
    receptionist: int
    procedures: list[tuple[int, str, int, bool]]
    agendas: dict
    used_cpfs: set
    closed_days: set
    now: datetime
    today: date


def _next_slot(ctx: SeedContext):
    """The next free slot of a random dentist who still has one: (dentist, start, end) or None."""
    while ctx.agendas:
        dentist = ctx.rng.choice(list(ctx.agendas))
        slot = next(ctx.agendas[dentist], None)
        if slot is not None:
            return dentist, *slot
        del ctx.agendas[dentist]
    return None


def _patient_row(ctx: SeedContext, registered: datetime) -> dict:
    """One patient's columns."""
    rng = ctx.rng
    sex = rng.choices((Sex.F, Sex.M, Sex.O), (52, 47, 1))[0]
    name = demo.person_name(rng, sex if sex != Sex.O else rng.choice("FM"))
    city = rng.choice(demo.CITIES)
    phone = demo.mobile_phone(rng, city.ddd)
    return {
        "full_name": name,
        "search_name": search_key(name),
        "cpf": demo.unique_cpf(rng, ctx.used_cpfs),
        "birth_date": demo.birth_date(rng, ctx.today),
        "sex": sex,
        "phone": phone,
        "phone_digits": phone_national_digits(phone),
        "email": demo.email_for(rng, name) if rng.random() < 0.45 else None,
        **demo.address(rng, city),
        "notes": "Prefere atendimento pela manhã." if rng.random() < 0.05 else None,
        "is_active": True,
        "created_by_user_id": ctx.receptionist,
        "created_at": registered,
        "updated_at": registered,
    }


def _sometimes(rng: random.Random, values: tuple[str, ...], chance: float) -> str | None:
    """One of `values` with probability `chance`, else None."""
    return rng.choice(values) if rng.random() < chance else None


def _anamnesis_row(ctx: SeedContext, patient_id: int, registered: datetime) -> dict:
    """A complete anamnesis (some with alerts) or a pending one."""
    rng = ctx.rng
    complete = rng.random() < 0.7
    updated = registered + (ctx.now - registered) * rng.random() if complete else registered
    return {
        "patient_id": patient_id,
        "status": AnamnesisStatus.COMPLETE if complete else AnamnesisStatus.PENDING,
        "allergies": _sometimes(rng, demo.ALLERGIES, 0.2 * complete),
        "medications": _sometimes(rng, demo.MEDICATIONS, 0.3 * complete),
        "conditions": _sometimes(rng, demo.CONDITIONS, 0.25 * complete),
        "notes": None,
        "updated_at": updated,
        "updated_by_user_id": rng.choice(ctx.dentists) if complete else ctx.receptionist,
    }


def _appointment_rows(ctx: SeedContext, patient_id: int) -> list[dict]:
    """Zero to three appointments in free slots; past ones attended, missed or cancelled."""
    rows = []
    for _ in range(ctx.rng.choices((0, 1, 2, 3), (35, 35, 20, 10))[0]):
        slot = _next_slot(ctx)
        if slot is None:
            break
        dentist, start, end = slot
        if start > ctx.now:
            upcoming = (AppointmentStatus.SCHEDULED, AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED)
            status = ctx.rng.choice(upcoming)
        else:
            status = ctx.rng.choices(
                (AppointmentStatus.ATTENDED, AppointmentStatus.MISSED, AppointmentStatus.CANCELLED), (80, 10, 10)
            )[0]
        rows.append(
            {
                "patient_id": patient_id,
                "dentist_user_id": dentist,
                "starts_at": start,
                "ends_at": end,
                "status": status,
                "notes": None,
                "created_by_user_id": ctx.receptionist,
                "created_at": min(start, ctx.now) - timedelta(days=ctx.rng.randrange(1, 20)),
                "updated_at": min(start, ctx.now),
            }
        )
    return rows


def _plan_row(ctx: SeedContext, patient_id: int, registered: datetime) -> dict:
    """A treatment plan: proposed, approved or completed, dated after the patient's registration."""
    rng = ctx.rng
    status = rng.choices((PlanStatus.PROPOSED, PlanStatus.APPROVED, PlanStatus.COMPLETED), (30, 45, 25))[0]
    created = registered + (ctx.now - registered) * rng.random() * 0.5
    approved = created + timedelta(days=rng.randrange(0, 10)) if status != PlanStatus.PROPOSED else None
    approved = min(approved, ctx.now) if approved else None
    completed = approved + (ctx.now - approved) * rng.random() if status == PlanStatus.COMPLETED else None
    return {
        "patient_id": patient_id,
        "dentist_user_id": rng.choice(ctx.dentists),
        "title": rng.choice(demo.PLAN_TITLES),
        "status": status,
        "approved_at": approved,
        "completed_at": completed,
        "created_at": created,
        "updated_at": completed or approved or created,
    }


def _item_rows(ctx: SeedContext, plan_id: int, plan: dict, teeth: tuple[int, ...]) -> list[dict]:
    """One to four items with the procedure's name and price frozen; done when the plan is completed."""
    rows = []
    for _ in range(ctx.rng.randrange(1, 5)):
        procedure_id, name, price, per_tooth = ctx.rng.choice(ctx.procedures)
        restoration = name.startswith("Restauração")
        status = plan["status"]
        done = status == PlanStatus.COMPLETED or (status == PlanStatus.APPROVED and ctx.rng.random() < 0.3)
        rows.append(
            {
                "plan_id": plan_id,
                "procedure_id": procedure_id,
                "name": name,
                "price_cents": price,
                "tooth": ctx.rng.choice(teeth) if per_tooth else None,
                "surfaces": ctx.rng.choice(demo.SURFACES) if restoration else None,
                "done": done,
                "done_at": (plan["completed_at"] or ctx.now) if done else None,
            }
        )
    return rows


def _payment_rows(ctx: SeedContext, plan_id: int, plan: dict, total: int) -> list[dict]:
    """Payments of an approved (partly) or completed (fully) plan, never on a closed cash day."""
    if plan["status"] == PlanStatus.PROPOSED or total <= 0:
        return []
    share = 1.0 if plan["status"] == PlanStatus.COMPLETED else ctx.rng.choice((0.0, 0.3, 0.5, 1.0))
    remaining = int(total * share)
    parts = ctx.rng.randrange(1, 4)
    rows = []
    for n in range(parts):
        amount = remaining if n == parts - 1 else remaining // (parts - n)
        if amount <= 0:
            continue
        paid_at = plan["approved_at"] + (ctx.now - plan["approved_at"]) * ctx.rng.random()
        day = clinic_day(paid_at)
        if day in ctx.closed_days:
            continue
        method = ctx.rng.choices([m for m, _ in PAYMENT_METHODS], [w for _, w in PAYMENT_METHODS])[0]
        rows.append(
            {
                "plan_id": plan_id,
                "amount_cents": amount,
                "method": method,
                "kind": PaymentKind.PAYMENT,
                "reason": None,
                "paid_at": paid_at,
                "clinic_day": day,
                "received_by_user_id": ctx.receptionist,
                "refund_of_id": None,
            }
        )
        remaining -= amount
    return rows


def _insert_returning_ids(conn, table, rows: list[dict]) -> list[int]:
    """Insert rows in bulk and return their ids in the same order."""
    if not rows:
        return []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(conn.execute(statement, rows).scalars())


def _insert(conn, table, rows: list[dict]) -> None:
    """Insert rows in bulk (executemany)."""
    if rows:
        conn.execute(insert(table), rows)


def seed_batch(ctx: SeedContext, size: int, counts: dict) -> None:
    """One unit of work: `size` patients with their records, plus one summary audit event."""
    with unit_of_work(PACIENTES):
        conn = db.session.connection(bind_arguments={"bind": engine_of(PACIENTES)})
        registered = [
            ctx.now
            - timedelta(days=ctx.rng.randrange(AGENDA_DAYS_BACK + 30, 5 * 365), minutes=ctx.rng.randrange(0, 1440))
            for _ in range(size)
        ]
        patients = [_patient_row(ctx, moment) for moment in registered]
        ids = _insert_returning_ids(conn, Patient.__table__, patients)
        anamneses = [_anamnesis_row(ctx, pid, moment) for pid, moment in zip(ids, registered, strict=True)]
        appointments = [row for pid in ids for row in _appointment_rows(ctx, pid)]
        chosen = [
            (pid, moment, row)
            for pid, moment, row in zip(ids, registered, patients, strict=True)
            if ctx.procedures and ctx.rng.random() < 0.35
        ]
        plans = [_plan_row(ctx, pid, moment) for pid, moment, _ in chosen]
        plan_ids = _insert_returning_ids(conn, TreatmentPlan.__table__, plans)
        items, payments = [], []
        for plan_id, plan, (_, _, patient) in zip(plan_ids, plans, chosen, strict=True):
            plan_items = _item_rows(ctx, plan_id, plan, demo.teeth_for(patient["birth_date"], ctx.today))
            items += plan_items
            payments += _payment_rows(ctx, plan_id, plan, sum(item["price_cents"] for item in plan_items))
        tokens = [
            {"patient_id": pid, "token": word}
            for pid, row in zip(ids, patients, strict=True)
            for word in sorted(search_tokens(row["search_name"], row["phone"], row["cpf"]))
        ]
        _insert(conn, PatientSearchToken.__table__, tokens)
        _insert(conn, Anamnesis.__table__, anamneses)
        _insert(conn, Appointment.__table__, appointments)
        _insert(conn, TreatmentItem.__table__, items)
        _insert(conn, Payment.__table__, payments)
        batch = {
            "patients": len(ids),
            "anamneses": len(anamneses),
            "appointments": len(appointments),
            "treatment_plans": len(plan_ids),
            "treatment_items": len(items),
            "payments": len(payments),
        }
        summary = {name: [None, value] for name, value in batch.items()}
        summary["patient_ids"] = [None, f"{ids[0]}-{ids[-1]}"]
        record_event(db.session, PACIENTES, "seed_demo", "patient", None, changes=summary)
    for name, value in batch.items():
        counts[name] += value


def _context(rng: random.Random, dentists: list[int], receptionist: int, procedures: list[Procedure]) -> SeedContext:
    """Everything the batches share, read once."""
    now = utcnow()
    return SeedContext(
        rng=rng,
        dentists=dentists,
        receptionist=receptionist,
        procedures=[(p.id, p.name, p.default_price_cents, p.code in PER_TOOTH_CODES) for p in procedures],
        agendas=_agendas(rng, dentists, clinic_day(now)),
        used_cpfs=set(db.session.scalars(select(Patient.cpf).where(Patient.cpf.is_not(None)))),
        closed_days=set(db.session.scalars(select(CashClosing.clinic_day))),
        now=now,
        today=clinic_day(now),
    )


def seed_demo(
    patients: int, batch_size: int = 1000, seed: int | None = None, on_batch: Callable[[int], None] = lambda n: None
) -> SeedResult:
    """Create `patients` demo patients with their records, in batches; `on_batch(n)` after each batch."""
    rng = random.Random(seed)
    result = SeedResult()
    with acting_as(None, request_path=SEED_PATH):
        dentists, receptionist = ensure_staff(result)
        procedures = ensure_procedures(result)
        ctx = _context(rng, dentists, receptionist, procedures)
        done = 0
        while done < patients:
            size = min(batch_size, patients - done)
            seed_batch(ctx, size, result.counts)
            keep_bounded(PACIENTES)  # a reader's snapshot may have kept auto-checkpoints from restarting the log
            done += size
            on_batch(size)
    return result


def patient_count() -> int:
    """How many patients exist (the CLI asks before adding demo data to a non-empty clinic)."""
    return db.session.scalar(select(func.count()).select_from(Patient))
