"""The front desk in a real browser: tomorrow's confirmations by WhatsApp link, the recall list, the dashboard."""

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from app.db.actor import acting_as
from app.extensions import db
from app.services import agenda, recalls
from app.services.clock import clinic_day
from tests.conftest import build_app, dispose
from tests.factories import PASSWORD, make_patient, make_user
from tests.factories_finance import make_dentist
from tests.factories_frontdesk import make_next_day_appointment, make_today_appointment

pytestmark = pytest.mark.browser

SHOTS = Path("/work/shots/frontdesk")
ODD_NAME = "João D'Ávila & Filhos"


@pytest.fixture
def clinic(db_dir):
    """Staff, tomorrow's appointments (one patient without a mobile), today's visit for the dentist, recalls."""
    app = build_app(db_dir)
    with app.app_context():
        make_user("admin", username="admin")
        rita = make_user("receptionist", username="rita", full_name="Rita Recepção")
        ana = make_dentist(username="ana", full_name="Ana Souza")
        bruno = make_dentist(username="bruno", full_name="Bruno Reis")
        odd = make_patient(full_name=ODD_NAME, phone="(11) 98765-4321")
        make_next_day_appointment(odd, ana, hour=9)
        make_next_day_appointment(make_patient(full_name="Sem Celular", phone="(11) 3333-4444"), bruno, hour=9)
        make_next_day_appointment(make_patient(full_name="Maria Confirmada"), ana, hour=10, status="confirmed")
        make_today_appointment(make_patient(full_name="Carla Hoje"), ana)
        make_today_appointment(make_patient(full_name="Paciente do Bruno"), bruno)
        with acting_as(rita.id):
            for n, name in enumerate(("Pedro Atrasado", "Lúcia Retorno", "Tiago Limpeza")):
                recall = recalls.create_recall(
                    make_patient(full_name=name).id, clinic_day().replace(day=1), "Limpeza semestral"
                )
                if n == 0:
                    recalls.record_attempt(recall.id, "no_answer", "Caixa postal")
        stale = make_next_day_appointment(make_patient(full_name="Paciente Desistente"), bruno, hour=11)
        ids = {"odd": odd.id, "stale": stale.id}
        db.session.remove()
    dispose(app)
    return ids


def log_in(page, base: str, username: str) -> None:
    """The login form, as a person fills it."""
    page.goto(base + "/login")
    page.get_by_label("Usuário").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    expect(page).to_have_url(base + "/")


def log_out(page) -> None:
    """The user menu's "Sair"."""
    page.locator("summary.secondary, .user-menu summary").first.click()
    page.get_by_role("button", name="Sair").click()


def screenshot(page, name: str) -> None:
    """A full-page screenshot at 1280×800 into the shared shots folder."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_receptionist_confirms_and_dentist_attends(page, live_server, clinic, db_dir):
    """Confirmations: link checked, opening it records a contact, "Confirmado"; then the dentist's worklist."""
    base = live_server
    page.context.route("https://wa.me/**", lambda route: route.fulfill(body="WhatsApp (stub)"))
    log_in(page, base, "rita")
    page.get_by_role("link", name="Confirmações").click()
    expect(page).to_have_url(base + "/agenda/confirmations")
    row = page.locator("tr", has_text=ODD_NAME)
    link = row.get_by_test_id("whatsapp-link")
    href = link.get_attribute("href")
    parts = urlsplit(href)
    assert (parts.netloc, parts.path) == ("wa.me", "/5511987654321")
    assert ODD_NAME in parse_qs(parts.query)["text"][0]
    assert link.get_attribute("target") == "_blank" and link.get_attribute("rel") == "noopener"
    expect(page.locator("tr", has_text="Sem Celular")).to_contain_text("sem celular")
    expect(page.locator("tr", has_text="Sem Celular").get_by_test_id("whatsapp-link")).to_have_count(0)

    with page.expect_popup() as popup:
        link.click()
    popup.value.close()
    expect(row).to_contain_text("1 tentativa")
    expect(row).to_contain_text("Rita Recepção")
    row.get_by_role("button", name="Confirmado").click()
    expect(row).to_contain_text("Confirmada")
    expect(row.get_by_role("button", name="Confirmado")).to_have_count(0)
    screenshot(page, "confirmations")

    # Someone cancels a visit while this page is open: its "Confirmado" is refused in place, with the reason.
    app = build_app(db_dir)
    with app.app_context(), acting_as(None):
        agenda.cancel_appointment(clinic["stale"], "Desistiu por telefone")
        db.session.remove()
    dispose(app)
    stale = page.locator("tr", has_text="Paciente Desistente")
    stale.get_by_role("button", name="Confirmado").click()
    expect(stale.get_by_role("alert")).to_contain_text("Uma consulta cancelada não pode passar a confirmada.")
    expect(stale).to_contain_text("Cancelada")
    screenshot(page, "confirmations-refused")

    page.get_by_role("link", name="Retornos").click()
    expect(page.get_by_role("heading", name="Retornos do mês")).to_be_visible()
    recall_row = page.locator("tr", has_text="Lúcia Retorno")
    recall_row.get_by_label("Resultado do contato").select_option("left_message")
    recall_row.get_by_label("Observação").fill("Falei com a filha")
    recall_row.get_by_role("button", name="Registrar").click()
    expect(page.get_by_text("Tentativa de contato registrada.")).to_be_visible()
    expect(page.locator("tr", has_text="Lúcia Retorno")).to_contain_text("Recado deixado")
    screenshot(page, "recalls")

    log_out(page)
    expect(page).to_have_url(base + "/login")
    log_in(page, base, "ana")
    worklist = page.locator("table.worklist")
    expect(worklist.locator("tbody tr")).to_have_count(1)  # Ana's own day: not Bruno's patient
    visit = worklist.locator("tr", has_text="Carla Hoje")
    visit.get_by_role("button", name="Chegou").click()
    expect(visit).to_contain_text("Aguardando atendimento")
    expect(page.locator("#waiting-room")).to_contain_text("Carla Hoje")
    screenshot(page, "dashboard-waiting")
    visit.get_by_role("button", name="Atendido").click()
    expect(visit).to_contain_text("Atendida")
    expect(visit.get_by_role("link", name="escrever a evolução clínica")).to_be_visible()
    expect(page.locator("#waiting-room")).to_contain_text("Ninguém aguardando.")
    screenshot(page, "dashboard")
    assert re.search(
        r"/patients/\d+/notes$", visit.get_by_role("link", name="escrever a evolução clínica").get_attribute("href")
    )
