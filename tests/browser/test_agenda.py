"""The front desk books in a real browser: an empty slot of the day view, a refused double booking, a move, the
WhatsApp confirmation link (its href checked, never followed). Screenshots of the day and week views."""

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.conftest import build_app, dispose
from tests.factories import PASSWORD, make_patient, make_user
from tests.factories_finance import place_appointment, slot, workday

pytestmark = pytest.mark.browser

SHOTS = Path("/work/shots/agenda")


def _seed(db_dir) -> dict:
    """An administrator, a receptionist, two dentists, patients, and a few appointments to fill the views."""
    app = build_app(db_dir)
    try:
        with app.app_context():
            make_user("admin", username="helena")
            rita = make_user("receptionist", username="rita", full_name="Rita Recepção")
            ana = make_user("dentist", full_name="Ana Souza")
            bruno = make_user("dentist", full_name="Bruno Lima")
            joao = make_patient(full_name="João D'Ávila", phone="(11) 98765-4321")
            for n, (name, hour) in enumerate((("Carla Dias", 8), ("Davi Reis", 9), ("Eva Lins", 14))):
                patient = make_patient(full_name=name, phone=None if n == 1 else "(11) 97777-000" + str(n))
                place_appointment(patient, (ana, bruno)[n % 2], slot(1, hour, minutes=60 if n == 2 else 30))
            return {
                "rita": rita.username,
                "ana": ana.id,
                "bruno": bruno.id,
                "joao": joao.id,
                "day": workday(1).isoformat(),
            }
    finally:
        dispose(app)


def _login(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Usuário").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    expect(page).to_have_url(base + "/")


def _choose_patient(page, text: str, name: str) -> None:
    """Search as you type in the booking panel and pick the patient."""
    page.locator("#agenda-panel").get_by_role("searchbox", name="Buscar paciente").fill(text)
    option = page.locator("#patient-options").get_by_label(re.compile(name))
    expect(option).to_be_visible()
    option.check()


def test_receptionist_books_from_an_empty_slot_then_moves_it(page, live_server, db_dir, shots):
    """Book from the grid, see a double booking refused in the form, move the visit, check the WhatsApp link."""
    seed = _seed(db_dir)
    base, day = live_server, seed["day"]
    _login(page, base, seed["rita"])
    page.goto(f"{base}/agenda?date={day}&view=day&dentist=")
    expect(page.locator("[data-testid=agenda-table]")).to_be_visible()

    page.locator(f"[data-testid='book-{seed['ana']}-{day}T10:00']").click()
    panel = page.locator("#agenda-panel")
    expect(panel.get_by_role("heading", name="Marcar consulta")).to_be_visible()
    expect(panel.get_by_label("Início")).to_have_value(f"{day}T10:00")
    _choose_patient(page, "joao avila", "João D'Ávila")
    panel.get_by_role("button", name="Marcar consulta").click()
    send = panel.get_by_role("button", name="Enviar confirmação")
    expect(send).to_be_visible()
    href = send.get_attribute("href")
    parts = urlsplit(href)
    assert (parts.netloc, parts.path) == ("wa.me", "/5511987654321")
    text = parse_qs(parts.query)["text"][0]
    assert "João D'Ávila" in text and "10:00" in text and "Ana Souza" in text
    card = page.locator(".appt", has_text="João D'Ávila")
    expect(card).to_be_visible()  # the grid reloaded on appointment-changed
    grid_href = card.get_by_role("link", name="WhatsApp").get_attribute("href")
    assert grid_href == href

    page.locator(f"[data-testid='book-{seed['bruno']}-{day}T10:00']").click()
    expect(panel.get_by_role("heading", name="Marcar consulta")).to_be_visible()
    _choose_patient(page, "joao", "João D'Ávila")
    panel.get_by_role("button", name="Marcar consulta").click()
    expect(panel.get_by_role("alert")).to_contain_text("O paciente já tem consulta de 10:00 às 10:30")
    shots(page, "double-booking")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "double-booking.png"))

    card.get_by_role("link", name="Remarcar").click()
    expect(panel.get_by_role("heading", name="Remarcar consulta")).to_be_visible()
    panel.get_by_label("Início").fill(f"{day}T11:00")
    panel.get_by_role("button", name="Remarcar").click()
    expect(panel.get_by_text("Consulta remarcada.")).to_be_visible()
    row_11 = page.locator("tr", has=page.locator("th", has_text="11:00"))
    expect(row_11.locator(".appt", has_text="João D'Ávila")).to_be_visible()
    expect(row_11.locator(".appt", has_text="João D'Ávila")).to_contain_text("11:00–11:30")

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{base}/agenda?date={day}&view=day&dentist=")
    expect(page.locator("[data-testid=agenda-table]")).to_be_visible()
    page.screenshot(path=str(SHOTS / "day.png"))
    page.screenshot(path=str(SHOTS / "day-full.png"), full_page=True)
    page.goto(f"{base}/agenda?date={day}&view=week&dentist={seed['ana']}")
    expect(page.locator(".agenda-week")).to_be_visible()
    page.screenshot(path=str(SHOTS / "week.png"))
    page.screenshot(path=str(SHOTS / "week-full.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
