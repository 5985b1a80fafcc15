"""Reports and the data report on both backends: the aggregate SQL (window sums, CASE counts) runs the same."""

from datetime import timedelta

import pytest

from app.db.actor import acting_as
from app.services import data_report, payments, plans, reports
from app.services.clock import clinic_day
from app.services.errors import PermissionDenied, ValidationError
from tests.factories import make_patient, make_user
from tests.factories_finance import as_user, make_dentist, make_plan


@pytest.fixture
def paid_plan(app):
    """An approved R$ 300,00 plan in 3 instalments from 45 days ago, one item done, R$ 150,00 paid by PIX."""
    dentist = make_dentist(full_name="Ana Dentista")
    plan = make_plan(dentist=dentist, prices=(10_000, 20_000), approve=True)
    with as_user(dentist):
        plans.mark_item_done(plan.items[1].id)
        plans.set_installments(plan.id, 3, clinic_day() - timedelta(days=45))
    with as_user(make_user("receptionist")):
        payments.record_payment(plan.id, 15_000, "pix")
    return plan


def test_every_report_runs_and_adds_up(app, paid_plan):
    """Production R$ 200,00; receipts R$ 150,00 by PIX; R$ 150,00 to receive; the second instalment half open."""
    today = clinic_day()
    period = reports.check_period(today - timedelta(days=30), today)
    found = {report.name: report for report in reports.all_reports(period)}
    assert found["production"].rows == [("Ana Dentista", 1, 20_000)]
    assert found["receipts"].rows == [("Pix", 15_000, 0, 15_000)]
    assert found["receivables"].totals[2] == 15_000
    late = {row[0]: row[1:] for row in found["overdue"].rows}
    # instalments of R$ 100,00 due 45 and 14-ish days ago: the first paid, the second half paid
    assert sum(count for count, _cents in late.values()) == 1
    assert sum(cents for _count, cents in late.values()) == 5_000
    assert found["new_patients"].totals[1] == 1
    assert found["missed"].rows == []


@pytest.mark.parametrize(
    "first, last, field",
    [(None, 0, "from"), (0, None, "to"), (10, 0, "to"), (0, 800, "to")],
)
def test_period_bounds(app, first, last, field):
    """Missing dates, an end before the start and a period over two years are refused on their field."""
    today = clinic_day()
    as_date = lambda days: None if days is None else today + timedelta(days=days)  # noqa: E731
    with pytest.raises(ValidationError) as refused:
        reports.check_period(as_date(first), as_date(last))
    assert field in refused.value.errors


def test_data_report_gathers_and_checks_who_may(app, paid_plan):
    """The plan's dentist may produce it (it audits and gathers); another dentist may not."""
    with acting_as(paid_plan.dentist_user_id):
        report = data_report.produce_data_report(paid_plan.patient_id)
    assert [plan.id for plan in report.plans] == [paid_plan.id] and len(report.payments) == 1
    assert len(report.installments) == 3
    with acting_as(make_dentist().id), pytest.raises(PermissionDenied):
        data_report.produce_data_report(paid_plan.patient_id)
    with acting_as(make_user("receptionist").id), pytest.raises(PermissionDenied):
        data_report.produce_data_report(make_patient().id)
