"""Routes of treatment plans: thin, every rule lives in app/services/plans.py.

Forms that fail come back on the record's plans tab (or their own page) with the service's message beside the
field; a refused transition (approving an empty plan, completing with items pending) is a flash on the tab.
"""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.helpers import apply_service_errors
from app.blueprints.patients import routes as record  # the plans tab lives on the record
from app.blueprints.plans import bp
from app.blueprints.plans.forms import AddItemForm, CancelPlanForm, ItemFields, NewPlanForm, money_text
from app.edge import positive_int
from app.models.pacientes import TreatmentItem
from app.models.users import User
from app.security import current_session_id
from app.services import history, patients, plans
from app.services.clock import parse_money
from app.services.errors import ConflictError, PatientReadOnly, RelatedEntityNotFound, ValidationError
from app.services.guards import get_or_404
from app.vocabulary import Role

# A plan or an item the action cannot change, or a related row that is gone: shown on the form, never a 500.
REFUSED = (ConflictError, RelatedEntityNotFound)


def _to_tab(patient_id: int, plan_id: int | None = None):
    """Back to the record's plans tab, scrolled to the plan."""
    anchor = f"plan-{plan_id}" if plan_id else None
    return redirect(url_for("patients.plans", patient_id=patient_id, _anchor=anchor))


def _item(item_id: int) -> TreatmentItem:
    return get_or_404(TreatmentItem, item_id, "Item do plano")


def _price_errors(errors: dict) -> dict:
    """The service calls the price `price_cents`; the forms call it `price`."""
    errors = dict(errors)
    if "price_cents" in errors:
        errors["price"] = errors.pop("price_cents")
    return errors


@bp.post("/patient/<id:patient_id>/new", endpoint="create")
def create(patient_id: int):
    """Open a proposed plan: a dentist opens it as theirs; others choose the dentist responsible."""
    form = NewPlanForm()
    if form.validate_on_submit():
        is_dentist = current_user.role == Role.DENTIST
        dentist_id = current_user.id if is_dentist else positive_int(form.dentist_user_id.data)
        try:
            if dentist_id is None:
                raise ValidationError({"dentist_user_id": _("Escolha o dentista responsável pelo plano.")})
            plan = plans.create_plan(patient_id, dentist_id, form.title.data)
        except ValidationError as exc:
            apply_service_errors(form, exc.errors)
        except PatientReadOnly as exc:  # the tab shows no form then: say it above the record
            flash(exc.message, "warning")
            return _to_tab(patient_id)
        except RelatedEntityNotFound as exc:  # the chosen dentist left or is not a dentist
            apply_service_errors(form, {"dentist_user_id": exc.message})
        else:
            flash(_("Plano proposto. Inclua os procedimentos do catálogo."), "success")
            return _to_tab(patient_id, plan.id)
    return record.show_plans_tab(patient_id, plan_form=form)


@bp.post("/<id:plan_id>/items", endpoint="add_item")
def add_item(plan_id: int):
    """Add a catalogue procedure to a proposed plan; an empty price takes the catalogue's."""
    plan = plans.get_plan(plan_id)
    form = AddItemForm(prefix=f"plan-{plan.id}")
    if form.validate_on_submit():
        try:
            price = parse_money(form.price.data, "price", required=False)
            procedure_id = positive_int(form.procedure_id.data)
            if procedure_id is None:
                raise ValidationError({"procedure_id": _("Escolha um procedimento do catálogo.")})
            plans.add_item(plan.id, procedure_id, form.tooth.data, form.surfaces.data, price)
        except ValidationError as exc:
            apply_service_errors(form, _price_errors(exc.errors))
        except ConflictError as exc:  # no longer proposed, or the record was deactivated: the tab shows no form
            flash(exc.message, "warning")
            return _to_tab(plan.patient_id, plan.id)
        except RelatedEntityNotFound as exc:  # the procedure was deactivated meanwhile
            apply_service_errors(form, {"procedure_id": exc.message})
        else:
            flash(_("Procedimento incluído no plano."), "success")
            return _to_tab(plan.patient_id, plan.id)
    return record.show_plans_tab(plan.patient_id, item_forms={plan.id: form})


@bp.route("/items/<id:item_id>/edit", methods=["GET", "POST"], endpoint="edit_item")
def edit_item(item_id: int):
    """Change an item's tooth, surfaces or price while its plan is proposed (afterwards: a form error)."""
    item = _item(item_id)
    form = ItemFields()
    if request.method == "GET":
        form.tooth.data = str(item.tooth or "")
        form.surfaces.data = item.surfaces or ""
        form.price.data = money_text(item.price_cents)
    if form.validate_on_submit():
        try:
            price = parse_money(form.price.data, "price")
            plans.update_item(item.id, form.tooth.data, form.surfaces.data, price)
        except ValidationError as exc:
            apply_service_errors(form, _price_errors(exc.errors))
        except REFUSED as exc:
            form.form_errors.append(exc.message)
        else:
            flash(_("Item atualizado."), "success")
            return _to_tab(item.plan.patient_id, item.plan_id)
    patient = patients.get_patient(item.plan.patient_id)
    return render_template("plans/item_edit.html", form=form, item=item, plan=item.plan, patient=patient)


def _act(action, success: str, patient_id: int, plan_id: int):
    """A one-click plan action: the service's refusal or the success, as a message on the plans tab."""
    try:
        action()
    except REFUSED as exc:
        flash(exc.message, "warning")
    else:
        flash(success, "success")
    return _to_tab(patient_id, plan_id)


@bp.post("/items/<id:item_id>/remove", endpoint="remove_item")
def remove_item(item_id: int):
    """Take an item out of a proposed plan."""
    item = _item(item_id)
    patient_id, plan_id = item.plan.patient_id, item.plan_id
    return _act(lambda: plans.remove_item(item.id), _("Item removido do plano."), patient_id, plan_id)


@bp.post("/<id:plan_id>/approve", endpoint="approve")
def approve(plan_id: int):
    """The patient agreed: the items are sealed and the total is owed."""
    plan = plans.get_plan(plan_id)
    message = _("Plano aprovado. Próximo passo: agendar a primeira consulta.")
    return _act(lambda: plans.approve_plan(plan.id), message, plan.patient_id, plan.id)


@bp.post("/items/<id:item_id>/done", endpoint="item_done")
def item_done(item_id: int):
    """Record that an item was performed now, by the current user (and its finding on the chart)."""
    item = _item(item_id)
    message = _("Procedimento marcado como realizado.")
    return _act(lambda: plans.mark_item_done(item.id), message, item.plan.patient_id, item.plan_id)


@bp.post("/<id:plan_id>/complete", endpoint="complete")
def complete(plan_id: int):
    """Close a plan whose items were all performed."""
    plan = plans.get_plan(plan_id)
    message = _("Plano concluído. Que tal já deixar o retorno semestral anotado?")
    return _act(lambda: plans.complete_plan(plan.id), message, plan.patient_id, plan.id)


@bp.route("/<id:plan_id>/cancel", methods=["GET", "POST"], endpoint="cancel")
def cancel(plan_id: int):
    """Cancel a proposed plan with a written reason."""
    plan = plans.get_plan(plan_id)
    form = CancelPlanForm()
    if form.validate_on_submit():
        try:
            plans.cancel_plan(plan.id, form.reason.data)
        except ValidationError as exc:
            apply_service_errors(form, exc.errors)
        except REFUSED as exc:
            form.form_errors.append(exc.message)
        else:
            flash(_("Plano cancelado."), "success")
            return _to_tab(plan.patient_id, plan.id)
    patient = patients.get_patient(plan.patient_id)
    return render_template("plans/cancel.html", form=form, plan=plan, patient=patient)


@bp.get("/<id:plan_id>/budget", endpoint="budget")
def budget(plan_id: int):
    """The printable budget ("orçamento"): clinic header, patient, items, total, the patient's signature line."""
    plan = plans.get_plan(plan_id)
    if request.method == "HEAD":  # headers only: nothing of the record is read out, nothing to audit
        patient = patients.get_patient(plan.patient_id)
    else:
        patient = patients.open_record(plan.patient_id, visit=current_session_id())
    dentist = get_or_404(User, plan.dentist_user_id, "Dentista")
    return render_template(
        "plans/budget.html",
        plan=plan,
        patient=patient,
        dentist=dentist,
        total=plans.plan_balances([plan.id])[plan.id].items_total_cents,
        approver=history.user_names([plan.approved_by_user_id]).get(plan.approved_by_user_id),
    )
