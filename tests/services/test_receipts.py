"""Receipts issued with payments, adjustments by kind, what is due, and the financial tab's data."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.db.actor import acting_as
from app.extensions import db
from app.models.history import AuditEvent
from app.models.pacientes import Receipt
from app.services import payments, plans
from app.services.clock import clinic_day
from app.services.errors import ConflictError, NotFound, ValidationError
from app.vocabulary import InstallmentState
from tests.factories import make_patient, make_user
from tests.factories_finance import make_plan


@pytest.fixture
def staff(app):
    """An active receptionist, acting for the test's duration."""
    user = make_user("receptionist")
    with acting_as(user.id):
        yield user


@pytest.fixture
def plan(staff):
    """An approved plan of R$ 1.000,00 for a patient with a CPF."""
    patient = make_patient(full_name="Paula Dias", cpf="52998224725")
    return make_plan(patient=patient, prices=(60_000, 40_000), approve=True, title="Prótese")


def receipts() -> list[Receipt]:
    """Every receipt, by number."""
    db.session.rollback()
    return list(db.session.scalars(select(Receipt).order_by(Receipt.number)))


def test_each_payment_gets_the_next_receipt_number_with_payer_and_description(plan, staff):
    """Receipts are numbered in order, issued by the receiver, payer and items frozen."""
    first = payments.record_payment(plan.id, 10_000, "cash")
    second = payments.record_payment(plan.id, 20_000, "pix")
    one, two = receipts()
    assert (one.payment_id, two.payment_id) == (first.id, second.id)
    assert two.number == one.number + 1
    assert (one.payer_name, one.payer_cpf, one.issued_by_user_id) == ("Paula Dias", "52998224725", staff.id)
    assert one.description.startswith("Prótese: ") and "; " in one.description


def test_a_refused_payment_issues_no_receipt(plan):
    """The receipt is written in the payment's unit of work: a payment refused by the closed day leaves none."""
    payments.close_cash_day(clinic_day())
    with pytest.raises(ConflictError):
        payments.record_payment(plan.id, 10_000, "cash")
    assert receipts() == []


def test_adjustments_and_refunds_have_no_receipt(plan):
    """Only money received gets a receipt."""
    payment = payments.record_payment(plan.id, 10_000, "cash")
    payments.refund_payment(payment.id, "Erro")
    payments.adjust_balance(plan.id, "discount", 1_000, "Fidelidade")
    assert [r.payment_id for r in receipts()] == [payment.id]
    with pytest.raises(NotFound):
        payments.receipt_of_payment(payment.id + 1)


def test_printing_a_receipt_is_audited_each_time(plan, staff):
    """Every printing (first and reprints) writes a receipt_print event for the patient."""
    payments.record_payment(plan.id, 10_000, "cash")
    [receipt] = receipts()
    for _ in range(2):
        view = payments.print_receipt(receipt.number)
    assert view.received_by == staff.full_name and view.refund is None
    db.session.rollback()
    count = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "receipt_print"))
    assert count == 2


@pytest.mark.parametrize("kind, signed", [("discount", 1_000), ("write_off", 1_000), ("surcharge", -1_000)])
def test_adjust_balance_signs_by_kind_and_names_it_in_the_reason(plan, kind, signed):
    """Discount and write-off lower the balance, a surcharge raises it; the reason starts with the kind."""
    row = payments.adjust_balance(plan.id, kind, 1_000, "  Combinado   com a paciente ")
    assert row.amount_cents == signed
    assert row.reason.endswith(": Combinado com a paciente")


@pytest.mark.parametrize(
    "kind, amount, reason, field",
    [("gift", 1_000, "x", "kind"), ("discount", 1_000, " ", "reason"), ("discount", 0, "x", "amount_cents")],
)
def test_adjust_balance_refuses_bad_input(plan, kind, amount, reason, field):
    """Unknown kind, missing reason or zero amount: a ValidationError on that field."""
    with pytest.raises(ValidationError) as caught:
        payments.adjust_balance(plan.id, kind, amount, reason)
    assert field in caught.value.errors


def test_refund_with_reason_requires_one(plan):
    """The front desk's refund needs a reason."""
    payment = payments.record_payment(plan.id, 10_000, "cash")
    with pytest.raises(ValidationError) as caught:
        payments.refund_with_reason(payment.id, "  ")
    assert "reason" in caught.value.errors


def test_amount_due_is_the_balance_or_the_open_part_of_an_instalment(plan):
    """Balance without an instalment; an instalment's unpaid part; a paid or missing one is refused."""
    plans.set_installments(plan.id, 4, clinic_day())
    payments.record_payment(plan.id, 30_000, "cash")
    assert payments.amount_due(plan.id) == 70_000
    assert payments.amount_due(plan.id, 2) == 20_000
    assert payments.amount_due(plan.id, 3) == 25_000
    for number in (1, 9):
        with pytest.raises(ValidationError):
            payments.amount_due(plan.id, number)


def test_patient_finance_lists_approved_plans_with_rows_schedule_and_receipts(staff):
    """Proposed plans stay out; each plan has its rows, computed schedule, receipts and refunded ids."""
    patient = make_patient()
    make_plan(patient=patient)  # proposed
    plan = make_plan(patient=patient, prices=(90_000,), approve=True)
    plans.set_installments(plan.id, 3, clinic_day() - timedelta(days=45))
    paid = payments.record_payment(plan.id, 40_000, "cash")
    refunded = payments.record_payment(plan.id, 5_000, "cash")
    payments.refund_payment(refunded.id, "Erro")
    [finance] = payments.patient_finance(patient.id)
    assert finance.plan.id == plan.id
    assert (finance.payments_cents, finance.refunds_cents, finance.balance.balance_cents) == (45_000, 5_000, 50_000)
    assert [i.status for i in finance.installments] == [
        InstallmentState.PAID,
        InstallmentState.PARTIAL,
        InstallmentState.PENDING,
    ]
    assert [i.overdue for i in finance.installments] == [False, True, False]
    assert set(finance.receipts) == {paid.id, refunded.id}
    assert finance.refunded == {refunded.id}


def test_boleto_is_a_payment_method(plan):
    """Boleto joined the methods (migration 0011 widened the CHECK); the receipt names it."""
    payment = payments.record_payment(plan.id, 10_000, "boleto")
    assert payment.method == "boleto"
    assert payments.receipt_of_payment(payment.id).payment_id == payment.id
