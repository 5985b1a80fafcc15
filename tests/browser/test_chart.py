"""The odontogram in a real browser: a dentist charts caries on 36 (occlusal) by clicking the surface, sees it on
the chart, adds a restoration for 36 to the proposed plan from the chart; keyboard access; screenshots."""

import re
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.db.actor import acting_as
from app.services import odontogram, procedures
from tests.conftest import build_app, dispose
from tests.factories import PASSWORD, make_patient, make_user

pytestmark = pytest.mark.browser

SHOTS = Path("/work/shots/chart")  # outside the repository; kept only where that folder exists


@pytest.fixture
def clinic(db_dir):
    """A dentist, an adult patient, a child, and a catalogue with a restoration, written before the server starts."""
    app = build_app(db_dir)
    with app.app_context():
        dentist = make_user("dentist", username="beatriz", full_name="Dra. Beatriz Lima")
        adult = make_patient(full_name="João da Conceição", birth_date="1980-05-17")
        child = make_patient(full_name="Lia Souza", birth_date=date(date.today().year - 4, 1, 1).isoformat())
        procedures.create_procedure("REST", "Restauração", 15_000)
        procedures.create_procedure("ENDO", "Tratamento de canal", 60_000)
        with acting_as(dentist.id):
            for tooth, finding, surfaces in ((16, "restoration", "MO"), (21, "crown", None), (46, "root_canal", None)):
                odontogram.record_finding(adult.id, tooth, finding, surfaces)
            for tooth, finding, surfaces in ((18, "missing", None), (47, "extraction_indicated", None)):
                odontogram.record_finding(adult.id, tooth, finding, surfaces)
            odontogram.record_finding(adult.id, 26, "sealant", "O")
            odontogram.record_finding(adult.id, 45, "implant")
            odontogram.record_finding(child.id, 54, "caries", "OD")
            odontogram.record_finding(child.id, 61, "restoration", "M")
        ids = {"adult": adult.id, "child": child.id}
    dispose(app)
    return ids


def log_in(page, base: str) -> None:
    """The dentist logs in."""
    page.goto(base + "/login")
    page.get_by_label("Usuário").fill("beatriz")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    expect(page).to_have_url(base + "/")


def save(tab, name: str, shots) -> None:
    """A screenshot in the test's folder, and in /work/shots/chart when that folder exists."""
    shots(tab, name)
    if SHOTS.is_dir():
        tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_dentist_charts_caries_then_plans_a_restoration(clinic, live_server, page, shots):
    """Click 36's occlusal surface → panel with O ticked → caries → chart shows it → restoration into the plan."""
    base = live_server
    log_in(page, base)
    page.goto(f"{base}/patients/{clinic['adult']}")
    page.get_by_role("tab", name="Odontograma").click()
    expect(page).to_have_url(re.compile(r"/patients/\d+/chart$"))
    tooth = page.locator('.odontogram .tooth[data-tooth="36"]')
    expect(tooth).to_have_attribute("aria-label", "Dente 36: sem achados")

    tooth.locator('[data-surface="O"]').click()
    panel = page.locator("#chart-panel")
    expect(panel.get_by_role("heading", name="Dente 36", exact=True)).to_be_visible()
    finding_form = panel.get_by_test_id("finding-form")
    expect(finding_form.get_by_label("O · oclusal")).to_be_checked()
    expect(finding_form.get_by_label("M · mesial")).not_to_be_checked()
    finding_form.get_by_label("Achado").select_option("caries")
    finding_form.get_by_role("button", name="Registrar achado").click()

    expect(panel.get_by_text("Achado registrado: dente 36: cárie (faces O).")).to_be_visible()
    expect(tooth).to_have_attribute("aria-label", "Dente 36: cárie (oclusal)")
    expect(tooth.locator('[data-surface="O"]')).to_have_attribute("fill", "url(#odo-caries)")
    expect(tooth.locator(".finding-code")).to_have_text("CA")
    expect(panel.get_by_test_id("tooth-history")).to_contain_text("Dra. Beatriz Lima")

    panel.get_by_text("Incluir no plano de tratamento").click()
    item_form = panel.get_by_test_id("item-form")
    item_form.get_by_label("Procedimento").select_option(label="Restauração (REST)")
    expect(item_form.get_by_label("O · oclusal")).to_be_checked()
    item_form.get_by_role("button", name="Incluir no plano").click()
    added = re.compile(r"Incluído no plano proposto #\d+: Restauração \(dente 36, O\)\.")
    expect(panel.get_by_text(added)).to_be_visible()
    expect(panel.get_by_test_id("tooth-planned")).to_contain_text("Restauração (O)")
    expect(tooth).to_have_attribute("aria-label", "Dente 36: cárie (oclusal); procedimento planejado")
    expect(tooth.locator(".finding-code")).to_have_text("CA P")
    save(page, "chart-permanent-1280", shots)

    page.get_by_role("tab", name="Planos e saldo").click()
    expect(page.locator("#tab-plans")).to_contain_text("Restauração")
    expect(page.locator("#tab-plans")).to_contain_text("36")


def test_chart_by_keyboard_and_screenshots(clinic, live_server, page, shots):
    """Tab reaches a tooth, Enter opens its panel; deciduous and mixed charts; the tablet width."""
    base = live_server
    log_in(page, base)
    page.goto(f"{base}/patients/{clinic['adult']}/chart")
    first = page.locator('.odontogram .tooth[data-tooth="18"]')
    first.focus()
    page.keyboard.press("Tab")
    expect(page.locator('.odontogram .tooth[data-tooth="17"]')).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#chart-panel").get_by_role("heading", name="Dente 17", exact=True)).to_be_focused()
    page.locator('.odontogram .tooth[data-tooth="16"]').focus()
    page.keyboard.press(" ")
    expect(page.locator("#chart-panel").get_by_role("heading", name="Dente 16", exact=True)).to_be_visible()
    expect(page.locator("#chart-panel").get_by_test_id("tooth-history")).to_contain_text("restauração")

    page.set_viewport_size({"width": 1280, "height": 800})
    save(page, "chart-adult-panel-1280", shots)
    if SHOTS.is_dir():  # the drawing alone, at the size a 1280-wide screen shows it
        page.locator("#odontogram").screenshot(path=str(SHOTS / "chart-only-1280.png"))
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"{base}/patients/{clinic['adult']}/chart")
    save(page, "chart-permanent-1024", shots)

    page.goto(f"{base}/patients/{clinic['child']}/chart")
    expect(page.locator(".odontogram")).to_have_attribute("data-dentition", "deciduous")
    expect(page.locator('.odontogram .tooth[data-tooth="54"] .finding-code')).to_have_text("CA")
    save(page, "chart-deciduous-1024", shots)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{base}/patients/{clinic['child']}/chart")
    save(page, "chart-deciduous-1280", shots)
    page.get_by_label("Dentição").select_option("mixed")
    page.get_by_role("button", name="Mostrar").click()
    expect(page.locator(".odontogram")).to_have_attribute("data-dentition", "mixed")
    save(page, "chart-mixed-1280", shots)
