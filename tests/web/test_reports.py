"""Reports (administrators): each report's figures on seeded rows, computed by hand here; CSV format; query counts."""

import csv
import io
from collections import Counter
from datetime import UTC, datetime, time, timedelta

import pytest

from app.db.actor import acting_as
from app.services import agenda, payments, plans, reports
from app.services.clock import add_months, clinic_day, clinic_tz
from tests.factories import change_behind_the_session, make_patient, make_user
from tests.factories_finance import approved_plan, as_user, make_dentist, make_plan, slot
from tests.support import count_queries, login_as


@pytest.fixture
def today(app):
    """The clinic's today (tests compute the expected figures from it)."""
    return clinic_day()


def _at(day, hour: int = 10) -> datetime:
    """An aware instant at HH:00 clinic time on `day`, in UTC."""
    return datetime.combine(day, time(hour), tzinfo=clinic_tz()).astimezone(UTC)


def _period_args(first, last) -> str:
    return f"from={first.isoformat()}&to={last.isoformat()}"


@pytest.fixture
def office(app, today):
    """Two dentists with done items, payments and a refund, appointments attended and missed, instalments late."""
    receptionist = make_user("receptionist", full_name="Rita Recepção")
    ana, bruno = make_dentist(full_name="Ana Dentista"), make_dentist(full_name="Bruno Dentista")
    plan_a = make_plan(dentist=ana, prices=(10_000, 20_000, 5_000), approve=True)  # R$ 350,00
    plan_b = make_plan(dentist=bruno, prices=(4_000,), approve=True)  # R$ 40,00, in 4 instalments
    make_plan(dentist=bruno, prices=(99_000,))  # proposed: no balance to receive
    with as_user(ana):
        for item in plan_a.items[:2]:
            plans.mark_item_done(item.id)  # R$ 100,00 + R$ 200,00 done in the period
        plans.mark_item_done(plan_a.items[2].id)
    change_behind_the_session(plan_a.items[2], done_at=_at(today - timedelta(days=60)))  # outside the period
    with as_user(bruno):
        plans.mark_item_done(plan_b.items[0].id)
        plans.set_installments(plan_b.id, 4, today - timedelta(days=100))
    with as_user(receptionist):
        payments.record_payment(plan_a.id, 10_000, "pix")
        card = payments.record_payment(plan_a.id, 5_000, "credit")
        payments.refund_payment(card.id, "Cartão errado")
        payments.record_payment(plan_a.id, 2_500, "cash")
        payments.record_payment(plan_b.id, 1_500, "pix")  # first instalment and half of the second
        payments.record_adjustment(plan_a.id, 500, "Desconto")  # not a receipt
    # appointments: booked ahead, then moved to yesterday (attended / missed need a started appointment)
    patient = make_patient()
    booked = []
    for n, dentist in enumerate([ana, ana, ana, ana, bruno, bruno]):
        with as_user(dentist):
            booked.append(
                agenda.book_appointment(patient.id if n < 4 else make_patient().id, dentist.id, *slot(1, 8 + n))
            )
    with as_user(ana):
        agenda.cancel_appointment(booked[3].id, "Viagem")
    for n, appointment in enumerate(booked):
        start = _at(today - timedelta(days=1), 8 + n)
        change_behind_the_session(appointment, starts_at=start, ends_at=start + timedelta(minutes=30))
    with as_user(ana):
        agenda.set_appointment_status(booked[0].id, "attended")
        agenda.set_appointment_status(booked[1].id, "attended")
        agenda.set_appointment_status(booked[2].id, "missed")
    with as_user(bruno):
        agenda.set_appointment_status(booked[4].id, "attended")  # booked[5] stays scheduled
    return {"ana": ana, "bruno": bruno, "plan_a": plan_a, "plan_b": plan_b}


def _report(name, first, last):
    return reports.build(name, reports.check_period(first, last), full=True)


def test_production_by_dentist(app, office, today):
    """Ana: 2 items, R$ 300,00 (the third was done 60 days ago); Bruno: 1 item, R$ 40,00."""
    report = _report("production", today - timedelta(days=10), today)
    assert report.rows == [("Ana Dentista", 2, 30_000), ("Bruno Dentista", 1, 4_000)]
    assert report.totals == ("Total", 3, 34_000)


def test_receipts_by_method(app, office, today):
    """PIX 100 + 15; credit 50 − 50 refunded; cash 25; the adjustment is no receipt."""
    report = _report("receipts", today, today)
    rows = {row[0]: row[1:] for row in report.rows}
    assert rows == {"Cartão de crédito": (5_000, -5_000, 0), "Pix": (11_500, 0, 11_500), "Dinheiro": (2_500, 0, 2_500)}
    assert report.totals == ("Total", 19_000, -5_000, 14_000)
    assert _report("receipts", today - timedelta(days=9), today - timedelta(days=1)).rows == []


def test_receivables_are_the_positive_balances(app, office, today):
    """Plan A: 350 − (100 + 50 − 50 + 25) − 5 = R$ 220,00; plan B: 40 − 15 = R$ 25,00; a proposed plan owes nothing."""
    report = _report("receivables", today, today)
    assert [(row[1], row[2]) for row in report.rows] == [
        (f"#{office['plan_a'].id}", 22_000),
        (f"#{office['plan_b'].id}", 2_500),
    ]
    assert report.totals[2] == 24_500 and report.totals[0].startswith("2 plano(s)")


def _bucket(days_late: int) -> int:
    """Which aging row a number of days late falls in (0–30, 31–60, 61–90, 90+)."""
    return 0 if days_late <= 30 else 1 if days_late <= 60 else 2 if days_late <= 90 else 3


def test_overdue_instalments_aged(app, office, today):
    """Four R$ 10,00 instalments from 100 days ago, R$ 15,00 paid: the first is paid, the second lacks R$ 5,00."""
    first = today - timedelta(days=100)
    expected = [[0, 0] for _ in range(4)]
    open_cents = {0: 0, 1: 500, 2: 1_000, 3: 1_000}
    for n in range(4):
        due = add_months(first, n)
        if due < today and open_cents[n]:
            bucket = _bucket((today - due).days)
            expected[bucket][0] += 1
            expected[bucket][1] += open_cents[n]
    report = _report("overdue", today, today)
    assert [list(row[1:]) for row in report.rows] == expected
    assert report.totals[1:] == (sum(e[0] for e in expected), sum(e[1] for e in expected))


def test_missed_rate_by_dentist(app, office, today):
    """Ana: 3 booked (1 cancelled apart), 2 attended, 1 missed → 33,3 %; Bruno: 2 booked, 1 attended → 0 %."""
    report = _report("missed", today - timedelta(days=3), today)
    assert report.rows == [("Ana Dentista", 3, 2, 1, 33.3), ("Bruno Dentista", 2, 1, 0, 0.0)]
    assert report.totals == ("Total", 5, 3, 1, 25.0)


def test_new_patients_by_month(app, today):
    """Patients counted in the clinic-time month they were registered; those outside the period are not."""
    first, last = add_months(today.replace(day=1), -2), today
    moved = {40: 2, 70: 1, 200: 1, 0: 3}  # days ago → how many patients
    expected = Counter()
    for days_ago, count in moved.items():
        for _ in range(count):
            patient = make_patient()
            when = _at(today - timedelta(days=days_ago), 9)
            change_behind_the_session(patient, created_at=when)
            day = today - timedelta(days=days_ago)
            if first <= day <= last:
                expected[(day.year, day.month)] += 1
    report = _report("new_patients", first, last)
    months = [add_months(first, n) for n in range(3)]
    assert [row[1] for row in report.rows] == [expected[(m.year, m.month)] for m in months]
    assert report.rows[-1][0] == f"{reports.MONTHS[today.month - 1]}/{today.year}"


def test_page_shows_every_report_with_chart_and_csv_link(app, client, office, today):
    """The page: each report's table, its SVG chart with written values, its CSV link; the figures formatted."""
    login_as(client, "admin")
    page = client.get(f"/reports?{_period_args(today - timedelta(days=10), today)}").get_data(as_text=True)
    for name in reports.REPORTS:
        assert f'data-testid="report-{name}"' in page
        assert f"/reports/csv?report={name}" in page
    assert '<svg class="bar-chart"' in page and 'class="bar-value">R$ 300,00</text>' in page
    assert "33,3%" in page and "R$ 220,00" in page


@pytest.mark.parametrize(
    "query, message",
    [
        ("from=2026-05-10&to=2026-05-01", "igual ou posterior"),
        ("from=2020-01-01&to=2026-01-01", "no máximo 731 dias"),
        ("from=abc&to=2026-01-01", "Data inválida"),
        ("from=2026-02-30&to=2026-03-01", "Data inválida"),
        ("from=2026-01-01", "data final"),
        ("from=0001-01-01&to=9999-12-31", "Data inválida"),
    ],
)
def test_bad_period_is_a_form_error(app, client, query, message):
    """A period beyond sane bounds is shown in the form, never a 500; the CSV link leads back to the form."""
    login_as(client, "admin")
    response = client.get(f"/reports?{query}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "field-error" in page and message in page and "bar-chart" not in page
    csv_response = client.get(f"/reports/csv?report=receipts&{query}")
    assert csv_response.status_code == 302 and csv_response.location.startswith("/reports?")


def test_csv_has_bom_semicolons_and_comma_decimals(app, client, office, today):
    """UTF-8 with BOM, `;` separated, comma decimals, header and totals rows; an attachment with a file name."""
    login_as(client, "admin")
    response = client.get(f"/reports/csv?report=receipts&{_period_args(today, today)}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=") and disposition.endswith('.csv"')
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Forma de pagamento", "Recebido", "Estornado", "Líquido"]
    assert ["Pix", "115,00", "0,00", "115,00"] in rows
    assert ["Cartão de crédito", "50,00", "-50,00", "0,00"] in rows
    assert rows[-1] == ["Total", "190,00", "-50,00", "140,00"]
    missed = client.get(f"/reports/csv?report=missed&{_period_args(today - timedelta(days=3), today)}")
    lines = missed.get_data().decode("utf-8-sig").splitlines()
    assert lines[1] == "Ana Dentista;3;2;1;33,3"


def test_csv_of_an_unknown_report_is_refused(app, client):
    """An unknown report name leads back to the page, with a message."""
    login_as(client, "admin")
    response = client.get("/reports/csv?report=salaries", follow_redirects=True)
    assert response.status_code == 200 and "Escolha um dos relatórios" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["receptionist", "dentist"])
def test_only_administrators_see_reports(app, client, role):
    """Reports and their CSV are for administrators."""
    login_as(client, role)
    assert client.get("/reports").status_code == 403
    assert client.get("/reports/csv?report=receipts").status_code == 403


def _grow(count: int) -> None:
    """`count` more plans (a dentist each) with a done item, a payment, an instalment, an appointment, a patient."""
    receptionist = make_user("receptionist")
    for n in range(count):
        plan = approved_plan(10_000)
        dentist_id = plan.dentist_user_id
        with acting_as(dentist_id):
            plans.mark_item_done(plan.items[0].id)
            plans.set_installments(plan.id, 2, clinic_day() - timedelta(days=40))
            agenda.book_appointment(plan.patient_id, dentist_id, *slot(1, 8))
        with as_user(receptionist):
            payments.record_payment(plan.id, 1_000 + n, "pix" if n % 2 else "cash")


def test_query_count_does_not_grow_with_the_rows(app, client, today):
    """The whole reports page reads the same number of queries with 5 or 50 rows in every report."""
    login_as(client, "admin")
    counts = []
    for grow in (5, 45):
        _grow(grow)
        with count_queries(selects_only=True) as statements:
            assert client.get("/reports").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1]
