"""Routes of the patients blueprint: list/search, register, edit, deactivate, and the record's tabs.

Each tab is its own URL: a plain request renders the whole record page; an HTMX request from the tab bar
renders only the tabs (`_tabs.html`). Either way the server audits the opening of the record (once per login
session and patient within RECORD_VIEW_AUDIT_MINUTES, see patients.open_record): what the client sends never
decides it. A HEAD request returns no patient data and writes no event.
"""

import json

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.blueprints.helpers import apply_service_errors, form_values, page_arg, per_page_arg
from app.blueprints.patients import bp
from app.blueprints.patients.forms import PATIENT_FIELDS, AnamnesisForm, DeactivateForm, PatientForm
from app.blueprints.payments.routes import finance_context
from app.blueprints.plans.forms import AddItemForm, NewPlanForm
from app.blueprints.recalls.forms import RecallForm
from app.blueprints.ui import cep_filter, cpf_filter, phone_filter
from app.security import can, current_session_id, is_htmx
from app.services import agenda, anamnesis, data_report, history, patients, payments, plans, procedures, recalls
from app.services.clock import add_months, clinic_day
from app.services.errors import ConflictError, ValidationError
from app.vocabulary import AnamnesisStatus, PlanStatus, Role

RESULTS_TARGET = "patient-results"
TABS_TARGET = "record-tabs"
SEARCH_MAX = 100

# (tab name, endpoint, label), in the order of the tab bar.
TABS = (
    ("record", "patients.record", _l("Cadastro")),
    ("anamnesis", "patients.anamnesis", _l("Anamnese")),
    ("appointments", "patients.appointments", _l("Consultas")),
    ("chart", "patients.chart", _l("Odontograma")),
    ("plans", "patients.plans", _l("Planos e saldo")),
    ("finance", "patients.finance", _l("Financeiro")),
    ("notes", "patients.notes", _l("Evolução clínica")),
    ("documents", "patients.documents", _l("Documentos")),
    ("timeline", "patients.timeline", _l("Histórico")),
)


def _wants(target: str) -> bool:
    """Whether this is an HTMX request that will swap the element with id `target`."""
    return is_htmx() and request.headers.get("HX-Target") == target


@bp.get("")
def index():
    """Patients by name, CPF or phone (accent-insensitive), paginated; HTMX swaps only the results."""
    query = request.args.get("q", "").strip()[:SEARCH_MAX]
    include_inactive = request.args.get("inactive") == "1"
    page = patients.search_patients(query, page_arg(), per_page_arg(20), include_inactive=include_inactive)
    warnings = anamnesis.anamnesis_warnings(p.id for p in page.items)
    template = "patients/_results.html" if _wants(RESULTS_TARGET) else "patients/index.html"
    return render_template(template, page=page, query=query, include_inactive=include_inactive, warnings=warnings)


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Register a patient; service validation errors appear beside their fields, the typed data stays."""
    form = PatientForm()
    if form.validate_on_submit():
        try:
            patient = patients.create_patient(form_values(form, PATIENT_FIELDS))
        except ValidationError as exc:
            apply_service_errors(form, exc.errors)
        else:
            flash(
                _(
                    "Paciente %(name)s cadastrado. Preencha a anamnese antes do primeiro atendimento.",
                    name=patient.full_name,
                ),
                "success",
            )
            return redirect(url_for("patients.record", patient_id=patient.id))
    return render_template("patients/form.html", form=form, patient=None)


@bp.route("/<id:patient_id>/edit", methods=["GET", "POST"])
def edit(patient_id: int):
    """Change a patient's registration data (a deactivated record shows that it is read-only)."""
    patient = patients.get_patient(patient_id)
    form = PatientForm(obj=patient)
    if request.method == "GET":
        form.cpf.data, form.cep.data = cpf_filter(patient.cpf), cep_filter(patient.cep)
        form.phone.data = phone_filter(patient.phone)
    if form.validate_on_submit():
        try:
            patients.update_patient(patient.id, form_values(form, PATIENT_FIELDS))
        except ValidationError as exc:
            apply_service_errors(form, exc.errors)
        except ConflictError as exc:  # a deactivated record is read-only
            form.form_errors.append(exc.message)
        else:
            flash(_("Cadastro atualizado."), "success")
            return redirect(url_for("patients.record", patient_id=patient.id))
    return render_template("patients/form.html", form=form, patient=patient)


@bp.route("/<id:patient_id>/deactivate", methods=["GET", "POST"])
def deactivate(patient_id: int):
    """Deactivate a patient with a written reason (records are never deleted)."""
    patient = patients.get_patient(patient_id)
    form = DeactivateForm()
    if form.validate_on_submit():
        try:
            patients.deactivate_patient(patient.id, form.reason.data)
        except ValidationError as exc:
            apply_service_errors(form, exc.errors)
        except ConflictError as exc:
            flash(exc.message, "warning")
            return redirect(url_for("patients.record", patient_id=patient.id))
        else:
            flash(_("Cadastro desativado."), "success")
            return redirect(url_for("patients.record", patient_id=patient.id))
    return render_template("patients/deactivate.html", form=form, patient=patient)


@bp.post("/<id:patient_id>/reactivate")
def reactivate(patient_id: int):
    """Reactivate a deactivated patient."""
    try:
        patients.reactivate_patient(patient_id)
    except ConflictError as exc:
        flash(exc.message, "warning")
    else:
        flash(_("Cadastro reativado."), "success")
    return redirect(url_for("patients.record", patient_id=patient_id))


def _show_tab(patient_id: int, tab: str, template: str | None = None, **context):
    """The record page with one tab open, or only the tabs for an HTMX tab switch; the reading is audited."""
    if request.method == "HEAD":
        patient = patients.get_patient(patient_id)  # headers only: nothing of the record is read out
    else:
        patient = patients.open_record(patient_id, visit=current_session_id())
    context.update(
        patient=patient,
        tab=tab,
        tab_template=template or f"patients/_tab_{tab}.html",
        tabs=[(name, endpoint, label) for name, endpoint, label in TABS if can(endpoint)],
    )
    if _wants(TABS_TARGET):
        return render_template("patients/_tabs.html", **context)
    context["warning"] = anamnesis.anamnesis_warning(patient.anamnesis)
    return render_template("patients/record.html", **context)


@bp.get("/<id:patient_id>")
def record(patient_id: int):
    """The record tab: registration data (and the data report link, for whoever may produce it)."""
    may_report = can("patients.data_report") and data_report.may_produce(patient_id, current_user)
    return _show_tab(patient_id, "record", may_report=may_report)


@bp.get("/<id:patient_id>/anamnesis", endpoint="anamnesis")
def anamnesis_tab(patient_id: int):
    """The anamnesis tab, read-only, with its warning."""
    return _show_tab(patient_id, "anamnesis", current=anamnesis.get_anamnesis(patient_id))


@bp.route("/<id:patient_id>/anamnesis/edit", methods=["GET", "POST"])
def anamnesis_edit(patient_id: int):
    """Fill in or review the anamnesis; saving marks it reviewed now (not while the record is deactivated)."""
    current = anamnesis.get_anamnesis(patient_id)
    form = AnamnesisForm(obj=current)
    if request.method == "GET" and current is not None:
        form.complete.data = current.status == AnamnesisStatus.COMPLETE
    if form.validate_on_submit():
        try:
            anamnesis.update_anamnesis(patient_id, **form_values(form, anamnesis.FIELDS), complete=form.complete.data)
        except ValidationError as exc:
            apply_service_errors(form, exc.errors)
        except ConflictError as exc:  # a deactivated record is read-only
            form.form_errors.append(exc.message)
        else:
            flash(_("Anamnese salva."), "success")
            return redirect(url_for("patients.anamnesis", patient_id=patient_id))
    return _show_tab(patient_id, "anamnesis", "patients/_tab_anamnesis_edit.html", form=form, current=current)


@bp.get("/<id:patient_id>/appointments")
def appointments(patient_id: int):
    """The appointments tab: upcoming and past appointments, the missed count, the patient's recalls."""
    rows = agenda.appointments_of_patient(patient_id)
    split = agenda.split_upcoming(rows)
    return _show_tab(
        patient_id,
        "appointments",
        upcoming=split.upcoming,
        past=split.past,
        missed=split.missed,
        dentists=agenda.dentist_names(a.dentist_user_id for a in rows),
        recalls=recalls.recalls_of_patient(patient_id),
        recall_form=RecallForm(),
    )


@bp.get("/<id:patient_id>/plans", endpoint="plans")
def plans_tab(patient_id: int):
    """The treatment plans tab with each plan's balance (and, for clinical staff, the plan forms)."""
    return show_plans_tab(patient_id)


def show_plans_tab(patient_id: int, plan_form=None, item_forms: dict | None = None):
    """The plans tab; the plans blueprint passes back a form that failed, to show its errors in place.

    A fixed number of queries whatever the number of plans and items: plans with items, balances, names,
    and (for those who may change plans) the active dentists and the catalogue once.
    """
    rows = plans.plans_of_patient(patient_id)
    item_forms = dict(item_forms or {})
    if can("plans.add_item"):
        catalogue = procedures.list_procedures()
        for plan in rows:
            if plan.status == PlanStatus.PROPOSED and plan.id not in item_forms:
                item_forms[plan.id] = AddItemForm(prefix=f"plan-{plan.id}", formdata=None)
        for form in item_forms.values():
            form.set_procedures(catalogue)
    if plan_form is None and can("plans.create"):
        plan_form = NewPlanForm(formdata=None)
    if plan_form is not None and current_user.role != Role.DENTIST:
        plan_form.set_dentists(agenda.active_dentists())
    people = [p.approved_by_user_id for p in rows] + [i.done_by_user_id for p in rows for i in p.items]
    return _show_tab(
        patient_id,
        "plans",
        plans=rows,
        balances=plans.plan_balances(p.id for p in rows),
        dentists=agenda.dentist_names(p.dentist_user_id for p in rows),
        people=history.user_names(people),
        plan_form=plan_form,
        item_forms=item_forms,
        recall_due=add_months(clinic_day(), 6),
    )


@bp.get("/<id:patient_id>/finance")
def finance(patient_id: int):
    """The financial tab: per approved plan, balance by kind, instalments, payments with receipts, cash desk forms."""
    rows = payments.patient_finance(patient_id)
    return _show_tab(patient_id, "finance", finance=rows, **finance_context(rows))


@bp.get("/<id:patient_id>/timeline")
def timeline(patient_id: int):
    """The timeline tab: everything that happened to this patient, newest first, paginated."""
    return _show_tab(patient_id, "timeline", page=history.patient_timeline(patient_id, page_arg(), per_page_arg(25)))


@bp.get("/<id:patient_id>/data-report", endpoint="data_report")
def data_report_page(patient_id: int):
    """The patient data report (LGPD art. 18), printable: every row held and who opened or changed the record."""
    if request.method == "HEAD":  # headers only: nothing gathered, nothing audited
        data_report.require_may_produce(patient_id)
        return ""
    report = data_report.produce_data_report(patient_id, "html")
    return render_template("patients/data_report.html", report=report, patient=report.patient)


@bp.get("/<id:patient_id>/data-report.json")
def data_report_json(patient_id: int):
    """The patient data report as a JSON file download (the same content as the page, every column)."""
    if request.method == "HEAD":
        data_report.require_may_produce(patient_id)
        return ""
    report = data_report.produce_data_report(patient_id, "json")
    body = json.dumps(data_report.as_json(report), ensure_ascii=False, indent=2)
    filename = f"sorriso-paciente-{patient_id}-dados.json"
    return Response(
        body,
        content_type="application/json; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
