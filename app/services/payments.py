"""Payments, adjustments, refunds and the daily cash closing.

Amounts are signed integer cents: payments positive, refunds the negative of the payment they undo,
adjustments either way (positive = discount or credit, negative = extra charge). A closed clinic day takes
no new payment or refund; adjustments move no cash, so they are accepted on the current day even after closing.
"""

import json
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.db import PACIENTES
from app.db.actor import current_actor
from app.db.audit import add_timeline, record_event
from app.db.types import utcnow
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import CashClosing, Patient, Payment, Receipt, TreatmentPlan
from app.models.users import User
from app.services.clock import clinic_day, format_date, format_money
from app.services.errors import ConflictError, NotFound, ValidationError
from app.services.guards import get_or_404, require_active_user
from app.services.locks import get_for_update
from app.services.plans import (
    InstallmentStatus,
    PlanBalance,
    installment_statuses,
    plan_balance,
    plan_balances,
    status_label,
    writable_plan,
)
from app.services.procedures import check_cents
from app.services.validation import clean_text, column_limit, optional_text, required_text
from app.vocabulary import AdjustmentKind, InstallmentState, PaymentKind, PaymentMethod, PlanStatus

ADJUSTMENT_METHOD = PaymentMethod.OTHER
MAX_REASON = column_limit(Payment, "reason")
MAX_RECEIPT_TEXT = column_limit(Receipt, "description")


def _check_method(method: str) -> str:
    """A known payment method, lower-cased, or ValidationError."""
    method = (method or "").strip().lower()
    if method not in PaymentMethod.values():
        labels = ", ".join(str(member.label) for member in PaymentMethod)
        raise ValidationError({"method": f"Forma de pagamento inválida: use {labels}."})
    return method


def _one_line(reason: str | None) -> str:
    """A reason through the shared (multi-line) text check, its line breaks and runs of spaces made single spaces."""
    return " ".join((clean_text(reason, "reason", multiline=True) or "").split())


def _staff_member(user_id: int | None, field_name: str) -> User:
    """The given user, or else the current actor: an active account either way."""
    user_id = current_actor().user_id if user_id is None else user_id
    if user_id is None:
        raise ValidationError({field_name: "Informe o usuário responsável pelo lançamento."})
    return require_active_user(user_id)


def _plan_taking_payments(plan_id: int) -> TreatmentPlan:
    """The plan, if approved (payments are only for approved or completed plans) and its patient is active."""
    plan = writable_plan(plan_id)
    if plan.status not in (PlanStatus.APPROVED, PlanStatus.COMPLETED):
        raise ConflictError(
            f"O plano #{plan.id} está {status_label(plan)}: lançamentos financeiros só depois da aprovação."
        )
    return plan


def _refuse_closed_day(day: date) -> None:
    """ConflictError when the cash of `day` was closed already (ordered with closings by the write lock)."""
    if db.session.scalar(select(CashClosing.id).where(CashClosing.clinic_day == day)) is not None:
        raise ConflictError(f"O caixa de {format_date(day)} já foi fechado: não aceita novos pagamentos nem estornos.")


def _new_row(plan: TreatmentPlan, **fields) -> Payment:
    """A payment row dated now, with its clinic day, linked to its plan for audit and timeline."""
    now = utcnow()
    payment = Payment(plan=plan, paid_at=now, clinic_day=clinic_day(now), **fields)
    db.session.add(payment)
    return payment


def record_payment(plan_id: int, amount_cents: int, method: str, received_by_user_id: int | None = None) -> Payment:
    """Receive money for an approved plan, up to its open balance, on a day whose cash is still open."""
    check_cents(amount_cents, "amount_cents", allow_zero=False)
    method = _check_method(method)
    with unit_of_work(PACIENTES):
        plan = _plan_taking_payments(plan_id)
        receiver = _staff_member(received_by_user_id, "received_by_user_id")
        _refuse_closed_day(clinic_day())
        balance = plan_balance(plan.id).balance_cents
        if amount_cents > balance:
            raise ValidationError({"amount_cents": f"O valor excede o saldo em aberto de {format_money(balance)}."})
        payment = _new_row(
            plan, amount_cents=amount_cents, method=method, kind=PaymentKind.PAYMENT, received_by_user_id=receiver.id
        )
        _issue_receipt(plan, payment)
        add_timeline(
            db.session,
            payment,
            "payment",
            f"Pagamento de {format_money(amount_cents)} ({PaymentMethod.label_of(method)}) recebido.",
        )
    return payment


def _receipt_description(plan: TreatmentPlan) -> str:
    """What a payment of the plan pays for, as the receipt prints it: the plan's title and its items."""
    title = plan.title or f"Plano de tratamento nº {plan.id}"
    items = "; ".join(item.name for item in plan.items)
    text = f"{title}: {items}" if items else title
    return text if len(text) <= MAX_RECEIPT_TEXT else text[: MAX_RECEIPT_TEXT - 1] + "…"


def _issue_receipt(plan: TreatmentPlan, payment: Payment) -> Receipt:
    """The payment's receipt, numbered from its own sequence, payer and description frozen (same transaction)."""
    patient = db.session.get(Patient, plan.patient_id)
    receipt = Receipt(
        payment=payment,
        issued_by_user_id=payment.received_by_user_id,
        payer_name=patient.full_name,
        payer_cpf=patient.cpf,
        description=_receipt_description(plan),
    )
    db.session.add(receipt)
    return receipt


def record_adjustment(plan_id: int, amount_cents: int, reason: str) -> Payment:
    """A discount (positive) or extra charge (negative) on an approved plan, with a mandatory reason."""
    reason = required_text(_one_line(reason), "reason", "Informe o motivo do ajuste.", MAX_REASON)
    check_cents(amount_cents, "amount_cents", allow_zero=False, allow_negative=True)
    with unit_of_work(PACIENTES):
        plan = _plan_taking_payments(plan_id)
        author = _staff_member(None, "received_by_user_id")
        balance = plan_balance(plan.id).balance_cents
        if amount_cents > balance:
            raise ValidationError({"amount_cents": f"O desconto excede o saldo em aberto de {format_money(balance)}."})
        adjustment = _new_row(
            plan,
            amount_cents=amount_cents,
            method=ADJUSTMENT_METHOD,
            kind=PaymentKind.ADJUSTMENT,
            reason=reason,
            received_by_user_id=author.id,
        )
        what = "Desconto" if amount_cents > 0 else "Acréscimo"
        add_timeline(
            db.session,
            adjustment,
            "payment_adjustment",
            f"{what} de {format_money(abs(amount_cents))} no plano #{plan.id}: {reason}",
        )
    return adjustment


def adjust_balance(plan_id: int, kind: str, amount_cents: int, reason: str) -> Payment:
    """A discount, write-off (both lower the balance) or extra charge, typed as a positive amount with a reason."""
    member = AdjustmentKind.lookup(kind)
    if member is None:
        raise ValidationError({"kind": "Escolha o tipo de ajuste."})
    prefix = f"{member.capitalised_label}: "
    reason = required_text(_one_line(reason), "reason", "Informe o motivo do ajuste.", MAX_REASON - len(prefix))
    check_cents(amount_cents, "amount_cents", allow_zero=False)
    signed = -amount_cents if member == AdjustmentKind.SURCHARGE else amount_cents
    return record_adjustment(plan_id, signed, prefix + reason)


def refund_payment(payment_id: int, reason: str | None = None) -> Payment:
    """Give back one payment in full, at most once, on a day whose cash is still open."""
    reason = optional_text(_one_line(reason), "reason", MAX_REASON)
    with unit_of_work(PACIENTES):
        original = get_for_update(Payment, payment_id, "Pagamento")
        plan = writable_plan(original.plan_id)  # locked: one refund at a time
        if original.kind != PaymentKind.PAYMENT:
            raise ConflictError("Só pagamentos podem ser estornados; ajustes e estornos se corrigem com um ajuste.")
        if db.session.scalar(select(Payment.id).where(Payment.refund_of_id == original.id)) is not None:
            raise ConflictError(f"O pagamento #{original.id} já foi estornado.")
        author = _staff_member(None, "received_by_user_id")
        _refuse_closed_day(clinic_day())
        refund = _new_row(
            plan,
            amount_cents=-original.amount_cents,
            method=original.method,
            kind=PaymentKind.REFUND,
            reason=reason,
            received_by_user_id=author.id,
            refund_of_id=original.id,
        )
        because = f": {reason}" if reason else "."
        add_timeline(
            db.session,
            refund,
            "payment_refund",
            f"Estorno de {format_money(original.amount_cents)} ({PaymentMethod.label_of(original.method)}) "
            f"do pagamento de {format_date(original.clinic_day)}{because}",
        )
    return refund


def refund_with_reason(payment_id: int, reason: str) -> Payment:
    """A refund as the front desk asks for one: the reason is mandatory (the cash closing must explain it)."""
    required_text(_one_line(reason), "reason", "Informe o motivo do estorno.", MAX_REASON)
    return refund_payment(payment_id, reason)


@dataclass
class DayTotals:
    """What one clinic day's cash register saw (payments and refunds), plus its adjustments for information."""

    day: date
    by_method: dict[str, int] = field(default_factory=dict)
    received_cents: int = 0
    refunded_cents: int = 0  # negative
    adjustments_cents: int = 0
    closing: CashClosing | None = None

    @property
    def total_cents(self) -> int:
        """Net cash of the day: received minus refunded."""
        return self.received_cents + self.refunded_cents


def day_totals(day: date) -> DayTotals:
    """Totals of a clinic day by method and kind, computed from the payment rows in one query."""
    totals = DayTotals(day)
    rows = db.session.execute(
        select(Payment.kind, Payment.method, func.sum(Payment.amount_cents))
        .where(Payment.clinic_day == day)
        .group_by(Payment.kind, Payment.method)
    )
    for kind, method, cents in rows:
        if kind == PaymentKind.ADJUSTMENT:
            totals.adjustments_cents += cents
            continue
        totals.by_method[method] = totals.by_method.get(method, 0) + cents
        if kind == PaymentKind.PAYMENT:
            totals.received_cents += cents
        else:
            totals.refunded_cents += cents
    totals.closing = db.session.scalar(select(CashClosing).where(CashClosing.clinic_day == day))
    return totals


def close_cash_day(day: date) -> CashClosing:
    """Close a clinic day's cash (today or earlier) with its totals by method; once per day."""
    if not isinstance(day, date):
        raise ValidationError({"day": "Informe o dia do fechamento."})
    if day > clinic_day():
        raise ValidationError({"day": "Não é possível fechar o caixa de um dia que ainda não chegou."})
    with unit_of_work(PACIENTES):
        closer = _staff_member(None, "closed_by_user_id")
        totals = day_totals(day)
        if totals.closing is not None:
            raise ConflictError(f"O caixa de {format_date(day)} já foi fechado.")
        closing = CashClosing(
            clinic_day=day,
            totals_json=json.dumps(totals.by_method, sort_keys=True),
            total_cents=totals.total_cents,
            closed_by_user_id=closer.id,
        )
        db.session.add(closing)
    return closing


def closing_totals(closing: CashClosing) -> dict[str, int]:
    """The totals by method a closing recorded."""
    return json.loads(closing.totals_json)


def get_payment(payment_id: int) -> Payment:
    """A payment row by id (for receipts), or NotFound."""
    return get_or_404(Payment, payment_id, "Pagamento")


def payments_of_plan(plan_id: int) -> list[Payment]:
    """Every payment, refund and adjustment of a plan, oldest first."""
    return list(
        db.session.scalars(select(Payment).where(Payment.plan_id == plan_id).order_by(Payment.paid_at, Payment.id))
    )


def refunded_payment_ids(plan_id: int) -> set[int]:
    """Ids of the plan's payments that were refunded already (so the UI hides their refund button)."""
    return set(
        db.session.scalars(
            select(Payment.refund_of_id).where(Payment.plan_id == plan_id, Payment.refund_of_id.is_not(None))
        )
    )


def amount_due(plan_id: int, installment_number: int | None = None) -> int:
    """What is still open: the plan's balance, or the unpaid part of one of its instalments (ValidationError if
    there is no such instalment or it is paid)."""
    balance = plan_balance(plan_id).balance_cents
    if installment_number is None:
        return balance
    schedule = installment_statuses([plan_id])[plan_id]
    installment = next((i for i in schedule if i.number == installment_number), None)
    if installment is None:
        raise ValidationError({"installment": f"O plano não tem a parcela {installment_number}."})
    if installment.status == InstallmentState.PAID:
        raise ValidationError({"installment": f"A parcela {installment_number} já está paga."})
    return min(balance, installment.amount_cents - installment.paid_cents)


@dataclass
class PlanFinance:
    """One approved or completed plan on the financial tab: balance by kind, rows, schedule, receipts."""

    plan: TreatmentPlan
    balance: PlanBalance
    rows: list[Payment]
    installments: list[InstallmentStatus]
    receipts: dict[int, int]  # payment id -> receipt number
    refunded: set[int]  # ids of payments refunded already

    def total_of(self, kind: str) -> int:
        """The sum of the plan's rows of one kind (signed cents)."""
        return sum(row.amount_cents for row in self.rows if row.kind == kind)

    @property
    def payments_cents(self) -> int:
        """Money received (refunds not subtracted)."""
        return self.total_of(PaymentKind.PAYMENT)

    @property
    def refunds_cents(self) -> int:
        """Money given back, as a positive amount."""
        return -self.total_of(PaymentKind.REFUND)

    @property
    def open_installments(self) -> list[InstallmentStatus]:
        """Instalments not fully paid yet."""
        return [i for i in self.installments if i.status != InstallmentState.PAID]


def patient_finance(patient_id: int, plan_id: int | None = None) -> list[PlanFinance]:
    """The patient's approved and completed plans (or only `plan_id` among them) with everything the financial
    tab shows, in a fixed number of queries whatever the number of plans and payments."""
    only = (TreatmentPlan.id == plan_id,) if plan_id is not None else ()
    plans = list(
        db.session.scalars(
            select(TreatmentPlan)
            .options(selectinload(TreatmentPlan.items))
            .where(
                TreatmentPlan.patient_id == patient_id,
                TreatmentPlan.status.in_((PlanStatus.APPROVED, PlanStatus.COMPLETED)),
                *only,
            )
            .order_by(TreatmentPlan.created_at.desc(), TreatmentPlan.id.desc())
        )
    )
    ids = [plan.id for plan in plans]
    if not ids:
        return []
    balances, schedules = plan_balances(ids), installment_statuses(ids)
    rows: dict[int, list[Payment]] = {plan_id: [] for plan_id in ids}
    for row in db.session.scalars(
        select(Payment).where(Payment.plan_id.in_(ids)).order_by(Payment.paid_at, Payment.id)
    ):
        rows[row.plan_id].append(row)
    receipts = dict(
        db.session.execute(
            select(Receipt.payment_id, Receipt.number).join(Payment).where(Payment.plan_id.in_(ids))
        ).all()
    )
    finance = []
    for plan in plans:
        plan_rows = rows[plan.id]
        finance.append(
            PlanFinance(
                plan,
                balances[plan.id],
                plan_rows,
                schedules[plan.id],
                {row.id: receipts[row.id] for row in plan_rows if row.id in receipts},
                {row.refund_of_id for row in plan_rows if row.refund_of_id is not None},
            )
        )
    return finance


@dataclass(frozen=True)
class ReceiptView:
    """A receipt as printed: the frozen receipt row, its payment, plan and who received the money."""

    receipt: Receipt
    payment: Payment
    received_by: str
    refund: Payment | None


def get_receipt(number: int) -> Receipt:
    """A receipt by its number, or NotFound."""
    return get_or_404(Receipt, number, "Recibo")


def print_receipt(number: int) -> ReceiptView:
    """A receipt for printing, exactly as issued; every printing (the first and each reprint) is audited."""
    with unit_of_work(PACIENTES):
        receipt = get_or_404(Receipt, number, "Recibo")
        payment = receipt.payment
        record_event(
            db.session,
            PACIENTES,
            "receipt_print",
            "receipt",
            receipt.number,
            patient_id=payment.plan.patient_id,
        )
    receiver = db.session.get(User, payment.received_by_user_id)
    refund = db.session.scalar(select(Payment).where(Payment.refund_of_id == payment.id))
    return ReceiptView(receipt, payment, receiver.full_name if receiver else "", refund)


def receipt_of_payment(payment_id: int) -> Receipt:
    """The receipt issued with a payment, or NotFound (refunds and adjustments have none)."""
    get_payment(payment_id)
    receipt = db.session.scalar(select(Receipt).where(Receipt.payment_id == payment_id))
    if receipt is None:
        raise NotFound("Recibo do pagamento", payment_id)
    return receipt
