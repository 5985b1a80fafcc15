"""A new clinic in a real browser: setup, login, register, search, edit, timeline, logout (screenshots saved)."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

ADMIN = {"full_name": "Helena Administradora", "username": "helena", "password": "senha-da-helena"}


def setup_and_login(page, base: str, shots=None) -> None:
    """First-run setup creates the admin, then the login form lets them in."""
    page.goto(base + "/")
    expect(page).to_have_url(base + "/setup")
    expect(page.get_by_role("heading", name="Bem-vindo ao Sorriso")).to_be_visible()
    page.get_by_label("Nome completo").fill(ADMIN["full_name"])
    page.get_by_label("Usuário").fill(ADMIN["username"])
    page.locator("#password").fill(ADMIN["password"])
    page.get_by_label("Repita a senha").fill(ADMIN["password"])
    if shots:
        shots(page, "setup")
    page.get_by_role("button", name="Criar administrador").click()
    expect(page).to_have_url(base + "/login")
    expect(page.get_by_text("Administrador criado.")).to_be_visible()
    page.get_by_label("Usuário").fill(ADMIN["username"])
    page.locator("#password").fill(ADMIN["password"])
    if shots:
        shots(page, "login")
    page.get_by_role("button", name="Entrar").click()
    expect(page).to_have_url(base + "/")
    expect(page.get_by_role("heading", name=f"Olá, {ADMIN['full_name']}")).to_be_visible()


def register_patient(page, base: str, shots=None) -> None:
    """Fill in the new-patient form (first with a bad CPF, fixed after the error shows beside the field)."""
    page.get_by_role("link", name="Pacientes", exact=True).click()
    expect(page).to_have_url(base + "/patients")
    page.get_by_role("button", name="Cadastrar paciente").click()
    page.get_by_label("Nome completo").fill("João da Conceição")
    page.get_by_label("Data de nascimento").fill("1980-05-17")
    page.get_by_label("CPF").fill("529.982.247-00")
    page.get_by_label("Telefone").fill("(11) 98765-4321")
    page.get_by_label("E-mail").fill("joao@example.com")
    page.get_by_label("CEP").fill("01310-100")
    page.get_by_label("Logradouro").fill("Avenida Paulista")
    page.get_by_label("Número").fill("1000")
    page.get_by_label("Bairro").fill("Bela Vista")
    page.get_by_label("Cidade").fill("São Paulo")
    page.get_by_label("UF").select_option("SP")
    page.get_by_role("button", name="Cadastrar paciente").click()
    expect(page.locator("#cpf-help")).to_have_text("CPF inválido: confira os 11 dígitos.")
    expect(page.get_by_label("Nome completo")).to_have_value("João da Conceição")
    if shots:
        shots(page, "patient-form-error")
    page.get_by_label("CPF").fill("529.982.247-25")
    page.get_by_role("button", name="Cadastrar paciente").click()
    expect(page).to_have_url(re.compile(re.escape(base) + r"/patients/\d+$"))
    expect(page.get_by_role("heading", name="João da Conceição")).to_be_visible()
    expect(page.locator("#anamnesis-warning")).to_contain_text("Anamnese pendente")


def test_first_visit_to_logout(page, live_server, shots):
    """Setup → login → register → accent-free search → edit → timeline shows both changes → logout."""
    base = live_server
    setup_and_login(page, base, shots)
    shots(page, "dashboard")
    register_patient(page, base, shots)
    shots(page, "record")

    page.get_by_role("link", name="Pacientes", exact=True).click()
    search = page.get_by_role("searchbox", name="Buscar paciente")
    search.fill("xyz")
    expect(page.locator("#patient-results")).to_contain_text("Nenhum paciente encontrado")
    search.fill("conceicao")
    result = page.locator("#patient-results").get_by_role("link", name="João da Conceição")
    expect(result).to_be_visible()
    expect(page).to_have_url(base + "/patients?q=conceicao")
    shots(page, "search")

    result.click()
    page.get_by_role("button", name="Editar cadastro").first.click()
    expect(page.get_by_label("CPF")).to_have_value("529.982.247-25")
    page.get_by_label("Telefone").fill("(11) 91111-2222")
    shots(page, "edit")
    page.get_by_role("button", name="Salvar alterações").click()
    expect(page.get_by_text("Cadastro atualizado.", exact=True)).to_be_visible()
    expect(page.get_by_text("(11) 91111-2222").first).to_be_visible()

    page.get_by_role("tab", name="Histórico").click()
    timeline = page.locator("[data-tab-panel=timeline] .timeline li")
    expect(timeline).to_have_count(2)
    expect(timeline.nth(0)).to_contain_text("Cadastro atualizado: telefone.")
    expect(timeline.nth(1)).to_contain_text("Paciente cadastrado.")
    expect(page).to_have_url(re.compile(r"/patients/\d+/timeline$"))
    expect(page.locator("#anamnesis-warning")).to_be_visible()
    shots(page, "timeline")

    page.locator("summary", has_text=ADMIN["full_name"]).click()
    page.get_by_role("button", name="Sair").click()
    expect(page).to_have_url(base + "/login")
    expect(page.get_by_text("Você saiu do Sorriso.")).to_be_visible()
    shots(page, "logged-out")
    page.goto(base + "/patients")
    expect(page).to_have_url(re.compile(re.escape(base) + r"/login\?next="))


def test_anamnesis_and_admin_pages(page, live_server, shots):
    """Completing the anamnesis removes the warning; admin pages (staff, audit, system) render."""
    base = live_server
    setup_and_login(page, base)
    register_patient(page, base)
    page.get_by_role("link", name="Preencher ou revisar a anamnese").first.click()
    page.get_by_label("Alergias").fill("Dipirona")
    page.get_by_label("Condições de saúde").fill("Hipertensão controlada")
    page.get_by_label("Anamnese completa e revisada com o paciente").check()
    shots(page, "anamnesis-edit")
    page.get_by_role("button", name="Salvar anamnese").click()
    expect(page.get_by_text("Anamnese salva.")).to_be_visible()
    expect(page.locator("#anamnesis-warning")).to_have_count(0)
    expect(page.get_by_role("alert").filter(has_text="Alergias: Dipirona")).to_be_visible()
    shots(page, "anamnesis")

    page.locator(".admin-menu summary").click()
    page.get_by_role("link", name="Equipe").click()
    page.get_by_role("button", name="Nova conta").click()
    page.get_by_label("Nome completo").fill("Rafael Recepção")
    page.get_by_label("Usuário").fill("rafael")
    page.get_by_label("Papel").select_option("receptionist")
    page.get_by_label("Senha inicial").fill("senha-do-rafael")
    page.get_by_label("Repita a senha").fill("senha-do-rafael")
    page.get_by_role("button", name="Criar conta").click()
    expect(page.get_by_role("cell", name="Rafael Recepção")).to_be_visible()
    shots(page, "staff")

    page.locator(".admin-menu summary").click()
    page.get_by_role("link", name="Auditoria").click()
    expect(page.get_by_role("heading", name="Registro de auditoria")).to_be_visible()
    expect(page.locator("td.actor", has_text=ADMIN["full_name"]).first).to_be_visible()
    shots(page, "audit")
    page.locator(".admin-menu summary").click()
    page.get_by_role("link", name="Sistema").click()
    expect(page.get_by_text("em dia")).to_have_count(3)
    shots(page, "system")


def test_htmx_requests_carry_csrf_and_disable_buttons(page, live_server):
    """An HTMX POST goes through with the header app.js adds; the search button is disabled while in flight."""
    base = live_server
    setup_and_login(page, base)
    page.goto(base + "/patients")
    page.wait_for_function("window.htmx !== undefined")
    page.evaluate("htmx.ajax('POST', '/patients/new', {values: {full_name: 'Via Htmx'}, swap: 'none'})")
    search = page.get_by_role("searchbox", name="Buscar paciente")
    search.fill("via htmx")
    expect(page.locator("#patient-results").get_by_role("link", name="Via Htmx")).to_be_visible()

    held = []

    def hold_the_first(route):
        """Keep the first search request in flight; let any repeat of it through."""
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route("**/patients?q=pendente*", hold_the_first)
    with page.expect_request("**/patients?q=pendente*"):
        search.fill("pendente")
    button = page.get_by_role("button", name="Buscar")
    expect(button).to_be_disabled()
    while not held:
        page.wait_for_timeout(20)  # let Playwright deliver the intercepted request to the handler
    held[0].continue_()
    expect(button).to_be_enabled()
    expect(page.locator("#patient-results")).to_contain_text("Nenhum paciente encontrado")


def test_leaving_a_changed_form_asks_first(page, live_server):
    """With typed but unsaved data, navigating away raises the browser's leave-page confirmation."""
    base = live_server
    setup_and_login(page, base)
    page.goto(base + "/patients/new")
    page.get_by_label("Nome completo").fill("Dado Não Salvo")
    dialogs = []

    def on_dialog(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    with page.expect_event("dialog"):
        page.get_by_role("link", name="Início").click(no_wait_after=True)
    assert dialogs == ["beforeunload"]
    expect(page).to_have_url(base + "/patients/new")
    expect(page.get_by_label("Nome completo")).to_have_value("Dado Não Salvo")
