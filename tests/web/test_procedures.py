"""The procedure catalogue through the web: search, create with Brazilian prices, edit, (de)activate, roles."""

import pytest

from app.models.pacientes import Procedure, TreatmentItem
from app.services import plans
from app.vocabulary import FindingCode
from tests.factories_finance import make_plan, make_procedure
from tests.support import fresh, login_as, post_form


@pytest.fixture
def admin(client):
    """A client logged in as an administrator."""
    login_as(client, "admin")
    return client


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_create_procedure_with_a_brazilian_price_and_a_finding(app, admin):
    """`1.234,56` is stored as 123456 cents; the chosen finding is stored with it."""
    response = post_form(
        admin,
        "/admin/procedures/new",
        {"code": " rest 01 ", "name": "Restauração  em resina", "default_price": "1.234,56", "finding": "restoration"},
    )
    assert response.status_code == 302 and response.location == "/admin/procedures"
    procedure = fresh(Procedure, 1)
    assert (procedure.code, procedure.name, procedure.default_price_cents) == (
        "REST01",
        "Restauração em resina",
        123_456,
    )
    assert procedure.finding == FindingCode.RESTORATION
    assert "R$ 1.234,56" in _text(admin.get("/admin/procedures"))


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"default_price": "1.23"}, "default_price", "digite como 1.234,56"),
        ({"default_price": ""}, "default_price", "Informe o valor."),
        ({"default_price": "-10,00"}, "default_price", "não pode ser negativo"),
        ({"finding": "caries"}, "finding", "Escolha um registro do odontograma"),
        ({"code": ""}, "code", "Informe um código"),
    ],
)
def test_bad_catalogue_input_is_a_form_error(app, admin, data, field, message):
    """Every refusal shows beside its field, with the typed values kept, and writes nothing."""
    form = {"code": "LIMP", "name": "Limpeza", "default_price": "80,00", "finding": "", **data}
    response = post_form(admin, "/admin/procedures/new", form)
    assert response.status_code == 200
    assert message in _text(response) and 'aria-invalid="true"' in _text(response)
    assert fresh(Procedure, 1) is None


def test_catalogue_price_change_leaves_plan_items_unchanged(app, admin):
    """A price edit changes the catalogue only: plan items keep their frozen price; the page says so."""
    procedure = make_procedure("Canal molar", 80_000)
    plan = make_plan(prices=())
    item = plans.add_item(plan.id, procedure.id, tooth=36)
    page = admin.get(f"/admin/procedures/{procedure.id}/edit")
    assert "os planos já montados guardam o nome e o preço da época" in _text(page)
    assert 'value="800,00"' in _text(page)
    response = post_form(
        admin,
        f"/admin/procedures/{procedure.id}/edit",
        {"code": procedure.code, "name": "Canal molar", "default_price": "950,00", "finding": "root_canal"},
    )
    assert response.status_code == 302
    assert fresh(Procedure, procedure.id).default_price_cents == 95_000
    assert fresh(TreatmentItem, item.id).price_cents == 80_000


def test_search_by_code_or_name_ignores_accents_and_case(app, admin):
    """`restauracao` finds "Restauração"; a code fragment finds its procedure; the rest are filtered out."""
    make_procedure("Restauração em resina", code="REST01")
    make_procedure("Extração simples", code="EXO01")
    listed = _text(admin.get("/admin/procedures?q=restauracao"))
    assert "Restauração em resina" in listed and "Extração simples" not in listed
    listed = _text(admin.get("/admin/procedures?q=exo"))
    assert "Extração simples" in listed and "Restauração em resina" not in listed
    assert "Nenhum procedimento encontrado" in _text(admin.get("/admin/procedures?q=implante"))


def test_catalogue_is_paginated(app, admin):
    """Thirty procedures at 25 a page: the second page holds the rest."""
    for n in range(30):
        make_procedure(f"Procedimento {n:02d}", code=f"PG{n:02d}")
    first, second = _text(admin.get("/admin/procedures")), _text(admin.get("/admin/procedures?page=2"))
    assert "Procedimento 00" in first and "Procedimento 29" not in first
    assert "Procedimento 29" in second and "Página 2 de 2" in second


def test_deactivate_and_activate(app, admin):
    """A deactivated procedure stays listed as such and can be reactivated; twice is a friendly warning."""
    procedure = make_procedure()
    assert post_form(admin, f"/admin/procedures/{procedure.id}/deactivate").status_code == 302
    assert fresh(Procedure, procedure.id).is_active is False
    again = post_form(admin, f"/admin/procedures/{procedure.id}/deactivate", follow_redirects=True)
    assert "já está desativado" in _text(again)
    assert post_form(admin, f"/admin/procedures/{procedure.id}/activate").status_code == 302
    assert fresh(Procedure, procedure.id).is_active is True


@pytest.mark.parametrize("role", ["dentist", "receptionist"])
def test_only_the_administrator_manages_the_catalogue(app, client, role):
    """Dentists and receptionists get 403 on the catalogue pages and see no nav item for it."""
    procedure = make_procedure()
    login_as(client, role)
    assert client.get("/admin/procedures").status_code == 403
    assert post_form(client, f"/admin/procedures/{procedure.id}/deactivate").status_code == 403
    assert "Procedimentos" not in _text(client.get("/"))


def test_nav_shows_the_catalogue_to_the_administrator(app, admin):
    """The administrator's navigation links to the catalogue."""
    assert 'href="/admin/procedures"' in _text(admin.get("/"))
