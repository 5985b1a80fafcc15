"""Payments, adjustments, refunds and the daily cash closing."""

import json
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.db import PACIENTES
from app.db.actor import acting_as
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.history import AuditEvent, TimelineEvent
from app.models.pacientes import CashClosing, Payment
from app.services import payments, plans, users
from app.services.clock import clinic_day
from app.services.errors import ConflictError, NotFound, RelatedEntityNotFound, ValidationError
from app.vocabulary import PaymentKind, PaymentMethod
from tests.factories import make_user
from tests.factories_finance import MISSING_ID, approved_plan, make_plan
from tests.support import once_on_sqlite


@pytest.fixture
def staff(app):
    """An active receptionist, acting for the test's duration."""
    user = make_user("receptionist")
    with acting_as(user.id):
        yield user


@pytest.fixture
def plan(staff):
    """An approved plan of R$ 1.000,00."""
    return approved_plan(100_000)


def fresh(model, row_id):
    """A row as stored (the session keeps objects after commit, so expire them first)."""
    db.session.expire_all()
    return db.session.get(model, row_id)


def payment_count() -> int:
    """How many payment rows exist (of any kind)."""
    return db.session.scalar(select(func.count()).select_from(Payment))


def last_timeline(patient_id: int) -> str:
    """The patient's latest timeline line."""
    return db.session.scalars(
        select(TimelineEvent.summary).where(TimelineEvent.patient_id == patient_id).order_by(TimelineEvent.id.desc())
    ).first()


def balance(plan_id: int) -> int:
    """The plan's open balance in cents."""
    return plans.plan_balance(plan_id).balance_cents


def inactive_user_id() -> int:
    """The id of a deactivated staff account."""
    user = make_user("receptionist")
    users.deactivate_user(user.id, "Saiu da clínica")
    return user.id


def broken(*_args, **_kwargs):
    """Stand-in for a step that fails half-way through a service."""
    raise RuntimeError("disk full")


# --- payments --------------------------------------------------------------------------------------------------


def test_record_payment_stores_row_timeline_and_audit(staff, plan):
    """A payment stores amount, method, today's clinic day and the receiver; timeline and audit follow."""
    payment = payments.record_payment(plan.id, 15_000, "pix")
    stored = fresh(Payment, payment.id)
    assert (stored.plan_id, stored.amount_cents, stored.method, stored.kind) == (
        plan.id,
        15_000,
        PaymentMethod.PIX,
        PaymentKind.PAYMENT,
    )
    assert stored.received_by_user_id == staff.id and stored.paid_at.tzinfo is not None
    assert stored.clinic_day == clinic_day(stored.paid_at) == clinic_day()
    assert last_timeline(plan.patient_id) == "Pagamento de R$ 150,00 (pix) recebido."
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.table_name == "payment")).one()
    assert (audit.action, audit.row_id, audit.patient_id, audit.actor_user_id) == (
        "create",
        payment.id,
        plan.patient_id,
        staff.id,
    )
    assert balance(plan.id) == 85_000


def test_payment_received_by_another_active_user(staff, plan):
    """The receiver can be named explicitly (the dentist took the money)."""
    dentist = make_user("dentist")
    payment = payments.record_payment(plan.id, 1_000, "cash", received_by_user_id=dentist.id)
    assert fresh(Payment, payment.id).received_by_user_id == dentist.id


@pytest.mark.parametrize("case", ["missing", "inactive"])
def test_payment_refuses_receiver_that_is_not_an_active_user(staff, plan, case):
    """The receiver id (users bind) must be an existing, active account."""
    receiver = MISSING_ID if case == "missing" else inactive_user_id()
    with pytest.raises(RelatedEntityNotFound) as info:
        payments.record_payment(plan.id, 1_000, "cash", received_by_user_id=receiver)
    assert info.value.bind == "users"
    assert payment_count() == 0


@pytest.mark.parametrize("case", ["missing", "inactive"])
def test_payment_refuses_acting_user_that_is_not_active(plan, case):
    """Without an explicit receiver the current actor receives, and must be an active account."""
    actor = MISSING_ID if case == "missing" else inactive_user_id()
    with acting_as(actor), pytest.raises(RelatedEntityNotFound):
        payments.record_payment(plan.id, 1_000, "cash")
    assert payment_count() == 0


def test_payment_without_any_receiver_is_refused(plan):
    """Someone must have received the money: no actor and no receiver is a validation error."""
    with acting_as(None), pytest.raises(ValidationError) as info:
        payments.record_payment(plan.id, 1_000, "cash")
    assert "received_by_user_id" in info.value.errors


@once_on_sqlite
@pytest.mark.parametrize("amount", [0, -100, 10.5, "100", True, None, 100_000_001])
def test_payment_amount_must_be_positive_integer_cents(staff, plan, amount):
    """Zero, negative, fractional, textual, boolean and absurd amounts are refused."""
    with pytest.raises(ValidationError) as info:
        payments.record_payment(plan.id, amount, "cash")
    assert "amount_cents" in info.value.errors
    assert payment_count() == 0


@once_on_sqlite
@pytest.mark.parametrize("method", ["", "cheque", None])
def test_payment_method_must_be_known(staff, plan, method):
    """Only the known payment methods are accepted."""
    with pytest.raises(ValidationError) as info:
        payments.record_payment(plan.id, 1_000, method)
    assert "method" in info.value.errors


def test_payment_up_to_the_balance_and_not_beyond(staff, plan):
    """Paying the exact balance works; one cent more than what is open is refused."""
    payments.record_payment(plan.id, 60_000, "pix")
    with pytest.raises(ValidationError, match="R\\$ 400,00"):
        payments.record_payment(plan.id, 40_001, "pix")
    payments.record_payment(plan.id, 40_000, "pix")
    assert balance(plan.id) == 0


def test_payment_on_a_proposed_plan_is_refused(staff):
    """Money is only taken for approved (or completed) plans."""
    proposed = make_plan()
    with pytest.raises(ConflictError, match="proposto"):
        payments.record_payment(proposed.id, 1_000, "pix")
    assert payment_count() == 0


def test_payment_on_a_completed_plan_is_accepted(staff, plan):
    """A completed plan with an open balance still takes payments."""
    plans.mark_item_done(fresh(type(plan), plan.id).items[0].id)
    plans.complete_plan(plan.id)
    payments.record_payment(plan.id, 1_000, "debit")
    assert balance(plan.id) == 99_000


def test_payment_on_unknown_plan_is_not_found(staff):
    """Paying for a plan that does not exist raises NotFound."""
    with pytest.raises(NotFound):
        payments.record_payment(MISSING_ID, 1_000, "pix")


def test_payment_is_atomic(staff, plan, monkeypatch):
    """If recording fails half-way (here: the timeline), no payment row remains."""
    monkeypatch.setattr(payments, "add_timeline", broken)
    with pytest.raises(RuntimeError):
        payments.record_payment(plan.id, 1_000, "pix")
    assert payment_count() == 0
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.table_name == "payment")).all() == []


def test_two_concurrent_payments_of_the_whole_balance_only_one_lands(app, staff, plan, monkeypatch):
    """The balance check and the insert are serialised per plan: the balance can never go negative."""
    real_balance = payments.plan_balance

    def slow_balance(plan_id):
        result = real_balance(plan_id)
        time.sleep(0.3)  # widen the gap between check and insert
        return result

    monkeypatch.setattr(payments, "plan_balance", slow_balance)
    barrier, outcomes = threading.Barrier(2), []

    def attempt():
        with app.app_context(), acting_as(staff.id):
            try:
                barrier.wait()
                payments.record_payment(plan.id, 100_000, "pix")
                outcomes.append("paid")
            except ValidationError:
                outcomes.append("refused")
            except Exception as exc:  # noqa: BLE001 - any other failure is reported by the assertion
                outcomes.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["paid", "refused"]
    assert balance(plan.id) == 0


# --- adjustments -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount, expected_balance, summary",
    [
        (5_000, 95_000, "Desconto de R$ 50,00"),
        (-2_500, 102_500, "Acréscimo de R$ 25,00"),
    ],
)
def test_adjustment_changes_balance_with_its_reason(staff, plan, amount, expected_balance, summary):
    """A positive adjustment is a discount, a negative one an extra charge; both keep their reason."""
    adjustment = payments.record_adjustment(plan.id, amount, "  Combinado com a paciente ")
    stored = fresh(Payment, adjustment.id)
    assert (stored.kind, stored.amount_cents, stored.reason) == (
        PaymentKind.ADJUSTMENT,
        amount,
        "Combinado com a paciente",
    )
    assert balance(plan.id) == expected_balance
    assert last_timeline(plan.patient_id) == f"{summary} no plano #{plan.id}: Combinado com a paciente"


@once_on_sqlite
@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 501])
def test_adjustment_needs_a_reason(staff, plan, reason):
    """An adjustment without a (reasonably sized) reason is refused."""
    with pytest.raises(ValidationError) as info:
        payments.record_adjustment(plan.id, 1_000, reason)
    assert "reason" in info.value.errors
    assert payment_count() == 0


@once_on_sqlite
@pytest.mark.parametrize("amount", [0, 1.5, "10"])
def test_adjustment_amount_must_be_nonzero_integer_cents(staff, plan, amount):
    """An adjustment of zero or of a non-integer amount is refused."""
    with pytest.raises(ValidationError):
        payments.record_adjustment(plan.id, amount, "Motivo")


def test_discount_cannot_exceed_the_balance(staff, plan):
    """A discount larger than what is still open is refused."""
    with pytest.raises(ValidationError, match="excede"):
        payments.record_adjustment(plan.id, 100_001, "Desconto")


@pytest.mark.parametrize("case", ["missing", "inactive"])
def test_adjustment_refuses_acting_user_that_is_not_active(plan, case):
    """The user recording an adjustment is stored, so it must be an active account."""
    actor = MISSING_ID if case == "missing" else inactive_user_id()
    with acting_as(actor), pytest.raises(RelatedEntityNotFound):
        payments.record_adjustment(plan.id, 1_000, "Desconto")
    assert payment_count() == 0


# --- refunds ---------------------------------------------------------------------------------------------------


def test_refund_reverses_one_payment(staff, plan):
    """A refund is the negative of its payment, same method, linked to it; the balance comes back."""
    payment = payments.record_payment(plan.id, 15_000, "credit")
    refund = payments.refund_payment(payment.id, "Procedimento remarcado")
    stored = fresh(Payment, refund.id)
    assert (stored.kind, stored.amount_cents, stored.method, stored.refund_of_id) == (
        PaymentKind.REFUND,
        -15_000,
        "credit",
        payment.id,
    )
    assert stored.received_by_user_id == staff.id
    assert balance(plan.id) == 100_000
    assert last_timeline(plan.patient_id).startswith("Estorno de R$ 150,00 (cartão de crédito) do pagamento de")
    assert payments.refunded_payment_ids(plan.id) == {payment.id}


def test_a_payment_is_refunded_at_most_once(staff, plan):
    """Refunding the same payment twice is a conflict."""
    payment = payments.record_payment(plan.id, 15_000, "pix")
    payments.refund_payment(payment.id)
    with pytest.raises(ConflictError, match="já foi estornado"):
        payments.refund_payment(payment.id)
    assert payment_count() == 2


def test_database_refuses_a_second_refund_of_one_payment(staff, plan):
    """The unique refund_of_id column enforces 'at most once' even past the service."""
    payment = payments.record_payment(plan.id, 15_000, "pix")
    first = payments.refund_payment(payment.id)
    with pytest.raises(IntegrityError):
        with unit_of_work(PACIENTES):
            db.session.add(
                Payment(
                    plan_id=plan.id,
                    amount_cents=-15_000,
                    method="pix",
                    kind=PaymentKind.REFUND,
                    clinic_day=first.clinic_day,
                    received_by_user_id=staff.id,
                    refund_of_id=payment.id,
                )
            )
    assert payment_count() == 2


@pytest.mark.parametrize(
    "make_target",
    [
        lambda plan: payments.record_adjustment(plan.id, 1_000, "Desconto"),
        lambda plan: payments.refund_payment(payments.record_payment(plan.id, 1_000, "pix").id),
    ],
)
def test_only_payments_can_be_refunded(staff, plan, make_target):
    """Adjustments and refunds themselves are not refunded."""
    target = make_target(plan)
    before = payment_count()
    with pytest.raises(ConflictError, match="Só pagamentos"):
        payments.refund_payment(target.id)
    assert payment_count() == before


def test_refund_of_unknown_payment_is_not_found(staff):
    """Refunding a payment that does not exist raises NotFound."""
    with pytest.raises(NotFound):
        payments.refund_payment(MISSING_ID)


@pytest.mark.parametrize("case", ["missing", "inactive"])
def test_refund_refuses_acting_user_that_is_not_active(staff, plan, case):
    """The user giving the money back is stored, so it must be an active account."""
    payment = payments.record_payment(plan.id, 1_000, "cash")
    actor = MISSING_ID if case == "missing" else inactive_user_id()
    with acting_as(actor), pytest.raises(RelatedEntityNotFound):
        payments.refund_payment(payment.id)
    assert payment_count() == 1


def test_refund_is_atomic(staff, plan, monkeypatch):
    """If a refund fails half-way, nothing is stored and the payment can still be refunded later."""
    payment = payments.record_payment(plan.id, 1_000, "cash")
    monkeypatch.setattr(payments, "add_timeline", broken)
    with pytest.raises(RuntimeError):
        payments.refund_payment(payment.id)
    assert payment_count() == 1
    monkeypatch.undo()
    assert payments.refund_payment(payment.id).amount_cents == -1_000


# --- cash closing ----------------------------------------------------------------------------------------------


def test_day_totals_by_method_and_kind(staff, plan):
    """A day's totals: net cash by method, received, refunded; adjustments apart (they move no cash)."""
    payments.record_payment(plan.id, 10_000, "pix")
    cash = payments.record_payment(plan.id, 5_000, "cash")
    payments.record_payment(plan.id, 2_000, "cash")
    payments.refund_payment(cash.id)
    payments.record_adjustment(plan.id, 1_000, "Desconto")
    totals = payments.day_totals(clinic_day())
    assert totals.by_method == {"pix": 10_000, "cash": 2_000}
    assert (totals.received_cents, totals.refunded_cents, totals.adjustments_cents) == (17_000, -5_000, 1_000)
    assert totals.total_cents == 12_000 and totals.closing is None


def test_close_cash_day_stores_totals_once(staff, plan):
    """Closing stores the day's totals by method (JSON), the total and who closed; a second closing conflicts."""
    payments.record_payment(plan.id, 10_000, "pix")
    payments.record_payment(plan.id, 3_000, "cash")
    closing = payments.close_cash_day(clinic_day())
    stored = fresh(CashClosing, closing.id)
    assert json.loads(stored.totals_json) == {"cash": 3_000, "pix": 10_000}
    assert (stored.total_cents, stored.closed_by_user_id, stored.clinic_day) == (13_000, staff.id, clinic_day())
    assert payments.day_totals(clinic_day()).closing.id == closing.id
    with pytest.raises(ConflictError, match="já foi fechado"):
        payments.close_cash_day(clinic_day())
    assert db.session.scalar(select(func.count()).select_from(CashClosing)) == 1
    assert db.session.scalars(select(AuditEvent.action).where(AuditEvent.table_name == "cash_closing")).all() == [
        "create"
    ]


def test_closing_a_quiet_past_day_records_zero(staff):
    """A past day without movement closes with empty totals."""
    yesterday = clinic_day() - timedelta(days=1)
    closing = payments.close_cash_day(yesterday)
    assert (payments.closing_totals(closing), closing.total_cents) == ({}, 0)


@once_on_sqlite
@pytest.mark.parametrize("day", [lambda: clinic_day() + timedelta(days=1), lambda: None, lambda: "2027-01-01"])
def test_close_cash_day_refuses_future_or_missing_day(staff, day):
    """Only a day that has come can be closed, and it must be a date."""
    with pytest.raises(ValidationError) as info:
        payments.close_cash_day(day())
    assert "day" in info.value.errors


@pytest.mark.parametrize("case", ["missing", "inactive", "nobody"])
def test_close_cash_day_needs_an_active_acting_user(app, case):
    """Who closed the cash is stored: there must be an acting user, and an active one."""
    actor = {"missing": lambda: MISSING_ID, "inactive": inactive_user_id, "nobody": lambda: None}[case]()
    expected = ValidationError if case == "nobody" else RelatedEntityNotFound
    with acting_as(actor), pytest.raises(expected):
        payments.close_cash_day(clinic_day())
    assert db.session.scalar(select(func.count()).select_from(CashClosing)) == 0


def test_closed_day_accepts_no_payment_or_refund_but_adjustments(staff, plan):
    """After closing today, payments and refunds are refused; an adjustment (no cash) is still accepted."""
    payment = payments.record_payment(plan.id, 10_000, "pix")
    payments.close_cash_day(clinic_day())
    with pytest.raises(ConflictError, match="já foi fechado"):
        payments.record_payment(plan.id, 1_000, "cash")
    with pytest.raises(ConflictError, match="já foi fechado"):
        payments.refund_payment(payment.id)
    assert payment_count() == 1
    payments.record_adjustment(plan.id, 500, "Arredondamento")
    assert balance(plan.id) == 89_500


def test_payments_of_plan_oldest_first(staff, plan):
    """The plan's statement lists every row, oldest first."""
    first = payments.record_payment(plan.id, 1_000, "pix")
    second = payments.record_adjustment(plan.id, 500, "Desconto")
    assert [p.id for p in payments.payments_of_plan(plan.id)] == [first.id, second.id]
