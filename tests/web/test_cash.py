"""Cash closing (administrators): the day's payments and refunds by method, closing the day, the printable sheet."""

import re
from datetime import timedelta

import pytest

from app.services import payments
from app.services.clock import clinic_day
from app.services.errors import ConflictError
from tests.factories import make_user
from tests.factories_finance import approved_plan, as_user
from tests.support import count_queries, login_as, post_form


@pytest.fixture
def day_of_payments(app):
    """Today: R$ 300,00 by PIX and R$ 200,00 in cash (refunded), by a named receptionist; a R$ 50,00 discount."""
    receptionist = make_user("receptionist", full_name="Rita Recepção")
    plan = approved_plan(100_000)
    with as_user(receptionist):
        payments.record_payment(plan.id, 30_000, "pix")
        cash = payments.record_payment(plan.id, 20_000, "cash")
        payments.refund_payment(cash.id, "Pagou em dobro")
        payments.record_adjustment(plan.id, 5_000, "Desconto de pontualidade")
    return plan


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_day_shows_totals_by_method_and_who_received(app, client, day_of_payments):
    """Totals per method (PIX 300, cash 200 − 200), net R$ 300,00; each row names its patient and receiver."""
    login_as(client, "admin")
    page = _text(client.get("/cash"))
    assert "Pix" in page and "R$ 300,00" in page and "Dinheiro" in page
    net = re.search(r'data-testid="cash-net">([^<]+)<', page).group(1)
    assert net == "R$ 300,00"
    assert page.count("Rita Recepção") == 4  # three payment rows and the adjustment
    assert "Desconto de pontualidade" in page and "Caixa aberto" in page
    assert day_of_payments.patient_id and f"/patients/{day_of_payments.patient_id}" in page


def test_closing_the_day_then_a_payment_is_refused(app, client, day_of_payments):
    """After closing, the page names who closed it and when, and the service refuses payments and refunds."""
    admin = login_as(client, "admin", full_name="Alice Administradora")
    response = post_form(client, "/cash/close", {"date": clinic_day().isoformat()}, follow_redirects=True)
    page = _text(response)
    assert "Caixa fechado por Alice Administradora em" in page
    assert "Fechar o caixa do dia" not in page
    with as_user(admin), pytest.raises(ConflictError, match="já foi fechado"):
        payments.record_payment(day_of_payments.id, 1_000, "cash")
    pix = next(p for p in payments.payments_of_plan(day_of_payments.id) if p.method == "pix")
    with as_user(admin), pytest.raises(ConflictError, match="já foi fechado"):
        payments.refund_payment(pix.id, "Engano")


def test_closing_twice_or_a_future_day_is_refused_with_a_message(app, client):
    """A second closing and a day still to come are refused with a message, never a 500."""
    login_as(client, "admin")
    today = clinic_day().isoformat()
    post_form(client, "/cash/close", {"date": today})
    again = _text(post_form(client, "/cash/close", {"date": today}, follow_redirects=True))
    assert "já foi fechado" in again
    future = (clinic_day() + timedelta(days=1)).isoformat()
    later = _text(post_form(client, "/cash/close", {"date": future}, follow_redirects=True))
    assert "ainda não chegou" in later
    garbage = post_form(client, "/cash/close", {"date": "ontem"}, follow_redirects=True)
    assert garbage.status_code == 200 and "Informe o dia" in _text(garbage)


def test_printable_sheet_has_header_totals_and_no_navigation(app, client, day_of_payments):
    """The sheet: the clinic's header, the totals, the rows, a signature line; nothing of the app's navigation."""
    login_as(client, "admin", full_name="Alice Administradora")
    post_form(client, "/cash/close", {"date": clinic_day().isoformat()})
    page = _text(client.get(f"/cash/print?date={clinic_day().isoformat()}"))
    assert 'data-testid="clinic-header"' in page and "Clínica Odontológica" in page
    assert "Fechamento de caixa" in page and "R$ 300,00" in page and "Rita Recepção" in page
    assert "Fechado por Alice Administradora" in page and 'class="signature-line"' in page
    assert "app-header" not in page and "nav-sections" not in page and "/patients" not in page


def test_another_day_is_chosen_by_date_and_garbage_means_today(app, client, day_of_payments):
    """`?date=` picks the day (yesterday: nothing); garbage falls back to today."""
    login_as(client, "admin")
    yesterday = (clinic_day() - timedelta(days=1)).isoformat()
    assert "Nenhum lançamento neste dia." in _text(client.get(f"/cash?date={yesterday}"))
    assert "Rita Recepção" in _text(client.get("/cash?date=9999-99-99"))


@pytest.mark.parametrize("role", ["receptionist", "dentist"])
def test_only_administrators_reach_the_cash_closing(app, client, role):
    """Receptionists and dentists get 403 on the page, the closing and the sheet."""
    login_as(client, role)
    assert client.get("/cash").status_code == 403
    assert client.get("/cash/print").status_code == 403
    assert post_form(client, "/cash/close", {"date": clinic_day().isoformat()}).status_code == 403


def test_query_count_does_not_grow_with_the_rows(app, client):
    """The day's page reads a fixed number of queries with 5 or 50 payments."""
    receptionist = make_user("receptionist")
    login_as(client, "admin")
    counts = []
    for total in (5, 50):
        plan = approved_plan(1_000_000)
        with as_user(receptionist):
            for _ in range(total - (5 if total == 50 else 0)):
                payments.record_payment(plan.id, 100, "cash")
        with count_queries(selects_only=True) as statements:
            assert client.get("/cash").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1]
