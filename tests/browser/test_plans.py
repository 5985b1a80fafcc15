"""A dentist builds a treatment plan in a real browser: create, add from the catalogue (price prefilled), approve,
mark the item done, print the budget (print media: the toolbar hides). Screenshots are saved."""

import re

import pytest
from playwright.sync_api import expect

from app.db.actor import acting_as
from app.services import odontogram
from app.vocabulary import FindingCode
from tests.conftest import build_app, dispose
from tests.factories import PASSWORD, make_patient, make_user
from tests.factories_finance import make_procedure

pytestmark = pytest.mark.browser


@pytest.fixture
def clinic(db_dir):
    """An administrator, a dentist, a patient and a two-item catalogue, stored before the browser starts."""
    app = build_app(db_dir)
    with app.app_context():
        admin = make_user("admin", full_name="Helena Administradora")
        with acting_as(admin.id):
            dentist = make_user("dentist", username="dra.ana", full_name="Dra. Ana Lima", cro="SP-12345")
            patient = make_patient(full_name="Maria Souza")
            make_procedure("Profilaxia", 8_000, code="PROF")
            make_procedure("Restauração em resina", 15_000, code="REST", finding=FindingCode.RESTORATION)
        ids = {"patient": patient.id, "dentist": dentist.id, "admin": admin.username}
    dispose(app)
    return ids


def test_dentist_plans_approves_performs_and_prints(page, live_server, clinic, shots, db_dir):
    """Create → add a catalogue item (price from the catalogue) → approve → done → budget printed without toolbar."""
    base = live_server
    page.goto(base + "/login")
    page.get_by_label("Usuário").fill("dra.ana")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    expect(page).to_have_url(base + "/")

    page.goto(f"{base}/patients/{clinic['patient']}/plans")
    page.get_by_label("Título do plano").fill("Tratamento restaurador")
    page.get_by_role("button", name="Propor plano").click()
    expect(page.get_by_test_id("plan-status")).to_have_text(re.compile("Proposto"))
    page.wait_for_load_state("load")  # app.js (deferred) listens for the choice of procedure

    form = page.get_by_test_id("plan-add-item")
    form.get_by_label("Procedimento").select_option(label="REST · Restauração em resina · R$ 150,00")
    expect(form.get_by_label("Valor (R$)")).to_have_value("150,00")  # filled from the catalogue by app.js
    form.get_by_label("Dente").fill("36")
    form.get_by_label("Faces").fill("O")
    form.get_by_role("button", name="Incluir no plano").click()
    item = page.get_by_test_id("plan-item")
    expect(item).to_contain_text("Restauração em resina")
    expect(item).to_contain_text("36")
    expect(page.get_by_test_id("plan-total")).to_have_text("R$ 150,00")
    shots(page, "plan-proposed")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Aprovar plano").click()
    expect(page.get_by_test_id("plan-status")).to_have_text(re.compile("Aprovado"))
    expect(page.get_by_test_id("plan-approval")).to_contain_text("por Dra. Ana Lima")
    expect(page.get_by_role("link", name="Editar")).to_have_count(0)
    page.get_by_role("button", name="Marcar realizado").click()
    expect(page.get_by_test_id("item-done")).to_contain_text("Realizado em")
    expect(page.get_by_test_id("item-done")).to_contain_text("Dra. Ana Lima")
    shots(page, "plan-approved-done")

    page.get_by_test_id("plan-budget").click()
    expect(page.get_by_role("heading", name="Orçamento")).to_be_visible()
    toolbar = page.locator(".print-toolbar")
    expect(toolbar).to_be_visible()
    shots(page, "budget-screen")
    page.emulate_media(media="print")
    expect(toolbar).to_be_hidden()
    expect(page.get_by_test_id("clinic-header")).to_be_visible()
    expect(page.get_by_test_id("budget-items")).to_contain_text("Restauração em resina")
    expect(page.get_by_test_id("budget-total")).to_have_text("R$ 150,00")
    expect(page.locator(".signature-line")).to_be_visible()
    shots(page, "budget-print")

    app = build_app(db_dir)
    with app.app_context():
        chart = odontogram.current_chart(clinic["patient"])
        assert (chart[36].finding, chart[36].surfaces) == (FindingCode.RESTORATION, "O")
    dispose(app)


def test_administrator_adds_a_procedure_with_a_brazilian_price(page, live_server, clinic, shots):
    """The catalogue form takes `1.234,56` and a finding; the list shows the price and finds it without accents."""
    base = live_server
    page.goto(base + "/login")
    page.get_by_label("Usuário").fill(clinic["admin"])
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    page.locator(".admin-menu summary").click()
    page.get_by_role("link", name="Procedimentos").click()
    expect(page).to_have_url(base + "/admin/procedures")
    page.get_by_role("button", name="Novo procedimento").click()
    page.get_by_label("Código").fill("endo3")
    page.get_by_label("Nome").fill("Tratamento endodôntico molar")
    page.get_by_label("Preço padrão (R$)").fill("1.234,5")
    page.get_by_label("Registra no odontograma").select_option("root_canal")
    page.get_by_role("button", name="Incluir no catálogo").click()
    expect(page).to_have_url(base + "/admin/procedures")
    listing = page.get_by_test_id("procedure-list")
    expect(listing).to_contain_text("R$ 1.234,50")
    expect(listing).to_contain_text("Tratamento de canal")
    shots(page, "catalogue")
    page.get_by_role("searchbox", name="Buscar procedimento").fill("endodontico")
    page.get_by_role("button", name="Buscar").click()
    expect(listing.locator("tbody tr")).to_have_count(1)
    listing.get_by_role("link", name="Editar").click()
    expect(page.get_by_test_id("price-notice")).to_contain_text("não mudam")
    expect(page.get_by_label("Preço padrão (R$)")).to_have_value("1.234,50")
    shots(page, "catalogue-edit")
