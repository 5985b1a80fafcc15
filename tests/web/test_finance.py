"""The cash desk through the web: the financial tab, payments, adjustments, refunds, instalments, receipts, PIX."""

import binascii
import dataclasses
import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db.actor import acting_as
from app.extensions import db
from app.models.pacientes import Payment, Receipt
from app.services import patients, payments, pix, plans, settings
from app.services.clock import clinic_day
from app.vocabulary import PaymentKind
from tests.factories import change_behind_the_session, make_patient, make_user
from tests.factories_finance import make_dentist, make_plan
from tests.support import HTMX, audit_events, count_queries, login_as, post_form

BAD_AMOUNTS = ["0", "-5", "1.234.567.890,00", "abc", "1,2,3", "1,234", ""]


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def desk(client):
    """A client logged in as a receptionist; the user is `client.user`."""
    client.user = login_as(client, "receptionist")
    return client


@pytest.fixture
def plan(app):
    """An approved plan of R$ 2.000,00 (two items) for a patient with a CPF."""
    patient = make_patient(full_name="Marina Souza", cpf="52998224725")
    return make_plan(patient=patient, prices=(150_000, 50_000), approve=True, title="Reabilitação")


def pay(client, plan_id, amount="1.234,56", method="cash", installment="", headers=None):
    """Post the payment form of a plan."""
    data = {"method": method, "amount": amount, "installment": installment}
    return post_form(client, f"/payments/plans/{plan_id}/pay", data, headers=headers or {})


def rows_of(plan_id) -> list[Payment]:
    """The plan's payment rows, re-read."""
    db.session.rollback()
    return list(db.session.scalars(select(Payment).where(Payment.plan_id == plan_id).order_by(Payment.id)))


def configure_pix(key="123e4567-e12b-12d1-a456-426655440000", name="Clínica Sorriso Açaí", city="São Paulo"):
    """Save the clinic's PIX key, merchant name and city (as an admin would)."""
    admin = make_user("admin")
    fields = dataclasses.asdict(settings.current())
    for bookkeeping in ("updated_at", "updated_by_user_id"):
        fields.pop(bookkeeping)
    with acting_as(admin.id):
        settings.update_settings(**{**fields, "pix_key": key, "merchant_name": name, "merchant_city": city})


def close_today():
    """Close today's cash as an administrator."""
    with acting_as(make_user("admin").id):
        payments.close_cash_day(clinic_day())


# The financial tab


def test_finance_tab_shows_balance_by_kind_schedule_and_receipts(app, desk, plan):
    """Approved total, payments, adjustments, refunds, balance, instalment states and a receipt link."""
    with acting_as(desk.user.id):
        plans.set_installments(plan.id, 4, clinic_day() - timedelta(days=40))
        first = payments.record_payment(plan.id, 60_000, "pix")
        second = payments.record_payment(plan.id, 10_000, "cash")
        payments.refund_payment(second.id, "Cobrado a mais")
        payments.record_adjustment(plan.id, 5_000, "Desconto à vista")
    page = _text(desk.get(f"/patients/{plan.patient_id}/finance"))
    assert "Financeiro" in page and f'id="finance-plan-{plan.id}"' in page
    for shown in ("R$ 2.000,00", "R$ 700,00", "R$ 50,00", "R$ 100,00", "R$ 1.350,00"):
        assert shown in page, shown
    assert "Paga" in page and "Parcial" in page and "Pendente" in page and "vencida" in page
    number = db.session.scalar(select(Receipt.number).where(Receipt.payment_id == first.id))
    assert f"/payments/receipts/{number}" in page


def test_negative_balance_is_shown_as_credit(app, desk, plan):
    """More paid than approved (a row from before the balance check) reads as the patient's credit."""
    with acting_as(desk.user.id):
        payment = payments.record_payment(plan.id, 200_000, "cash")
    change_behind_the_session(payment, amount_cents=212_345)
    page = _text(desk.get(f"/patients/{plan.patient_id}/finance"))
    assert "Crédito do paciente" in page and "R$ 123,45" in page and "crédito" in page
    assert "-R$ 123,45" not in page


def test_dentist_sees_the_tab_without_the_cash_desk_forms(app, client, plan):
    """STAFF may view the tab; a dentist gets no payment, adjustment or refund form, and a 403 on posting one."""
    login_as(client, "dentist")
    page = _text(client.get(f"/patients/{plan.patient_id}/finance"))
    assert "Total aprovado" in page
    assert "/pay" not in page and "/adjust" not in page
    assert pay(client, plan.id).status_code == 403
    assert rows_of(plan.id) == []


def test_finance_tab_query_count_is_constant(app, desk):
    """5 or 50 plans with payments each: the tab runs the same number of queries."""
    counts = []
    for size in (5, 50):
        patient = make_patient()
        dentist = make_dentist()
        with acting_as(desk.user.id):
            for n in range(size):
                plan = make_plan(patient=patient, dentist=dentist, prices=(10_000,), approve=True)
                if n % 2:
                    plans.set_installments(plan.id, 2, clinic_day())
                payment = payments.record_payment(plan.id, 1_000, "cash")
                if n % 3 == 0:
                    payments.refund_payment(payment.id, "Teste")
        desk.get(f"/patients/{patient.id}/finance")  # the record view's audit happens once per window
        with count_queries(selects_only=True) as statements:
            response = desk.get(f"/patients/{patient.id}/finance")
        assert response.status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


# Recording payments


def test_money_typed_the_brazilian_way_is_stored_in_cents(app, desk, plan):
    """`1.234,56` is 123456 cents, with the method and the receiver; the tab shows it."""
    response = pay(desk, plan.id, "1.234,56", "pix")
    assert response.status_code == 302
    [row] = rows_of(plan.id)
    assert (row.amount_cents, row.method, row.kind, row.received_by_user_id) == (
        123_456,
        "pix",
        "payment",
        desk.user.id,
    )
    assert "R$ 1.234,56" in _text(desk.get(response.location))


def test_htmx_payment_swaps_the_plan_block_in_place(app, desk, plan):
    """An HTMX post answers with the plan's block only, updated, with a success message."""
    response = pay(desk, plan.id, "100,00", headers=HTMX)
    page = _text(response)
    assert response.status_code == 200
    assert page.lstrip().startswith(f'<article id="finance-plan-{plan.id}"')
    assert "Pagamento de R$ 100,00 registrado." in page and "R$ 1.900,00" in page
    assert 'data-testid="new-receipt"' in page


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_bad_amounts_are_form_errors(app, desk, plan, amount, headers):
    """0, negatives, absurd amounts, letters and misplaced separators: a message on the field, never a 500."""
    response = pay(desk, plan.id, amount, headers=headers)
    assert response.status_code == 200
    assert 'class="field-error"' in response.get_data(as_text=True)
    assert rows_of(plan.id) == []


def test_amount_above_the_balance_is_a_form_error(app, desk, plan):
    """The service's limit (the open balance) appears beside the amount."""
    page = _text(pay(desk, plan.id, "2.000,01"))
    assert "excede o saldo em aberto de R$ 2.000,00" in page
    assert rows_of(plan.id) == []


def test_closed_day_refuses_a_payment_with_a_clear_message(app, desk, plan):
    """After the cash closing, the form says the day is closed; nothing is recorded."""
    close_today()
    response = pay(desk, plan.id, "10,00", headers=HTMX)
    assert response.status_code == 200
    assert "já foi fechado" in _text(response)
    assert rows_of(plan.id) == []


def test_installment_without_amount_pays_what_is_left_of_it(app, desk, plan):
    """Choosing an instalment with the amount blank records its open part."""
    with acting_as(desk.user.id):
        plans.set_installments(plan.id, 3, clinic_day())
    assert pay(desk, plan.id, "", installment="1").status_code == 302
    assert [r.amount_cents for r in rows_of(plan.id)] == [66_667]


def test_payment_page_prefills_method_and_amount(app, desk, plan):
    """The GET form (from the PIX charge) comes with method PIX and the open amount typed the Brazilian way."""
    page = _text(desk.get(f"/payments/plans/{plan.id}/pay?method=pix"))
    assert re.search(r'<option selected value="pix">|<option value="pix" selected>', page)
    assert 'value="2.000,00"' in page


# Adjustments and refunds


def test_adjustment_needs_a_reason(app, desk, plan):
    """A discount without a reason is refused on the reason field."""
    response = post_form(desk, f"/payments/plans/{plan.id}/adjust", {"kind": "discount", "amount": "50,00"})
    assert response.status_code == 200
    assert "Informe o motivo do ajuste." in _text(response)
    assert rows_of(plan.id) == []


@pytest.mark.parametrize("kind, signed", [("discount", 5_000), ("write_off", 5_000), ("surcharge", -5_000)])
def test_adjustment_kinds(app, desk, plan, kind, signed):
    """Discounts and write-offs lower the balance, a surcharge raises it; the reason says which."""
    response = post_form(
        desk, f"/payments/plans/{plan.id}/adjust", {"kind": kind, "amount": "50,00", "reason": "Combinado"}
    )
    assert response.status_code == 302
    [row] = rows_of(plan.id)
    assert (row.kind, row.amount_cents) == (PaymentKind.ADJUSTMENT, signed)
    assert row.reason.endswith(": Combinado")


def test_refund_once_with_a_reason(app, desk, plan):
    """A payment is refunded once; the second attempt shows the conflict on the form; a reason is required."""
    with acting_as(desk.user.id):
        payment = payments.record_payment(plan.id, 30_000, "debit")
    no_reason = post_form(desk, f"/payments/{payment.id}/refund", {"reason": " "}, headers=HTMX)
    assert "Informe o motivo do estorno." in _text(no_reason)
    assert post_form(desk, f"/payments/{payment.id}/refund", {"reason": "Desistiu"}).status_code == 302
    again = post_form(desk, f"/payments/{payment.id}/refund", {"reason": "De novo"}, headers=HTMX)
    assert again.status_code == 200 and "já foi estornado" in _text(again)
    assert [r.amount_cents for r in rows_of(plan.id)] == [30_000, -30_000]


def test_closed_day_refuses_a_refund_with_a_clear_message(app, desk, plan):
    """After the cash closing a refund is refused on the form."""
    with acting_as(desk.user.id):
        payment = payments.record_payment(plan.id, 30_000, "cash")
    close_today()
    response = post_form(desk, f"/payments/{payment.id}/refund", {"reason": "Desistiu"}, headers=HTMX)
    assert response.status_code == 200 and "já foi fechado" in _text(response)
    assert len(rows_of(plan.id)) == 1


# Instalments


def test_installments_split_the_total_exactly(app, desk, plan):
    """Three monthly instalments of R$ 2.000,00 add up to the cent; status computed on the tab."""
    first = clinic_day() + timedelta(days=10)
    response = post_form(
        desk, f"/payments/plans/{plan.id}/installments", {"count": "3", "first_due_date": first.isoformat()}
    )
    assert response.status_code == 302
    schedule = plans.installment_status(plan.id)
    assert [i.amount_cents for i in schedule] == [66_667, 66_667, 66_666]
    assert sum(i.amount_cents for i in schedule) == 200_000
    assert all(i.status == "pending" for i in schedule)


@pytest.mark.parametrize("count, first", [("", "2030-01-10"), ("0", "2030-01-10"), ("abc", "x"), ("61", "")])
def test_bad_installments_are_form_errors(app, desk, plan, count, first):
    """Missing or silly counts and dates: messages on the form, no schedule."""
    response = post_form(desk, f"/payments/plans/{plan.id}/installments", {"count": count, "first_due_date": first})
    assert response.status_code == 200 and 'class="field-error"' in response.get_data(as_text=True)
    assert plans.installment_status(plan.id) == []


# Receipts


def test_receipt_has_clinic_header_number_amount_in_words_and_no_nav(app, desk, plan):
    """The printable receipt: clinic header, its own number, payer with CPF, figures and words, no navigation."""
    assert pay(desk, plan.id, "1.234,56", "pix").status_code == 302
    db.session.rollback()
    receipt = db.session.scalars(select(Receipt)).one()
    page = _text(desk.get(f"/payments/receipts/{receipt.number}"))
    assert 'data-testid="clinic-header"' in page
    assert f"nº {receipt.number:06d}" in page
    assert "um mil, duzentos e trinta e quatro reais e cinquenta e seis centavos" in page
    assert "R$ 1.234,56" in page and "Marina Souza" in page and "529.982.247-25" in page
    assert "Reabilitação" in page and desk.user.full_name in page
    assert "nav-sections" not in page and "app-header" not in page


def test_receipt_numbers_come_from_their_own_sequence(app, desk, plan):
    """Each payment gets the next receipt number; refunds and adjustments get none."""
    with acting_as(desk.user.id):
        first = payments.record_payment(plan.id, 1_000, "cash")
        payments.record_adjustment(plan.id, 1_000, "Desconto")
        payments.refund_payment(first.id, "Erro")
        second = payments.record_payment(plan.id, 2_000, "cash")
    db.session.rollback()
    numbers = dict(db.session.execute(select(Receipt.payment_id, Receipt.number)).all())
    assert numbers == {first.id: numbers[first.id], second.id: numbers[first.id] + 1}


def test_reprint_shows_the_original_and_is_audited(app, desk, plan):
    """A reprint after the patient's name changed shows the name as issued; each printing is an audit event."""
    with acting_as(desk.user.id):
        payment = payments.record_payment(plan.id, 1_000, "cash")
    number = db.session.scalar(select(Receipt.number).where(Receipt.payment_id == payment.id))
    desk.get(f"/payments/receipts/{number}")
    with acting_as(desk.user.id):
        patients.update_patient(plan.patient_id, {"full_name": "Marina Souza Lima", "cpf": "529.982.247-25"})
    page = _text(desk.get(f"/payments/receipts/{number}"))
    assert "<strong>Marina Souza</strong>" in page and "Marina Souza Lima" not in page
    events = audit_events(action="receipt_print", row_id=str(number))
    assert len(events) == 2 and {e.actor_user_id for e in events} == {desk.user.id}


def test_dentist_cannot_open_receipts(app, client, plan):
    """Receipts belong to the front desk."""
    login_as(client, "dentist")
    assert client.get("/payments/receipts/1").status_code == 403


# PIX


def test_pix_page_shows_qr_and_a_payload_whose_crc_verifies(app, desk, plan):
    """The charge of the balance: QR as inline SVG, the copia e cola for the exact amount, CRC16 right."""
    configure_pix()
    page = _text(desk.get(f"/payments/plans/{plan.id}/pix"))
    assert "<svg" in page and 'data-testid="pix-qr"' in page
    payload = re.search(r'data-testid="pix-payload">([^<]+)</textarea>', page).group(1)
    assert payload[-4:] == f"{binascii.crc_hqx(payload[:-4].encode(), 0xFFFF):04X}"
    fields = pix.parse_tlv(payload)
    assert fields["54"] == "2000.00" and fields["59"] == "Clinica Sorriso Acai" and fields["60"] == "Sao Paulo"
    assert f"/payments/plans/{plan.id}/pay?method=pix" in page
    assert 'data-testid="clinic-header"' in page


def test_pix_charge_for_an_instalment_and_record_in_one_click(app, desk, plan):
    """An instalment's charge carries its amount; "Registrar recebimento" opens the form with PIX and it."""
    configure_pix()
    with acting_as(desk.user.id):
        plans.set_installments(plan.id, 4, clinic_day())
    page = _text(desk.get(f"/payments/plans/{plan.id}/pix?installment=2"))
    payload = re.search(r'data-testid="pix-payload">([^<]+)</textarea>', page).group(1)
    assert pix.parse_tlv(payload)["54"] == "500.00"
    link = re.search(r'href="([^"]+)" data-testid="record-pix"', page).group(1)
    form = _text(desk.get(link))
    assert 'value="500,00"' in form and re.search(r'<option selected value="pix">|<option value="pix" selected>', form)


def test_pix_without_key_tells_the_admin_to_fill_the_settings(app, desk, plan):
    """No PIX key in the settings: a clear message, no QR."""
    page = _text(desk.get(f"/payments/plans/{plan.id}/pix"))
    assert "configurações da clínica" in page and "chave PIX" in page
    assert "<svg" not in page


def test_deactivated_record_shows_no_cash_desk_forms(app, desk, plan):
    """A deactivated patient's tab is read-only: balances shown, no payment, adjustment or refund form."""
    with acting_as(desk.user.id):
        payments.record_payment(plan.id, 1_000, "cash")
        patients.deactivate_patient(plan.patient_id, "Mudou de cidade")
    page = _text(desk.get(f"/patients/{plan.patient_id}/finance"))
    assert "Saldo a receber" in page and "R$ 1.990,00" in page
    assert 'data-form="payment"' not in page and "/refund" not in page and "/pix" not in page
    response = pay(desk, plan.id, "10,00", headers=HTMX)
    assert response.status_code == 200 and "somente leitura" in _text(response)
