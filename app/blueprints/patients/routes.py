"""Routes of the patients blueprint: list/search, register, edit, deactivate, and the record's tabs.

Each tab is its own URL: a plain request renders the whole record page; an HTMX request from the tab bar
renders only the tabs (`_tabs.html`). Either way the server audits the opening of the record (once per login
session and patient within RECORD_VIEW_AUDIT_MINUTES, see patients.open_record): what the client sends never
decides it. A HEAD request returns no patient data and writes no event.
"""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.blueprints.helpers import apply_service_errors, form_values, page_arg, per_page_arg
from app.blueprints.patients import bp
from app.blueprints.patients.forms import PATIENT_FIELDS, AnamnesisForm, DeactivateForm, PatientForm
from app.blueprints.payments.routes import finance_context
from app.blueprints.ui import cep_filter, cpf_filter, phone_filter
from app.security import can, current_session_id, is_htmx
from app.services import agenda, anamnesis, documents, history, notes, patients, payments, plans
from app.services.errors import ConflictError, ValidationError
from app.vocabulary import AnamnesisStatus

RESULTS_TARGET = "patient-results"
TABS_TARGET = "record-tabs"
SEARCH_MAX = 100

# (tab name, endpoint, label), in the order of the tab bar.
TABS = (
    ("record", "patients.record", _l("Cadastro")),
    ("anamnesis", "patients.anamnesis", _l("Anamnese")),
    ("appointments", "patients.appointments", _l("Consultas")),
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
    """The record tab: registration data."""
    return _show_tab(patient_id, "record")


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
    """The appointments tab, latest first."""
    rows = agenda.appointments_of_patient(patient_id)
    return _show_tab(
        patient_id,
        "appointments",
        appointments=rows,
        dentists=agenda.dentist_names(a.dentist_user_id for a in rows),
    )


@bp.get("/<id:patient_id>/plans", endpoint="plans")
def plans_tab(patient_id: int):
    """The treatment plans tab with each plan's balance."""
    rows = plans.plans_of_patient(patient_id)
    return _show_tab(
        patient_id,
        "plans",
        plans=rows,
        balances=plans.plan_balances(p.id for p in rows),
        dentists=agenda.dentist_names(p.dentist_user_id for p in rows),
    )


@bp.get("/<id:patient_id>/finance")
def finance(patient_id: int):
    """The financial tab: per approved plan, balance by kind, instalments, payments with receipts, cash desk forms."""
    rows = payments.patient_finance(patient_id)
    return _show_tab(patient_id, "finance", finance=rows, **finance_context(rows))


@bp.get("/<id:patient_id>/notes", endpoint="notes")
def notes_tab(patient_id: int):
    """The clinical notes tab, newest first, corrections linked to the notes they replace."""
    rows = notes.notes_of_patient(patient_id)
    return _show_tab(
        patient_id,
        "notes",
        notes=rows,
        superseded=notes.superseded_by(rows),
        authors=history.user_names(n.dentist_user_id for n in rows),
    )


@bp.get("/<id:patient_id>/documents", endpoint="documents")
def documents_tab(patient_id: int):
    """The issued documents tab (prescriptions and certificates), newest first."""
    rows = documents.documents_of_patient(patient_id)
    return _show_tab(
        patient_id,
        "documents",
        documents=rows,
        authors=history.user_names(d.dentist_user_id for d in rows),
    )


@bp.get("/<id:patient_id>/timeline")
def timeline(patient_id: int):
    """The timeline tab: everything that happened to this patient, newest first, paginated."""
    return _show_tab(patient_id, "timeline", page=history.patient_timeline(patient_id, page_arg(), per_page_arg(25)))
