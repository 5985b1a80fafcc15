"""Routes of the cash desk: record a payment, an adjustment or a refund, set instalments, print a receipt, charge
via PIX.

The forms live on the patient's financial tab, one block per plan (`payments/_plan.html`). An HTMX post swaps that
block in place, with the form's errors or the success message; a plain post redirects to the tab on success and
shows the plan on its own page with the errors otherwise. Services parse and check everything; a closed day or a
refunded payment (ConflictError) is shown on the form, never as an error page.
"""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.blueprints.helpers import apply_service_errors, id_arg
from app.blueprints.payments import bp
from app.blueprints.payments.forms import (
    AdjustmentForm,
    InstallmentsForm,
    PaymentForm,
    RefundForm,
    installment_choices,
)
from app.edge import query_date
from app.security import can, is_htmx
from app.services import history, patients, payments, pix, plans, settings
from app.services.clock import amount_in_words, format_money, format_money_input, parse_money
from app.services.errors import ConflictError, ValidationError
from app.vocabulary import PaymentKind, PaymentMethod


def _with_ids(form, suffix) -> None:
    """Give the form's fields ids of their own (several plans' forms share one page); names stay the same."""
    for field in form:
        field.id = f"{field.name}-{suffix}"
        field.label.field_id = field.id


class PlanForms:
    """The forms of one plan's block on the financial tab (the one posted keeps its data and errors)."""

    def __init__(self, finance: payments.PlanFinance, posted=None):
        plan_id = finance.plan.id
        posted = posted or {}
        self.payment = posted.get("payment") or PaymentForm(formdata=None)
        self.adjustment = posted.get("adjustment") or AdjustmentForm(formdata=None)
        self.installments = posted.get("installments") or InstallmentsForm(formdata=None)
        self.payment.installment.choices = installment_choices(finance.open_installments)
        self.refunds = {}
        for row in finance.rows:
            refused = posted.get(("refund", row.id))  # shown even when refunded: it says so
            if refused or (row.id not in finance.refunded and row.kind == PaymentKind.PAYMENT):
                form = refused or RefundForm(formdata=None)
                _with_ids(form, f"pay{row.id}")
                self.refunds[row.id] = form
        for form in (self.payment, self.adjustment, self.installments):
            _with_ids(form, f"plan{plan_id}")
        self.open = next((name for name in posted if isinstance(name, str)), None)
        self.open_refund = next((key[1] for key in posted if isinstance(key, tuple)), None)


def finance_context(rows: list[payments.PlanFinance], posted=None) -> dict:
    """What the financial blocks of these plans need besides the rows: their forms and the staff names."""
    return {
        "forms": {f.plan.id: PlanForms(f, posted) for f in rows},
        "users": history.user_names(row.received_by_user_id for f in rows for row in f.rows),
    }


def _plan_finance(plan_id: int) -> payments.PlanFinance | None:
    """The financial block of one plan (None while the plan is only proposed)."""
    plan = plans.get_plan(plan_id)
    return next(iter(payments.patient_finance(plan.patient_id, plan_id)), None)


def _answer(plan_id: int, posted=None, message: str | None = None, error: str | None = None, new_receipt=None):
    """After a post: the plan's block (HTMX), the tab (plain post that worked) or the plan's own page (errors)."""
    plan = plans.get_plan(plan_id)
    if error is None and message is not None and not is_htmx():
        flash(message, "success")
        return redirect(url_for("patients.finance", patient_id=plan.patient_id))
    context = _plan_context(plan, posted, message=message, error=error, new_receipt=new_receipt)
    return render_template("payments/_plan.html" if is_htmx() else "payments/plan_page.html", **context)


def _plan_context(plan, posted=None, **extra) -> dict:
    """The context of one plan's block: its finance row (None while proposed), forms and names."""
    finance = _plan_finance(plan.id)
    rows = [finance] if finance else []
    patient = patients.get_patient(plan.patient_id)
    return {"plan": plan, "patient": patient, "pf": finance, **finance_context(rows, posted), **extra}


def _conflict(form, exc: ConflictError) -> None:
    """A ConflictError (closed day, refunded payment, plan not approved) shown on the form."""
    form.form_errors.append(exc.message)


@bp.route("/plans/<id:plan_id>/pay", methods=["GET", "POST"])
def record(plan_id: int):
    """Receive money for a plan: the GET prefills method, instalment and amount (from a PIX charge)."""
    plan = plans.get_plan(plan_id)
    form = PaymentForm()
    if request.method == "GET":
        installment = id_arg("installment")
        form.method.data = PaymentMethod.lookup(request.args.get("method")) or PaymentMethod.CASH
        form.installment.data = str(installment) if installment else ""
        try:
            due = payments.amount_due(plan.id, installment)
        except ValidationError:
            due = None
        form.amount.data = format_money_input(due) if due and due > 0 else ""
        context = _plan_context(plan, {"payment": form}, message=None, error=None)
        return render_template("payments/plan_page.html", **context)
    if not form.validate_on_submit():
        return _answer(plan.id, {"payment": form}, error="form")
    try:
        installment = _number(form.installment.data)
        if (form.amount.data or "").strip() or installment is None:
            amount = parse_money(form.amount.data, "amount", positive=True)
        else:
            amount = payments.amount_due(plan.id, installment)
        payment = payments.record_payment(plan.id, amount, form.method.data)
    except ValidationError as exc:
        apply_service_errors(form, _renamed(exc.errors))
        return _answer(plan.id, {"payment": form}, error="form")
    except ConflictError as exc:
        _conflict(form, exc)
        return _answer(plan.id, {"payment": form}, error="conflict")
    return _answer(
        plan.id,
        message=_("Pagamento de %(amount)s registrado.", amount=format_money(payment.amount_cents)),
        new_receipt=payments.receipt_of_payment(payment.id).number,
    )


def _number(text: str | None) -> int | None:
    """A small positive number typed or chosen in a form (None when empty or anything else)."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 3):  # "٣" is a digit to Python, not to a clinic
        return None
    return int(text) or None


def _renamed(errors: dict[str, str]) -> dict[str, str]:
    """Service field names onto the form's (`amount_cents` is typed in `amount`)."""
    return {("amount" if name == "amount_cents" else name): message for name, message in errors.items()}


@bp.post("/plans/<id:plan_id>/adjust")
def adjust(plan_id: int):
    """A discount, write-off or extra charge on a plan, with its reason."""
    plan = plans.get_plan(plan_id)
    form = AdjustmentForm()
    if not form.validate_on_submit():
        return _answer(plan.id, {"adjustment": form}, error="form")
    try:
        amount = parse_money(form.amount.data, "amount", positive=True)
        payments.adjust_balance(plan.id, form.kind.data, amount, form.reason.data)
    except ValidationError as exc:
        apply_service_errors(form, _renamed(exc.errors))
        return _answer(plan.id, {"adjustment": form}, error="form")
    except ConflictError as exc:
        _conflict(form, exc)
        return _answer(plan.id, {"adjustment": form}, error="conflict")
    return _answer(plan.id, message=_("Ajuste de %(amount)s registrado.", amount=format_money(amount)))


@bp.post("/<id:payment_id>/refund")
def refund(payment_id: int):
    """Give one payment back, once, with a reason."""
    payment = payments.get_payment(payment_id)
    form = RefundForm()
    key = ("refund", payment.id)
    if not form.validate_on_submit():
        return _answer(payment.plan_id, {key: form}, error="form")
    try:
        payments.refund_with_reason(payment.id, form.reason.data)
    except ValidationError as exc:
        apply_service_errors(form, exc.errors)
        return _answer(payment.plan_id, {key: form}, error="form")
    except ConflictError as exc:
        _conflict(form, exc)
        return _answer(payment.plan_id, {key: form}, error="conflict")
    return _answer(
        payment.plan_id,
        message=_("Estorno de %(amount)s registrado.", amount=format_money(payment.amount_cents)),
    )


@bp.post("/plans/<id:plan_id>/installments")
def installments(plan_id: int):
    """Split an approved plan into N monthly instalments from a first due date."""
    plan = plans.get_plan(plan_id)
    form = InstallmentsForm()
    if not form.validate_on_submit():
        return _answer(plan.id, {"installments": form}, error="form")
    count = _number(form.count.data)
    try:
        plans.set_installments(plan.id, count, query_date(form.first_due_date.data))
    except ValidationError as exc:
        apply_service_errors(form, exc.errors)
        return _answer(plan.id, {"installments": form}, error="form")
    except ConflictError as exc:
        _conflict(form, exc)
        return _answer(plan.id, {"installments": form}, error="conflict")
    return _answer(plan.id, message=_("Plano parcelado em %(count)sx.", count=count))


@bp.get("/receipts/<id:receipt_number>")
def receipt(receipt_number: int):
    """The printable receipt, exactly as issued; opening it (to print or reprint) is audited."""
    if request.method == "HEAD":
        payments.get_receipt(receipt_number)
        return ""
    view = payments.print_receipt(receipt_number)
    return render_template("payments/receipt.html", view=view, words=amount_in_words(view.payment.amount_cents))


@bp.get("/plans/<id:plan_id>/pix")
def pix_charge(plan_id: int):
    """The "Cobrar via PIX" page: the static BR Code of the plan's balance or one instalment, QR and copia e cola."""
    plan = plans.get_plan(plan_id)
    patient = patients.get_patient(plan.patient_id)
    installment = id_arg("installment")
    charge, problem = None, None
    try:
        amount = payments.amount_due(plan.id, installment)
        what = _("Parcela %(n)s do plano nº %(id)s", n=installment, id=plan.id) if installment else None
        description = what or _("Saldo do plano nº %(id)s", id=plan.id)
        txid = f"SORRISOP{plan.id}N{installment}" if installment else f"SORRISOP{plan.id}"
        charge = pix.charge(settings.current(), amount, txid, description)
    except ValidationError as exc:
        problem = " ".join(exc.errors.values())
    except ConflictError as exc:
        problem = exc.message
    return render_template(
        "payments/pix.html",
        plan=plan,
        patient=patient,
        charge=charge,
        problem=problem,
        installment=installment,
        settings_link=can("admin.settings"),
    )
