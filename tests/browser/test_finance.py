"""The cash desk in a real browser: a receptionist records a payment typed `1.234,56`, prints its receipt and
charges the rest via PIX (screenshots saved)."""

import dataclasses
import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from app.db.actor import acting_as
from app.services import settings
from tests.factories import PASSWORD, make_patient, make_user
from tests.factories_finance import make_plan

pytestmark = pytest.mark.browser

FIRST_DUE = (date.today() - timedelta(days=40)).isoformat()  # the first instalment is overdue


@pytest.fixture
def clinic(app):
    """A receptionist, an approved plan of R$ 2.000,00 for a patient, and the clinic's PIX settings."""
    admin = make_user("admin")
    fields = {k: v for k, v in dataclasses.asdict(settings.current()).items() if not k.startswith("updated_")}
    fields.update(
        name="Clínica Sorriso Paulista",
        cnpj="11222333000181",
        address="Av. Paulista, 1000 — São Paulo/SP",
        pix_key="123e4567-e12b-12d1-a456-426655440000",
        merchant_name="Clínica Sorriso Paulista",
        merchant_city="São Paulo",
    )
    with acting_as(admin.id):
        settings.update_settings(**fields)
    patient = make_patient(full_name="Marina Souza", cpf="52998224725")
    plan = make_plan(patient=patient, prices=(150_000, 50_000), approve=True, title="Reabilitação oral")
    return {"receptionist": make_user("receptionist", full_name="Rita Recepção"), "plan": plan}


def test_receptionist_records_a_payment_prints_the_receipt_and_charges_via_pix(page, live_server, clinic, shots):
    """Payment typed the Brazilian way, the tab updated in place, the receipt in print media, the PIX QR."""
    base, plan = live_server, clinic["plan"]
    page.goto(base + "/login")
    page.get_by_label("Usuário").fill(clinic["receptionist"].username)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    expect(page).to_have_url(base + "/")

    page.goto(f"{base}/patients/{plan.patient_id}/finance")
    block = page.locator(f"#finance-plan-{plan.id}")
    expect(block.get_by_test_id("balance")).to_have_text("R$ 2.000,00")
    block.locator("summary", has_text="Parcelar").click()
    schedule = block.locator("form[data-form=installments]")
    schedule.get_by_label("Número de parcelas").fill("3")
    schedule.get_by_label("Primeiro vencimento").fill(FIRST_DUE)
    schedule.locator("button[type=submit]").click()
    expect(page.get_by_text("Plano parcelado em 3x.")).to_be_visible()
    expect(block.locator("tr[data-installment]")).to_have_count(3)
    form = block.locator("form[data-form=payment]")
    form.get_by_label("Forma de pagamento").select_option("pix")
    form.get_by_label("Valor (R$)").fill("1.234,56")
    form.locator("button[type=submit]").click()
    expect(page.get_by_text("Pagamento de R$ 1.234,56 registrado.")).to_be_visible()
    expect(block.get_by_test_id("balance")).to_have_text("R$ 765,44")
    expect(block.locator("tr[data-installment='1']")).to_contain_text("Paga")
    expect(block.locator("tr[data-installment='2']")).to_contain_text("Parcial")
    shots(page, "finance-tab")

    receipt_link = block.get_by_role("link", name=re.compile(r"Recibo nº \d+"))
    page.goto(base + receipt_link.get_attribute("href"))
    page.emulate_media(media="print")
    expect(page.get_by_test_id("receipt-words")).to_have_text(
        "um mil, duzentos e trinta e quatro reais e cinquenta e seis centavos"
    )
    expect(page.get_by_role("button", name="Imprimir")).to_be_hidden()
    expect(page.get_by_test_id("clinic-header")).to_contain_text("Clínica Sorriso Paulista")
    shots(page, "receipt-print")
    page.emulate_media(media="screen")

    page.goto(f"{base}/payments/plans/{plan.id}/pix")
    expect(page.get_by_test_id("pix-qr").locator("svg")).to_be_visible()
    expect(page.get_by_test_id("pix-amount")).to_have_text("R$ 765,44")
    expect(page.get_by_test_id("pix-payload")).to_have_value(re.compile(r"^000201.*5406765\.44.*6304[0-9A-F]{4}$"))
    shots(page, "pix-charge")
    page.get_by_test_id("record-pix").click()
    expect(page.locator("form[data-form=payment]").get_by_label("Valor (R$)")).to_have_value("765,44")
    expect(page.locator("form[data-form=payment]").get_by_label("Forma de pagamento")).to_have_value("pix")
    shots(page, "record-pix-prefilled")


def test_a_closed_day_refuses_a_payment_in_the_form(page, live_server, clinic, shots):
    """An administrator closes today's cash on /cash, then a payment on the financial tab is refused in the form
    with the reason (no 500, nothing recorded), and the reports page opens."""
    base, plan = live_server, clinic["plan"]
    with acting_as(None):
        admin = make_user("admin", full_name="Helena Administradora")
    page.goto(base + "/login")
    page.get_by_label("Usuário").fill(admin.username)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    expect(page).to_have_url(base + "/")

    page.goto(base + "/cash")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Fechar o caixa do dia").click()
    expect(page.get_by_test_id("cash-closed")).to_contain_text("Caixa fechado por Helena Administradora")

    page.goto(f"{base}/patients/{plan.patient_id}/finance")
    block = page.locator(f"#finance-plan-{plan.id}")
    form = block.locator("form[data-form=payment]")
    form.get_by_label("Forma de pagamento").select_option("cash")
    form.get_by_label("Valor (R$)").fill("100,00")
    form.locator("button[type=submit]").click()
    expect(page.get_by_text(re.compile("já foi fechado: não aceita novos pagamentos"))).to_be_visible()
    expect(block.get_by_test_id("balance")).to_have_text("R$ 2.000,00")
    shots(page, "closed-day-refusal")

    page.goto(base + "/reports")
    expect(page.get_by_role("heading", name="Relatórios", level=1)).to_be_visible()
