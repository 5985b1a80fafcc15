"""Property: any sequence of payments, adjustments and refunds on a plan with instalments gives the balances and
instalment statuses of a plain model written here; no cent is lost or created."""

from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.db.actor import acting_as
from app.services import payments, plans
from app.services.clock import clinic_day
from app.services.errors import ConflictError, ValidationError
from tests.factories import make_user
from tests.factories_finance import make_plan
from tests.support import once_on_sqlite

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(min_value=-100, max_value=120_000)),
        st.tuples(st.just("adjust"), st.integers(min_value=-50_000, max_value=50_000)),
        st.tuples(st.just("refund"), st.integers(min_value=0, max_value=1_000)),
    ),
    max_size=1_000,
)


@dataclass
class Model:
    """The plain arithmetic: signed rows, the balance, refunds at most once, credit allocated oldest first."""

    total: int
    installments: list[int]
    rows: list[int] = field(default_factory=list)
    payments: list[int] = field(default_factory=list)  # indices into rows of refundable payments
    refunded: set[int] = field(default_factory=set)

    @property
    def balance(self) -> int:
        return self.total - sum(self.rows)

    def statuses(self) -> list[tuple[int, str]]:
        credit, result = max(0, sum(self.rows)), []
        for amount in self.installments:
            covered = min(credit, amount)
            credit -= covered
            result.append((covered, "paid" if covered == amount else "partial" if covered else "pending"))
        return result


def _apply(model: Model, plan_id: int, operation: tuple[str, int], refundable: list) -> None:
    """Run one operation on the services and on the model; both must accept or refuse it alike."""
    kind, value = operation
    if kind == "pay":
        accepted = 0 < value <= model.balance
        try:
            row = payments.record_payment(plan_id, value, "cash")
        except ValidationError:
            assert not accepted, operation
            return
        assert accepted, operation
        model.payments.append(len(model.rows))
        refundable.append(row.id)
        model.rows.append(value)
    elif kind == "adjust":
        accepted = value != 0 and value <= model.balance
        try:
            payments.record_adjustment(plan_id, value, "Ajuste do teste")
        except ValidationError:
            assert not accepted, operation
            return
        assert accepted, operation
        model.rows.append(value)
    elif model.payments:
        pick = value % len(model.payments)
        index = model.payments[pick]
        try:
            payments.refund_payment(refundable[pick], "Estorno do teste")
        except ConflictError:
            assert index in model.refunded, operation
            return
        assert index not in model.refunded, operation
        model.refunded.add(index)
        model.rows.append(-model.rows[index])


@once_on_sqlite
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    prices=st.lists(st.integers(min_value=1, max_value=50_000), min_size=1, max_size=4),
    count=st.integers(min_value=1, max_value=12),
    operations=OPERATIONS,
)
def test_any_sequence_matches_the_plain_model(app, prices, count, operations):
    """Balances and instalment statuses equal the model's after every sequence; the rows add up exactly."""
    staff = make_user("receptionist")
    with acting_as(staff.id):
        plan = make_plan(prices=tuple(prices), approve=True)
        total = sum(prices)
        count = min(count, total)
        plans.set_installments(plan.id, count, clinic_day() - timedelta(days=31))
        model = Model(total, plans.split_cents(total, count))
        refundable: list[int] = []
        for operation in operations:
            _apply(model, plan.id, operation, refundable)
        balance = plans.plan_balance(plan.id)
        assert balance.balance_cents == model.balance
        assert balance.approved_total_cents - balance.paid_cents - balance.adjustments_cents == model.balance
        assert [row.amount_cents for row in payments.payments_of_plan(plan.id)] == model.rows
        schedule = plans.installment_status(plan.id)
        assert [(i.paid_cents, str(i.status)) for i in schedule] == model.statuses()
        assert sum(i.amount_cents for i in schedule) == total
        [finance] = [f for f in payments.patient_finance(plan.patient_id) if f.plan.id == plan.id]
        assert finance.balance.balance_cents == model.balance
