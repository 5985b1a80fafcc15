"""Treatment plans through the web: create, items, approve (clinical only), perform, complete, cancel, budget."""

import re

import pytest
from sqlalchemy import select

from app.db.actor import acting_as
from app.extensions import db
from app.models.pacientes import ToothFinding, TreatmentItem, TreatmentPlan
from app.services import odontogram, plans
from app.vocabulary import FindingCode, PlanStatus
from tests.factories import make_patient
from tests.factories_finance import make_dentist, make_plan, make_procedure
from tests.support import count_queries, fresh, login_as, post_form


@pytest.fixture
def dentist(client):
    """A client logged in as a dentist; the dentist is `client.user`."""
    client.user = login_as(client, "dentist", full_name="Dra. Ana Lima", cro="SP-12345")
    return client


def _text(response) -> str:
    return response.get_data(as_text=True)


def _tab(client, patient_id: int) -> str:
    return _text(client.get(f"/patients/{patient_id}/plans"))


def _approved(dentist_user, *procedures_and_teeth):
    """An approved plan of `dentist_user` with one item per (procedure, tooth, surfaces)."""
    plan = plans.create_plan(make_patient().id, dentist_user.id, "Plano")
    items = [plans.add_item(plan.id, p.id, tooth=t, surfaces=s) for p, t, s in procedures_and_teeth]
    with acting_as(dentist_user.id):
        plans.approve_plan(plan.id)
    return plan, items


def test_dentist_creates_a_plan_as_its_dentist(app, dentist):
    """A dentist's new plan is theirs (no dentist to choose) and opens on the tab."""
    patient = make_patient()
    assert 'name="dentist_user_id"' not in _tab(dentist, patient.id)
    response = post_form(dentist, f"/plans/patient/{patient.id}/new", {"title": "Tratamento restaurador"})
    assert response.status_code == 302 and response.location.endswith(f"/patients/{patient.id}/plans#plan-1")
    plan = fresh(TreatmentPlan, 1)
    assert (plan.dentist_user_id, plan.title, plan.status) == (dentist.user.id, "Tratamento restaurador", "proposed")


def test_administrator_chooses_the_dentist(app, client):
    """An administrator picks an active dentist; a missing choice is a form error, not a 500."""
    login_as(client, "admin")
    chosen = make_dentist(full_name="Dr. Bruno Reis")
    patient = make_patient()
    assert "Dr. Bruno Reis" in _tab(client, patient.id)
    refused = post_form(client, f"/plans/patient/{patient.id}/new", {"title": "X", "dentist_user_id": "abc"})
    assert refused.status_code == 200 and fresh(TreatmentPlan, 1) is None
    assert "Escolha o dentista responsável pelo plano." in _text(refused)
    post_form(client, f"/plans/patient/{patient.id}/new", {"title": "X", "dentist_user_id": str(chosen.id)})
    assert fresh(TreatmentPlan, 1).dentist_user_id == chosen.id


def test_add_item_from_the_catalogue_with_price_prefilled_or_typed(app, dentist):
    """An empty price takes the catalogue's; a typed `1.100,00` overrides it; options carry the price for app.js."""
    procedure = make_procedure("Coroa", 120_000)
    plan = make_plan(prices=())
    tab = _tab(dentist, plan.patient_id)
    assert 'data-price="1.200,00"' in tab
    prefix = f"plan-{plan.id}-"
    for price in ("", "1.100,00"):
        data = {prefix + "procedure_id": str(procedure.id), prefix + "tooth": "16", prefix + "price": price}
        assert post_form(dentist, f"/plans/{plan.id}/items", data).status_code == 302
    first, second = fresh(TreatmentPlan, plan.id).items
    assert (first.price_cents, second.price_cents, first.tooth) == (120_000, 110_000, 16)


@pytest.mark.parametrize(
    "field, value, message",
    [("tooth", "19", "Dente"), ("surfaces", "X", "Face"), ("price", "12.3", "1.234,56"), ("procedure_id", "", "")],
)
def test_bad_item_input_is_a_form_error_on_the_tab(app, dentist, field, value, message):
    """Tooth 19, surface X, a malformed price or no procedure: the tab comes back with the error beside the field."""
    procedure = make_procedure()
    plan = make_plan(prices=())
    prefix = f"plan-{plan.id}-"
    data = {prefix + "procedure_id": str(procedure.id), prefix + "tooth": "16", prefix + "surfaces": "O"}
    data[prefix + field] = value
    response = post_form(dentist, f"/plans/{plan.id}/items", data)
    assert response.status_code == 200 and 'aria-invalid="true"' in _text(response)
    assert message in _text(response)
    assert fresh(TreatmentPlan, plan.id).items == []


def test_edit_and_remove_items_while_proposed(app, dentist):
    """A proposed plan's item changes tooth, surfaces and price; removing takes it out."""
    plan = make_plan(prices=(10_000, 20_000))
    first, second = fresh(TreatmentPlan, plan.id).items
    page = _text(dentist.get(f"/plans/items/{first.id}/edit"))
    assert 'value="100,00"' in page
    response = post_form(dentist, f"/plans/items/{first.id}/edit", {"tooth": "26", "surfaces": "do", "price": "90"})
    assert response.status_code == 302
    stored = fresh(TreatmentItem, first.id)
    assert (stored.tooth, stored.surfaces, stored.price_cents) == (26, "OD", 9_000)
    assert post_form(dentist, f"/plans/items/{second.id}/remove").status_code == 302
    assert [i.id for i in fresh(TreatmentPlan, plan.id).items] == [first.id]


def test_an_approved_plans_items_cannot_be_edited(app, dentist):
    """Editing an item of an approved plan is a form error naming the plan's status; nothing changes."""
    plan = make_plan(prices=(10_000,), approve=True)
    item = fresh(TreatmentPlan, plan.id).items[0]
    assert "não podem mais mudar" in _text(dentist.get(f"/plans/items/{item.id}/edit"))
    response = post_form(dentist, f"/plans/items/{item.id}/edit", {"tooth": "", "surfaces": "", "price": "1,00"})
    assert response.status_code == 200
    assert f"O plano #{plan.id} está aprovado: seus itens não podem mais mudar." in _text(response)
    assert fresh(TreatmentItem, item.id).price_cents == 10_000
    removed = post_form(dentist, f"/plans/items/{item.id}/remove", follow_redirects=True)
    assert "não podem mais mudar" in _text(removed) and fresh(TreatmentItem, item.id) is not None


def test_approval_seals_the_plan_and_offers_the_next_step(app, dentist):
    """Approving records who and when, shows the total and who approved, and hides the item editing."""
    plan = make_plan(prices=(10_000, 25_050))
    response = post_form(dentist, f"/plans/{plan.id}/approve")
    assert response.status_code == 302
    stored = fresh(TreatmentPlan, plan.id)
    assert stored.status == PlanStatus.APPROVED and stored.approved_by_user_id == dentist.user.id
    tab = _tab(dentist, plan.patient_id)
    assert "R$ 350,50" in tab and "por Dra. Ana Lima" in tab
    assert not re.search(r"/plans/items/\d+/(edit|remove)", tab)  # sealed: only "done" is offered
    assert "Marcar realizado" in tab


@pytest.mark.parametrize("path", ["approve", "complete"])
def test_receptionist_gets_403_on_plan_approval_and_sees_no_buttons(app, client, path):
    """The front desk reads plans and prints budgets but cannot approve or complete them."""
    plan = make_plan(prices=(10_000,))
    login_as(client, "receptionist")
    assert post_form(client, f"/plans/{plan.id}/{path}").status_code == 403
    assert fresh(TreatmentPlan, plan.id).status == PlanStatus.PROPOSED
    tab = _tab(client, plan.patient_id)
    assert "R$ 100,00" in tab and "Aprovar plano" not in tab and "Incluir no plano" not in tab
    assert client.get(f"/plans/{plan.id}/budget").status_code == 200


def test_done_item_records_its_finding_on_the_chart(app, dentist):
    """Marking a restoration on 36 (MO) done dates it, names the dentist and charts the restoration."""
    restoration = make_procedure("Restauração", finding=FindingCode.RESTORATION)
    plan, [item] = _approved(dentist.user, (restoration, 36, "MO"))
    assert post_form(dentist, f"/plans/items/{item.id}/done").status_code == 302
    stored = fresh(TreatmentItem, item.id)
    assert stored.done and stored.done_by_user_id == dentist.user.id
    chart = odontogram.current_chart(plan.patient_id)
    assert (chart[36].finding, chart[36].surfaces) == (FindingCode.RESTORATION, "MO")
    assert "Realizado em" in _tab(dentist, plan.patient_id)


def test_complete_then_offer_the_recall(app, dentist):
    """Once every item is done the plan completes; completing early is a friendly warning."""
    plan, [first, second] = _approved(dentist.user, (make_procedure(), None, None), (make_procedure(), None, None))
    post_form(dentist, f"/plans/items/{first.id}/done")
    early = post_form(dentist, f"/plans/{plan.id}/complete", follow_redirects=True)
    assert "Faltam 1 procedimento" in _text(early)
    post_form(dentist, f"/plans/items/{second.id}/done")
    assert post_form(dentist, f"/plans/{plan.id}/complete").status_code == 302
    assert fresh(TreatmentPlan, plan.id).status == PlanStatus.COMPLETED


def test_cancel_needs_a_reason(app, dentist):
    """An empty reason is a form error; with one, the plan is cancelled and the tab shows the reason."""
    plan = make_plan()
    assert 'name="reason"' in _text(dentist.get(f"/plans/{plan.id}/cancel"))
    refused = post_form(dentist, f"/plans/{plan.id}/cancel", {"reason": "  "})
    assert refused.status_code == 200 and "Informe o motivo do cancelamento." in _text(refused)
    assert fresh(TreatmentPlan, plan.id).status == PlanStatus.PROPOSED
    assert post_form(dentist, f"/plans/{plan.id}/cancel", {"reason": "Optou por outra clínica"}).status_code == 302
    assert fresh(TreatmentPlan, plan.id).status == PlanStatus.CANCELLED
    tab = _tab(dentist, plan.patient_id)
    assert "Cancelado" in tab and "Optou por outra clínica" in tab


def test_adding_to_an_approved_plan_or_an_inactive_procedure_says_why(app, dentist):
    """A stale form: the plan was approved meanwhile (a warning on the tab) or the procedure deactivated (beside
    the field)."""
    from app.services import procedures

    plan = make_plan()
    prefix = f"plan-{plan.id}-"
    gone = make_procedure()
    procedures.deactivate_procedure(gone.id)
    refused = post_form(dentist, f"/plans/{plan.id}/items", {prefix + "procedure_id": str(gone.id)})
    assert refused.status_code == 200 and "está desativado" in _text(refused)
    plans.approve_plan(plan.id)
    data = {prefix + "procedure_id": str(make_procedure().id)}
    late = post_form(dentist, f"/plans/{plan.id}/items", data, follow_redirects=True)
    assert "seus itens não podem mais mudar" in _text(late)
    assert len(fresh(TreatmentPlan, plan.id).items) == 1


def test_an_approved_plan_is_not_cancelled(app, dentist):
    """Cancelling an approved plan is a form error."""
    plan = make_plan(approve=True)
    response = post_form(dentist, f"/plans/{plan.id}/cancel", {"reason": "Mudou de ideia"})
    assert response.status_code == 200 and "Só um plano proposto pode ser cancelado" in _text(response)


def test_deactivated_patients_plans_are_read_only(app, dentist):
    """A deactivated record shows its plans without forms; a forged post is refused on the form."""
    from app.services import patients

    plan = make_plan()
    patients.deactivate_patient(plan.patient_id, "Mudou-se")
    tab = _tab(dentist, plan.patient_id)
    assert "Incluir no plano" not in tab and "Novo plano" not in tab
    response = post_form(dentist, f"/plans/patient/{plan.patient_id}/new", {"title": "X"}, follow_redirects=True)
    assert "Paciente desativado: o cadastro é somente leitura até ser reativado." in _text(response)
    prefix = f"plan-{plan.id}-"
    data = {prefix + "procedure_id": str(make_procedure().id)}
    response = post_form(dentist, f"/plans/{plan.id}/items", data, follow_redirects=True)
    assert "Paciente desativado: o cadastro é somente leitura até ser reativado." in _text(response)
    assert len(fresh(TreatmentPlan, plan.id).items) == 1


def test_budget_print_page(app, dentist):
    """The budget has the clinic header, patient, items with tooth and surfaces, total, a signature line, and
    nothing of the app's navigation."""
    procedure = make_procedure("Restauração em resina", 15_000)
    plan, _items = _approved(dentist.user, (procedure, 16, "MO"), (procedure, 26, "O"))
    page = _text(dentist.get(f"/plans/{plan.id}/budget"))
    assert 'data-testid="clinic-header"' in page
    assert "Restauração em resina" in page and "MO" in page and ">16<" in page
    assert "R$ 300,00" in page and 'class="signature-line"' in page
    assert "CRO SP-12345" in page
    assert 'class="app-header"' not in page and "nav-sections" not in page
    assert 'href="/patients"' not in page and "/admin" not in page


def test_plans_tab_query_count_is_constant_in_the_number_of_items(app, dentist):
    """5 or 50 items across approved and proposed plans: the same number of queries."""
    counts = []
    for size in (5, 50):
        patient = make_patient()
        procedure = make_procedure(finding=FindingCode.RESTORATION)
        approved = plans.create_plan(patient.id, dentist.user.id, "A")
        proposed = plans.create_plan(patient.id, dentist.user.id, "P")
        for n in range(size):
            plans.add_item(approved.id, procedure.id, tooth=11 + n % 8)
            plans.add_item(proposed.id, procedure.id)
        with acting_as(dentist.user.id):
            plans.approve_plan(approved.id)
            for item in fresh(TreatmentPlan, approved.id).items[: size // 2]:
                plans.mark_item_done(item.id)
        _tab(dentist, patient.id)  # the record-opening audit happens once per visit: leave it out of the count
        with count_queries() as statements:
            response = dentist.get(f"/patients/{patient.id}/plans")
        assert response.status_code == 200 and _text(response).count('data-testid="plan-item"') == 2 * size
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_budget_query_count_is_constant_in_the_number_of_items(app, dentist):
    """The budget page reads a plan of 50 items with as many queries as one of 5."""
    counts = []
    for size in (5, 50):
        plan = make_plan(prices=(1_000,) * size, approve=True)
        dentist.get(f"/plans/{plan.id}/budget")
        with count_queries() as statements:
            assert dentist.get(f"/plans/{plan.id}/budget").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_item_done_needs_an_approved_plan(app, dentist):
    """Marking an item of a proposed plan done is a warning, and the chart stays empty."""
    plan = make_plan()
    item = fresh(TreatmentPlan, plan.id).items[0]
    response = post_form(dentist, f"/plans/items/{item.id}/done", follow_redirects=True)
    assert "Só itens de um plano aprovado" in _text(response)
    assert db.session.scalars(select(ToothFinding)).all() == []


def test_next_steps_book_the_first_visit_and_offer_a_recall_in_six_months(app, client):
    """Approved → "Agendar primeira consulta"; completed → one click puts a recall due in six months on the list."""
    from app.models.pacientes import Recall
    from app.services.clock import add_months, clinic_day

    user = login_as(client, "dentist")
    plan, [item] = _approved(user, (make_procedure(), None, None))
    tab = _tab(client, plan.patient_id)
    assert f'href="/agenda/book?patient={plan.patient_id}"' in tab and "Agendar primeira consulta" in tab
    post_form(client, f"/plans/items/{item.id}/done")
    post_form(client, f"/plans/{plan.id}/complete")
    tab = _tab(client, plan.patient_id)
    assert f'action="/recalls/patient/{plan.patient_id}"' in tab
    assert f'name="due_date" value="{add_months(clinic_day(), 6).isoformat()}"' in tab
    assert 'name="reason" value="Revisão semestral"' in tab
    due = add_months(clinic_day(), 6)
    post_form(
        client, f"/recalls/patient/{plan.patient_id}", {"due_date": due.isoformat(), "reason": "Revisão semestral"}
    )
    recall = db.session.scalar(select(Recall).where(Recall.patient_id == plan.patient_id))
    assert (recall.due_date, recall.reason) == (due, "Revisão semestral")


def test_budget_opening_is_audited_as_a_record_read(app, client):
    """Printing a budget opens the record: a receptionist's view is in the audit log (a HEAD request is not)."""
    from tests.support import audit_events

    plan = make_plan(approve=True)
    login_as(client, "receptionist")
    assert client.head(f"/plans/{plan.id}/budget").status_code == 200
    assert audit_events(action="view_record", row_id=plan.patient_id) == []
    assert client.get(f"/plans/{plan.id}/budget").status_code == 200
    assert len(audit_events(action="view_record", row_id=plan.patient_id)) == 1


def test_an_approved_plan_leads_to_its_payments_and_a_proposed_one_does_not(client):
    """Approved → "Pagamentos, parcelas e recibos" (the financial tab); a proposed plan takes no money yet."""
    login_as(client, "receptionist")
    approved = make_plan(approve=True)
    proposed = plans.create_plan(approved.patient_id, approved.dentist_user_id, "Outro")
    tab = _tab(client, approved.patient_id)
    assert tab.count('data-testid="plan-finance"') == 1
    assert f'href="/patients/{approved.patient_id}/finance"' in tab
    assert proposed.status == PlanStatus.PROPOSED
