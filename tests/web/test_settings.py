"""The clinic settings page: administrators save it (audited), others are refused, errors show beside fields."""

import json

import pytest

from app.services import settings
from tests.support import audit_events, login_as, post_form

FORM = {
    "name": "Clínica Sorriso Feliz",
    "cnpj": "11.222.333/0001-81",
    "address": "Rua das Flores, 100",
    "phone": "(11) 3333-4444",
    "state": "MG",
    "slot_minutes": "15",
    "paper_size": "A5",
    "confirmation_template": "Olá, {paciente}! Sua consulta é em {data} às {hora}.",
    "recall_template": "Olá, {paciente}! Hora do retorno na {clinica}.",
    "pix_key": "11222333000181",
    "merchant_name": "SORRISO FELIZ",
    "merchant_city": "BELO HORIZONTE",
    **{f"hours_{day}_opens": "08:00" for day in range(6)},
    **{f"hours_{day}_closes": "17:00" for day in range(6)},
    "hours_6_closed": "y",
}


def _page(client) -> str:
    return client.get("/admin/settings").get_data(as_text=True)


def test_admin_saves_the_settings(app, client):
    """The saved page shows a success message; the settings read back what was typed."""
    login_as(client, "admin")
    response = post_form(client, "/admin/settings", FORM, follow_redirects=True)
    assert response.status_code == 200
    assert "Configurações da clínica salvas." in response.get_data(as_text=True)
    current = settings.current()
    assert current.name == "Clínica Sorriso Feliz" and current.state == "MG" and current.slot_minutes == 15
    assert current.cnpj == "11222333000181" and current.opening_hours[6] is None
    assert current.opening_hours[5][1].strftime("%H:%M") == "17:00"
    page = _page(client)
    assert 'value="11.222.333/0001-81"' in page and 'value="(11) 3333-4444"' in page


def test_saving_writes_an_audit_event(app, client):
    """The settings row change is in the audit trail, by the administrator, with the new values."""
    admin = login_as(client, "admin")
    post_form(client, "/admin/settings", FORM)
    events = audit_events(table_name="clinic_settings")
    assert [e.action for e in events] == ["create"]
    assert events[0].actor_user_id == admin.id
    assert json.loads(events[0].changes)["state"] == [None, "MG"]


def test_form_shows_defaults_before_anything_is_saved(app, client):
    """The first visit shows the default hours (Sunday closed) and templates."""
    login_as(client, "admin")
    page = _page(client)
    assert "Valores padrão" in page
    assert '<input checked id="hours_6_closed"' in page
    assert '<input checked id="hours_0_closed"' not in page
    assert 'id="hours_0_opens" name="hours_0_opens" type="time" value="08:00"' in page
    assert "{paciente}" in page


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"cnpj": "11.222.333/0001-82"}, "CNPJ"),
        ({"hours_2_opens": "18:00", "hours_2_closes": "08:00"}, "quarta-feira, o fechamento deve vir depois"),
        ({"hours_3_opens": "cedo"}, "Horário inválido"),
        ({"confirmation_template": "Olá {paciente.__class__}"}, "Marcador desconhecido"),
        ({"slot_minutes": "25"}, "15, 20 ou 30"),
        ({"state": "XX"}, "Escolha a UF"),
        ({"merchant_city": "x" * 16}, "15 caracteres"),
    ],
)
def test_errors_are_shown_in_the_form_and_nothing_is_saved(app, client, changes, message):
    """A refused value comes back as a form error (200, typed data kept), never a 500, and nothing is saved."""
    login_as(client, "admin")
    response = post_form(client, "/admin/settings", {**FORM, **changes})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "field-error" in page and message in page
    assert settings.current().updated_at is None
    assert 'value="Clínica Sorriso Feliz"' in page


@pytest.mark.parametrize("role", ["receptionist", "dentist"])
def test_other_roles_are_refused(app, client, role):
    """Only administrators open or save the settings."""
    login_as(client, role)
    assert client.get("/admin/settings").status_code == 403
    assert post_form(client, "/admin/settings", FORM).status_code == 403
    assert settings.current().updated_at is None


def test_nav_shows_settings_to_admins_only(app, client):
    """The "Configurações" item is in the administrator's navigation."""
    login_as(client, "admin")
    assert 'href="/admin/settings"' in client.get("/").get_data(as_text=True)


def test_saved_templates_are_previewed_with_example_values(app, client):
    """Under each template, the saved message filled with example values (the clinic's own name included)."""
    login_as(client, "admin")
    post_form(client, "/admin/settings", FORM)
    page = _page(client)
    assert "Olá, Maria! Sua consulta é em 09/07/2026 às 14:30." in page
    assert "Olá, Maria! Hora do retorno na Clínica Sorriso Feliz." in page
