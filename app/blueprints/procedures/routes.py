"""Routes of the procedure catalogue: thin, every rule lives in app/services/procedures.py."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.blueprints.helpers import apply_service_errors, page_arg, per_page_arg
from app.blueprints.procedures import bp
from app.blueprints.procedures.forms import ProcedureForm
from app.services import procedures
from app.services.clock import format_money, parse_money
from app.services.errors import ConflictError, ValidationError

SEARCH_MAX = 100


@bp.get("", endpoint="index")
def index():
    """The catalogue by name, active and inactive, searched by code or name (accents ignored), paginated."""
    query = request.args.get("q", "").strip()[:SEARCH_MAX]
    page = procedures.search_procedures(query, page_arg(), per_page_arg(25))
    return render_template("procedures/index.html", page=page, query=query)


def _save(form: ProcedureForm, procedure_id: int | None = None):
    """Create or update from the form; ValidationError (money included) goes back onto the form's fields."""
    price = parse_money(form.default_price.data, "default_price")
    values = (form.code.data, form.name.data, price)
    if procedure_id is None:
        return procedures.create_procedure(*values, finding=form.finding.data)
    return procedures.update_procedure(procedure_id, *values, finding=form.finding.data)


def _errors_onto(form: ProcedureForm, exc: ValidationError) -> None:
    """The service calls the price `default_price_cents`; the form calls it `default_price`."""
    errors = dict(exc.errors)
    if "default_price_cents" in errors:
        errors["default_price"] = errors.pop("default_price_cents")
    apply_service_errors(form, errors)


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Add a procedure to the catalogue."""
    form = ProcedureForm()
    if form.validate_on_submit():
        try:
            procedure = _save(form)
        except ValidationError as exc:
            _errors_onto(form, exc)
        else:
            flash(_("Procedimento %(code)s incluído no catálogo.", code=procedure.code), "success")
            return redirect(url_for("procedures.index"))
    return render_template("procedures/form.html", form=form, procedure=None)


@bp.route("/<id:procedure_id>/edit", methods=["GET", "POST"])
def edit(procedure_id: int):
    """Change a procedure; plan items already added keep the name and price they froze."""
    procedure = procedures.get_procedure(procedure_id)
    form = ProcedureForm(obj=procedure)
    if request.method == "GET":
        form.default_price.data = format_money(procedure.default_price_cents).removeprefix("R$").strip()
        form.finding.data = procedure.finding or ""
    if form.validate_on_submit():
        try:
            _save(form, procedure.id)
        except ValidationError as exc:
            _errors_onto(form, exc)
        else:
            flash(_("Procedimento atualizado. Os planos já montados mantêm o preço anterior."), "success")
            return redirect(url_for("procedures.index"))
    return render_template("procedures/form.html", form=form, procedure=procedure)


@bp.post("/<id:procedure_id>/deactivate")
def deactivate(procedure_id: int):
    """Take a procedure out of the catalogue (plans that use it keep it)."""
    try:
        procedure = procedures.deactivate_procedure(procedure_id)
    except ConflictError as exc:
        flash(exc.message, "warning")
    else:
        flash(_("Procedimento %(code)s desativado.", code=procedure.code), "success")
    return redirect(url_for("procedures.index"))


@bp.post("/<id:procedure_id>/activate")
def activate(procedure_id: int):
    """Put a procedure back in the catalogue."""
    try:
        procedure = procedures.activate_procedure(procedure_id)
    except ConflictError as exc:
        flash(exc.message, "warning")
    else:
        flash(_("Procedimento %(code)s reativado.", code=procedure.code), "success")
    return redirect(url_for("procedures.index"))
