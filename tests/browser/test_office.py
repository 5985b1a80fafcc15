"""The office in a real browser: clinic settings, cash closing, reports and the LGPD data report (screenshots)."""

import os
import shutil
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.services import agenda, notes, payments, plans
from app.services.clock import clinic_day
from tests.factories import make_patient, make_user
from tests.factories_finance import as_user, make_dentist, make_plan, slot

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SORRISO_SHOTS")  # a folder to copy the screenshots to, for people to look at


@pytest.fixture
def clinic(app):
    """An administrator, two dentists with done items and payments, a patient with a note and appointments."""
    admin = make_user("admin", full_name="Helena Administradora", username="helena")
    rita = make_user("receptionist", full_name="Rita Recepção")
    ana, bruno = make_dentist(full_name="Ana Dentista"), make_dentist(full_name="Bruno Dentista")
    patient = make_patient(full_name="Maria das Graças")
    plan_a = make_plan(patient=patient, dentist=ana, prices=(18_000, 35_000, 9_000), approve=True)
    plan_b = make_plan(dentist=bruno, prices=(120_000,), approve=True)
    with as_user(ana):
        plans.mark_item_done(plan_a.items[0].id)
        plans.mark_item_done(plan_a.items[1].id)
        notes.add_note(patient.id, "Restauração em resina no 36, sem intercorrências.")
        agenda.book_appointment(patient.id, ana.id, *slot(2, 9))
    with as_user(bruno):
        plans.mark_item_done(plan_b.items[0].id)
        plans.set_installments(plan_b.id, 6, clinic_day() - timedelta(days=75))
    with as_user(rita):
        payments.record_payment(plan_a.id, 18_000, "pix")
        card = payments.record_payment(plan_a.id, 20_000, "credit")
        payments.record_payment(plan_b.id, 25_000, "cash")
        payments.refund_payment(card.id, "Cobrança em duplicidade")
        payments.record_payment(plan_a.id, 15_000, "debit")
    return {"admin": admin, "patient": patient}


def _login(page, base: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Usuário").fill("helena")
    page.locator("#password").fill("senha-segura-123")
    page.get_by_role("button", name="Entrar").click()
    expect(page).to_have_url(base + "/")


def test_office_pages(app, live_server, page, shots, clinic):
    """Settings saved, the day's cash closed (then shown as closed), reports and the data report rendered."""
    base = live_server
    _login(page, base)
    taken = []

    page.locator(".admin-menu summary").click()
    page.get_by_role("link", name="Configurações").click()
    page.get_by_label("Nome da clínica").fill("Clínica Sorriso Feliz")
    page.get_by_label("CNPJ").fill("11.222.333/0001-81")
    page.get_by_label("Endereço").fill("Av. Paulista, 1000 – Bela Vista, São Paulo/SP")
    page.get_by_role("button", name="Salvar configurações").click()
    expect(page.get_by_text("Configurações da clínica salvas.")).to_be_visible()
    taken.append(shots(page, "settings"))

    page.get_by_role("link", name="Caixa").click()
    expect(page.get_by_test_id("cash-open")).to_be_visible()
    taken.append(shots(page, "cash-open"))
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Fechar o caixa do dia").click()
    expect(page.get_by_test_id("cash-closed")).to_contain_text("Caixa fechado por Helena Administradora")
    taken.append(shots(page, "cash-closed"))
    page.get_by_role("button", name="Imprimir fechamento").click()
    expect(page.get_by_test_id("clinic-header")).to_contain_text("Clínica Sorriso Feliz")
    page.emulate_media(media="print")
    expect(page.locator(".print-toolbar")).to_be_hidden()
    taken.append(shots(page, "cash-print"))
    page.emulate_media(media="screen")

    page.goto(base + "/reports")
    expect(page.get_by_test_id("chart-production")).to_be_visible()
    taken.append(shots(page, "reports"))
    page.goto(base + "/reports?from=2026-05-10&to=2026-05-01")
    expect(page.locator(".field-error")).to_contain_text("igual ou posterior")

    page.goto(f"{base}/patients/{clinic['patient'].id}")
    page.get_by_test_id("data-report-link").click()
    expect(page.get_by_test_id("dr-access")).to_contain_text("abertura de prontuário")
    taken.append(shots(page, "data-report"))
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        for path in taken:
            shutil.copy(path, SHOTS)
