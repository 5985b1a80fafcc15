"""Treatment plans: proposed → approved → completed, items with frozen name and price, balance and instalments.

Nothing financial is stored that can be computed: the balance is the approved total minus every payment row
(payments, refunds, adjustments), and an instalment's paid / partial / pending state comes from allocating
those payments oldest instalment first.
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.db import PACIENTES
from app.db.actor import current_actor
from app.db.audit import add_timeline
from app.db.types import utcnow
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import Installment, Payment, Procedure, ToothFinding, TreatmentItem, TreatmentPlan
from app.services import odontogram
from app.services.agenda import dentist_label
from app.services.clock import add_months, clinic_day, format_date, format_money
from app.services.dental import parse_surfaces, parse_tooth
from app.services.errors import ConflictError, RelatedEntityNotFound, ValidationError
from app.services.guards import get_or_404, require_active_dentist, require_active_user, require_patient
from app.services.locks import get_for_update
from app.services.procedures import check_cents
from app.services.validation import clean_text, column_limit, required_text
from app.vocabulary import InstallmentState, PaymentKind, PlanStatus

MAX_INSTALLMENTS = 60
MAX_TITLE = column_limit(TreatmentPlan, "title")
MAX_CANCELLATION_REASON = column_limit(TreatmentPlan, "cancellation_reason")


def check_tooth(tooth) -> int | None:
    """An item's tooth: FDI notation (see app/services/dental.py) or none at all."""
    if tooth is None or (isinstance(tooth, str) and not tooth.strip()):
        return None
    return parse_tooth(tooth)


def check_surfaces(surfaces: str | None, tooth: int | None) -> str | None:
    """An item's surfaces: repeated letters merge (`oo` → `O`), then the odontogram's rule; they need a tooth."""
    letters = "".join(dict.fromkeys("".join((surfaces or "").split()).upper()))
    canonical = parse_surfaces(letters)
    if canonical and tooth is None:
        raise ValidationError({"surfaces": "Informe o dente das faces."})
    return canonical


def status_label(plan: TreatmentPlan) -> str:
    """The Portuguese word for a plan's status (`aprovado`)."""
    return PlanStatus.label_of(plan.status)


def _describe(item: TreatmentItem) -> str:
    """`Restauração (dente 16, MO)` for timeline lines."""
    where = ", ".join(str(part) for part in (f"dente {item.tooth}" if item.tooth else None, item.surfaces) if part)
    return f"{item.name} ({where})" if where else item.name


def writable_plan(plan_id: int) -> TreatmentPlan:
    """The plan, locked for a change, provided its patient is active (a deactivated record is read-only)."""
    plan = get_for_update(TreatmentPlan, plan_id, "Plano de tratamento")
    require_patient(plan.patient_id)
    return plan


def _plan_for_editing(plan_id: int) -> TreatmentPlan:
    """The plan, provided its items may still change (proposed) and its patient is active."""
    plan = writable_plan(plan_id)
    if plan.status != PlanStatus.PROPOSED:
        raise ConflictError(f"O plano #{plan.id} está {status_label(plan)}: seus itens não podem mais mudar.")
    return plan


def _clean_title(title: str | None) -> str | None:
    """A single-spaced title that fits its column, or None."""
    title = " ".join((clean_text(title, "title") or "").split()) or None
    if title and len(title) > MAX_TITLE:
        raise ValidationError({"title": f"Título longo demais (até {MAX_TITLE} caracteres)."})
    return title


def create_plan(patient_id: int, dentist_user_id: int, title: str | None = None) -> TreatmentPlan:
    """Open a proposed plan for an active patient, by an active dentist."""
    title = _clean_title(title)
    with unit_of_work(PACIENTES):
        patient = require_patient(patient_id)
        dentist = require_active_dentist(dentist_user_id)
        plan = TreatmentPlan(patient_id=patient.id, dentist_user_id=dentist.id, title=title, status=PlanStatus.PROPOSED)
        db.session.add(plan)
        named = f" “{title}”" if title else ""
        add_timeline(
            db.session, plan, "plan_created", f"Plano de tratamento{named} proposto por {dentist_label(dentist)}."
        )
    return plan


def add_item(
    plan_id: int, procedure_id: int, tooth=None, surfaces: str | None = None, price_cents: int | None = None
) -> TreatmentItem:
    """Add an active procedure to a proposed plan, freezing its name and price (or the price given)."""
    tooth = check_tooth(tooth)
    surfaces = check_surfaces(surfaces, tooth)
    if price_cents is not None:
        check_cents(price_cents, "price_cents")
    with unit_of_work(PACIENTES):
        plan = _plan_for_editing(plan_id)
        procedure = db.session.get(Procedure, procedure_id) if procedure_id is not None else None
        if procedure is None:
            raise RelatedEntityNotFound("Procedimento", procedure_id, PACIENTES)
        if not procedure.is_active:
            raise RelatedEntityNotFound("Procedimento", procedure_id, PACIENTES, "está desativado")
        price = procedure.default_price_cents if price_cents is None else price_cents
        item = TreatmentItem(
            plan=plan, procedure_id=procedure.id, name=procedure.name, price_cents=price, tooth=tooth, surfaces=surfaces
        )
        db.session.add(item)
        add_timeline(
            db.session, item, "plan_item_added", f"Plano #{plan.id}: incluído {_describe(item)}, {format_money(price)}."
        )
    return item


def update_item(item_id: int, tooth, surfaces: str | None, price_cents: int) -> TreatmentItem:
    """Set an item's tooth, surfaces and price while its plan is proposed (the name stays frozen)."""
    tooth = check_tooth(tooth)
    surfaces = check_surfaces(surfaces, tooth)
    check_cents(price_cents, "price_cents")
    with unit_of_work(PACIENTES):
        item = get_for_update(TreatmentItem, item_id, "Item do plano")
        _plan_for_editing(item.plan_id)
        item.tooth, item.surfaces, item.price_cents = tooth, surfaces, price_cents
        if db.session.is_modified(item):
            add_timeline(
                db.session,
                item,
                "plan_item_updated",
                f"Plano #{item.plan_id}: alterado {_describe(item)}, {format_money(price_cents)}.",
            )
    return item


def remove_item(item_id: int) -> None:
    """Remove an item from a proposed plan."""
    with unit_of_work(PACIENTES):
        item = get_for_update(TreatmentItem, item_id, "Item do plano")
        plan = _plan_for_editing(item.plan_id)
        add_timeline(db.session, plan, "plan_item_removed", f"Plano #{plan.id}: removido {_describe(item)}.")
        db.session.delete(item)


def _items_total(plan_id: int) -> int:
    """The sum of a plan's frozen item prices."""
    return db.session.scalar(
        select(func.coalesce(func.sum(TreatmentItem.price_cents), 0)).where(TreatmentItem.plan_id == plan_id)
    )


def _acting_user_id() -> int | None:
    """The acting staff member (checked active), or None for the system (CLI, tests without an actor)."""
    user_id = current_actor().user_id
    return require_active_user(user_id).id if user_id is not None else None


def approve_plan(plan_id: int) -> TreatmentPlan:
    """Proposed → approved: the patient accepted; from now on the items are fixed. Records who approved."""
    with unit_of_work(PACIENTES):
        plan = _plan_for_editing(plan_id)
        if not plan.items:
            raise ConflictError("Inclua pelo menos um procedimento antes de aprovar o plano.")
        plan.status, plan.approved_at, plan.approved_by_user_id = PlanStatus.APPROVED, utcnow(), _acting_user_id()
        add_timeline(
            db.session,
            plan,
            "plan_approved",
            f"Plano de tratamento #{plan.id} aprovado: {format_money(_items_total(plan.id))}.",
        )
    return plan


def _record_result_finding(item: TreatmentItem, plan: TreatmentPlan, user_id: int | None) -> ToothFinding | None:
    """The finding a done item leaves on the chart (its procedure's, on its tooth), or None when it leaves none.

    Written in the caller's unit of work, so the item and its finding are stored together or not at all.
    Whole-tooth findings (crown, extraction → missing, root canal) drop the item's surfaces.
    """
    finding = db.session.scalar(select(Procedure.finding).where(Procedure.id == item.procedure_id))
    if not finding or item.tooth is None:
        return None
    surfaces = None if finding in odontogram.WHOLE_TOOTH else item.surfaces
    row = ToothFinding(
        patient_id=plan.patient_id,
        tooth=item.tooth,
        surfaces=surfaces,
        finding=finding,
        notes=f"Plano #{plan.id}: {item.name}",
        recorded_by_user_id=user_id if user_id is not None else plan.dentist_user_id,
        recorded_at=item.done_at,
    )
    db.session.add(row)
    add_timeline(db.session, row, "tooth_finding", f"Odontograma: {odontogram.describe(row)}.")
    return row


def mark_item_done(item_id: int) -> TreatmentItem:
    """Record that an item of an approved plan was performed, when and by whom; when its procedure names a
    finding and the item a tooth, the chart records that finding in the same unit of work."""
    with unit_of_work(PACIENTES):
        item = get_for_update(TreatmentItem, item_id, "Item do plano")
        plan = writable_plan(item.plan_id)
        if plan.status != PlanStatus.APPROVED:
            raise ConflictError(
                f"Só itens de um plano aprovado podem ser realizados (o plano #{plan.id} está {status_label(plan)})."
            )
        if item.done:
            raise ConflictError(f"{_describe(item)} já foi realizado.")
        item.done, item.done_at, item.done_by_user_id = True, utcnow(), _acting_user_id()
        add_timeline(db.session, item, "plan_item_done", f"Realizado: {_describe(item)}.")
        _record_result_finding(item, plan, item.done_by_user_id)
    return item


def cancel_plan(plan_id: int, reason: str | None) -> TreatmentPlan:
    """Proposed → cancelled, with a written reason (an approved plan was agreed with the patient: it stays)."""
    reason = required_text(
        reason, "reason", "Informe o motivo do cancelamento.", MAX_CANCELLATION_REASON, multiline=True
    )
    with unit_of_work(PACIENTES):
        plan = writable_plan(plan_id)
        if plan.status != PlanStatus.PROPOSED:
            raise ConflictError(
                f"Só um plano proposto pode ser cancelado (o plano #{plan.id} está {status_label(plan)})."
            )
        plan.status, plan.cancelled_at, plan.cancellation_reason = PlanStatus.CANCELLED, utcnow(), reason
        add_timeline(db.session, plan, "plan_cancelled", f"Plano de tratamento #{plan.id} cancelado: {reason}")
    return plan


def complete_plan(plan_id: int) -> TreatmentPlan:
    """Approved → completed, once every item was performed."""
    with unit_of_work(PACIENTES):
        plan = writable_plan(plan_id)
        if plan.status != PlanStatus.APPROVED:
            raise ConflictError(
                f"Só um plano aprovado pode ser concluído (o plano #{plan.id} está {status_label(plan)})."
            )
        pending = [item for item in plan.items if not item.done]
        if pending:
            raise ConflictError(
                f"Faltam {len(pending)} procedimento(s) por realizar: "
                + "; ".join(_describe(item) for item in pending)
                + "."
            )
        plan.status, plan.completed_at = PlanStatus.COMPLETED, utcnow()
        add_timeline(db.session, plan, "plan_completed", f"Plano de tratamento #{plan.id} concluído.")
    return plan


@dataclass(frozen=True)
class PlanBalance:
    """What a plan costs and what was paid; `balance_cents` = approved total − every payment row."""

    plan_id: int
    status: str
    items_total_cents: int
    approved_total_cents: int
    paid_cents: int  # payments minus refunds
    adjustments_cents: int  # positive: discount / credit; negative: extra charge
    balance_cents: int


def _payment_sums(plan_ids: list[int]) -> dict[tuple[int, str], int]:
    """Sums of payment rows by (plan, kind)."""
    rows = db.session.execute(
        select(Payment.plan_id, Payment.kind, func.sum(Payment.amount_cents))
        .where(Payment.plan_id.in_(plan_ids))
        .group_by(Payment.plan_id, Payment.kind)
    )
    return {(plan_id, kind): total for plan_id, kind, total in rows}


def plan_balances(plan_ids) -> dict[int, PlanBalance]:
    """Balances of several plans in three queries (for lists)."""
    ids = list(set(plan_ids))
    if not ids:
        return {}
    statuses = dict(
        db.session.execute(select(TreatmentPlan.id, TreatmentPlan.status).where(TreatmentPlan.id.in_(ids))).all()
    )
    totals = dict(
        db.session.execute(
            select(TreatmentItem.plan_id, func.sum(TreatmentItem.price_cents))
            .where(TreatmentItem.plan_id.in_(ids))
            .group_by(TreatmentItem.plan_id)
        ).all()
    )
    sums = _payment_sums(ids)
    balances = {}
    for plan_id, status in statuses.items():
        items_total = totals.get(plan_id, 0)
        approved = items_total if status != PlanStatus.PROPOSED else 0
        paid = sums.get((plan_id, PaymentKind.PAYMENT), 0) + sums.get((plan_id, PaymentKind.REFUND), 0)
        adjustments = sums.get((plan_id, PaymentKind.ADJUSTMENT), 0)
        balances[plan_id] = PlanBalance(
            plan_id, status, items_total, approved, paid, adjustments, approved - paid - adjustments
        )
    return balances


def plan_balance(plan_id: int) -> PlanBalance:
    """Approved total, paid total and balance of one plan (NotFound if there is no such plan)."""
    get_or_404(TreatmentPlan, plan_id, "Plano de tratamento")
    return plan_balances([plan_id])[plan_id]


def split_cents(total: int, count: int) -> list[int]:
    """`total` in `count` integer parts that add up exactly; the first parts carry the leftover cents."""
    base, leftover = divmod(total, count)
    return [base + (1 if n < leftover else 0) for n in range(count)]


def set_installments(plan_id: int, count: int, first_due_date: date) -> list[Installment]:
    """Split an approved plan's total into `count` monthly instalments (replacing any earlier schedule)."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_INSTALLMENTS:
        raise ValidationError({"count": f"Número de parcelas deve ser de 1 a {MAX_INSTALLMENTS}."})
    if not isinstance(first_due_date, date):
        raise ValidationError({"first_due_date": "Informe a data do primeiro vencimento."})
    with unit_of_work(PACIENTES):
        plan = writable_plan(plan_id)
        if plan.status != PlanStatus.APPROVED:
            raise ConflictError(
                f"Só um plano aprovado pode ser parcelado (o plano #{plan.id} está {status_label(plan)})."
            )
        total = _items_total(plan.id)
        if total < count:
            raise ValidationError({"count": f"O total de {format_money(total)} não se divide em {count} parcelas."})
        for old in db.session.scalars(select(Installment).where(Installment.plan_id == plan.id)).all():
            db.session.delete(old)  # through the ORM, so the audit trail records each removal
        installments = [
            Installment(plan=plan, number=n + 1, due_date=add_months(first_due_date, n), amount_cents=amount)
            for n, amount in enumerate(split_cents(total, count))
        ]
        db.session.add_all(installments)
        add_timeline(
            db.session,
            plan,
            "plan_installments",
            f"Plano #{plan.id} parcelado em {count}x ({format_money(total)}), "
            f"primeiro vencimento em {format_date(first_due_date)}.",
        )
    return installments


@dataclass(frozen=True)
class InstallmentStatus:
    """One instalment with what the payments cover of it (computed, never stored)."""

    number: int
    due_date: date
    amount_cents: int
    paid_cents: int
    status: InstallmentState
    overdue: bool


def allocate_credit(installments, credit: int, today: date) -> list[InstallmentStatus]:
    """Instalments (oldest due first) with a plan's net credit allocated to the oldest first: the one rule."""
    credit = max(0, credit)
    result = []
    for inst in installments:
        covered = min(credit, inst.amount_cents)
        credit -= covered
        if covered == inst.amount_cents:
            status = InstallmentState.PAID
        else:
            status = InstallmentState.PARTIAL if covered else InstallmentState.PENDING
        result.append(
            InstallmentStatus(
                inst.number,
                inst.due_date,
                inst.amount_cents,
                covered,
                status,
                status != InstallmentState.PAID and inst.due_date < today,
            )
        )
    return result


def installment_statuses(plan_ids) -> dict[int, list[InstallmentStatus]]:
    """The instalments of several plans with their computed status, in two queries (for the financial tab)."""
    ids = list(set(plan_ids))
    if not ids:
        return {}
    credits = dict(
        db.session.execute(
            select(Payment.plan_id, func.sum(Payment.amount_cents))
            .where(Payment.plan_id.in_(ids))
            .group_by(Payment.plan_id)
        ).all()
    )
    schedules: dict[int, list[Installment]] = {plan_id: [] for plan_id in ids}
    for inst in db.session.scalars(
        select(Installment)
        .where(Installment.plan_id.in_(ids))
        .order_by(Installment.plan_id, Installment.due_date, Installment.number)
    ):
        schedules[inst.plan_id].append(inst)
    today = clinic_day()
    return {plan_id: allocate_credit(rows, credits.get(plan_id, 0), today) for plan_id, rows in schedules.items()}


def installment_status(plan_id: int) -> list[InstallmentStatus]:
    """The plan's instalments, with every payment row's net credit allocated to the oldest first."""
    get_or_404(TreatmentPlan, plan_id, "Plano de tratamento")
    return installment_statuses([plan_id])[plan_id]


def get_plan(plan_id: int) -> TreatmentPlan:
    """A plan by id, or NotFound."""
    return get_or_404(TreatmentPlan, plan_id, "Plano de tratamento")


def plans_of_patient(patient_id: int) -> list[TreatmentPlan]:
    """A patient's plans, newest first, items loaded in one extra query."""
    return list(
        db.session.scalars(
            select(TreatmentPlan)
            .options(selectinload(TreatmentPlan.items))
            .where(TreatmentPlan.patient_id == patient_id)
            .order_by(TreatmentPlan.created_at.desc(), TreatmentPlan.id.desc())
        )
    )


def add_item_to_proposed_plan(
    patient_id: int, dentist_user_id: int, procedure_id: int, tooth=None, surfaces: str | None = None
) -> TreatmentItem:
    """Add a procedure to the patient's newest proposed plan of this dentist, opening one if there is none.

    One unit of work: the plan is only created when the item can be added to it (from the odontogram).
    """
    with unit_of_work(PACIENTES):
        require_patient(patient_id)
        dentist = require_active_dentist(dentist_user_id)
        plan_id = db.session.scalar(
            select(TreatmentPlan.id)
            .where(
                TreatmentPlan.patient_id == patient_id,
                TreatmentPlan.dentist_user_id == dentist.id,
                TreatmentPlan.status == PlanStatus.PROPOSED,
            )
            .order_by(TreatmentPlan.created_at.desc(), TreatmentPlan.id.desc())
            .limit(1)
        )
        if plan_id is None:
            plan_id = create_plan(patient_id, dentist.id).id
        return add_item(plan_id, procedure_id, tooth, surfaces)
