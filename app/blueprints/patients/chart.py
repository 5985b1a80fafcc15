"""The odontogram tab: the chart (now or as it was on a past day), one tooth's panel with its history, and the
panel's two forms: record a finding, or add a procedure for that tooth to the patient's proposed plan.

Reading is for all staff (the front desk sees what is planned); writing is clinical (POLICY). The panel is an
HTMX fragment swapped into `#chart-panel`; after a finding or an item is saved the chart is swapped out of band too.
"""

from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.helpers import apply_service_errors, date_arg
from app.blueprints.patients import bp
from app.blueprints.patients.forms import ChartItemForm, FindingForm
from app.blueprints.patients.odontogram_svg import DENTITION_LABELS, FINDING_STYLES, LAYOUTS, LEGEND_CELL, tooth_label
from app.blueprints.patients.routes import _show_tab
from app.edge import positive_int
from app.security import current_session_id
from app.services import history, odontogram, patients, plans, procedures
from app.services.clock import clinic_day
from app.services.dental import DENTITIONS, SURFACES, VALID_TEETH, dentition_for, surface_name
from app.services.errors import ConflictError, RelatedEntityNotFound, ValidationError
from app.vocabulary import FindingCode


def _dentition(patient) -> str:
    """The dentition asked for (`?dentition=`), else the one the patient's age suggests."""
    chosen = request.args.get("dentition")
    return chosen if chosen in DENTITIONS else dentition_for(patient.birth_date, clinic_day())


def _day() -> object:
    """The past day asked for (`?on=aaaa-mm-dd`); None for today, the future or nothing: the current chart."""
    day = date_arg("on")
    return day if day is not None and day < clinic_day() else None


def _chart_context(patient, dentition: str, day=None, selected: int | None = None) -> dict:
    """What patients/_odontogram.html draws: the layout of a dentition and the findings on it."""
    findings = odontogram.chart_on(patient.id, day) if day else odontogram.current_chart(patient.id)
    return {
        "findings": findings,
        "planned_teeth": set() if day else odontogram.planned_teeth(patient.id),
        "dentition": dentition,
        "chart_layout": LAYOUTS[dentition],
        "styles": FINDING_STYLES,
        "tooth_label": tooth_label,
        "on": day,
        "selected_tooth": selected,
    }


@bp.get("/<id:patient_id>/chart", endpoint="chart")
def chart_tab(patient_id: int):
    """The odontogram tab: the chart with its legend, dentition and date controls, and the tooth panel."""
    patient = patients.get_patient(patient_id)
    return _show_tab(
        patient_id,
        "chart",
        dentitions=[(name, DENTITION_LABELS[name]) for name in DENTITIONS],
        finding_codes=list(FindingCode),
        legend_cell=LEGEND_CELL,
        today=clinic_day(),
        **_chart_context(patient, _dentition(patient), _day()),
    )


def _tooth_or_none(raw) -> int | None:
    """The posted tooth when it is an FDI number (to show its panel again), else None."""
    number = positive_int(str(raw or "").strip())
    return number if number in VALID_TEETH else None


def _render_panel(
    patient, tooth: int | None, finding_form=None, item_form=None, message=None, chart=False, preselected=None
):
    """The tooth panel (with fresh forms unless given ones with errors); `chart` adds the chart out of band.

    Fresh forms tick the clicked surface (`?surface=`), or the surfaces of the finding just recorded (`preselected`).
    """
    dentition = _dentition(patient)
    rows = odontogram.tooth_history(patient.id, tooth) if tooth is not None else []
    if preselected is None:
        surface = request.args.get("surface", "").upper()
        preselected = [surface] if surface and surface in SURFACES else []
    if finding_form is None:
        finding_form = FindingForm(prefix="finding", formdata=None, tooth=tooth, surfaces=preselected)
    if item_form is None:
        item_form = ChartItemForm(prefix="item", formdata=None, tooth=tooth, surfaces=preselected)
    catalogue = procedures.list_procedures()
    item_form.procedure_id.choices = [("", _("Escolha um procedimento"))] + [
        (str(p.id), f"{p.name} ({p.code})") for p in catalogue
    ]
    context = {
        "patient": patient,
        "tooth": tooth,
        "rows": rows,
        "names": history.user_names(row.recorded_by_user_id for row in rows),
        "planned": odontogram.planned_for_tooth(patient.id, tooth) if tooth is not None else [],
        "finding_form": finding_form,
        "item_form": item_form,
        "has_catalogue": bool(catalogue),
        "message": message,
        "surface_name": surface_name,
        "surfaces": SURFACES,
        "styles": FINDING_STYLES,
        "day": _day(),
        "dentition": dentition,
        "oob_chart": chart,
    }
    if chart:
        context.update(_chart_context(patient, dentition, selected=tooth))
    return render_template("patients/_chart_panel.html", **context)


@bp.get("/<id:patient_id>/chart/teeth/<id:tooth>", endpoint="chart_tooth")
def chart_tooth(patient_id: int, tooth: int):
    """One tooth's panel: its findings (who, when), and the forms to record a finding or plan a procedure."""
    odontogram.require_tooth(tooth)  # a number that is no FDI tooth: 404 before the record is opened
    if request.method == "HEAD":  # headers only: nothing of the record is read out, no event written
        patients.get_patient(patient_id)
        return "", 200
    patient = patients.open_record(patient_id, visit=current_session_id())
    return _render_panel(patient, tooth)


def _surfaces(form) -> str:
    """The ticked surface letters as one string, for the service to check."""
    return "".join(form.surfaces.data or [])


@bp.post("/<id:patient_id>/chart/findings", endpoint="chart_finding")
def chart_finding(patient_id: int):
    """Record a finding on a tooth (a bad tooth or surface is a form error); the chart updates in place."""
    patient = patients.get_patient(patient_id)
    form = FindingForm(prefix="finding")
    tooth = _tooth_or_none(form.tooth.data)
    if form.validate_on_submit():
        try:
            row = odontogram.record_finding(
                patient_id, form.tooth.data, form.finding.data, _surfaces(form), form.notes.data
            )
        except ValidationError as exc:
            apply_service_errors(form, exc.errors)
        except (RelatedEntityNotFound, ConflictError) as exc:
            form.form_errors.append(exc.message)
        else:
            message = _("Achado registrado: %(what)s.", what=odontogram.describe(row))
            return _render_panel(patient, row.tooth, message=message, chart=True, preselected=list(row.surfaces or ""))
    return _render_panel(patient, tooth, finding_form=form)


@bp.post("/<id:patient_id>/chart/items", endpoint="chart_item")
def chart_item(patient_id: int):
    """Add a catalogue procedure for a tooth to the patient's proposed plan (opened if there is none)."""
    patient = patients.get_patient(patient_id)
    form = ChartItemForm(prefix="item")
    tooth = _tooth_or_none(form.tooth.data)
    if form.validate_on_submit():
        try:
            item = plans.add_item_to_proposed_plan(
                patient_id, current_user.id, positive_int(form.procedure_id.data), form.tooth.data, _surfaces(form)
            )
        except ValidationError as exc:
            apply_service_errors(form, exc.errors)
        except (RelatedEntityNotFound, ConflictError) as exc:
            if getattr(exc, "entity", None) == "Procedimento":
                form.procedure_id.errors = [*form.procedure_id.errors, exc.message]
            else:
                form.form_errors.append(exc.message)
        else:
            where = f"{item.tooth}, {item.surfaces}" if item.surfaces else str(item.tooth)
            message = _(
                "Incluído no plano proposto #%(plan)s: %(name)s (dente %(where)s).",
                plan=item.plan_id,
                name=item.name,
                where=where,
            )
            return _render_panel(patient, item.tooth, message=message, chart=True)
    return _render_panel(patient, tooth, item_form=form)
