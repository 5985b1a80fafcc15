"""Routes of the cash blueprint: a day's cash (`?date=aaaa-mm-dd`, today by default), its closing, its sheet."""

from datetime import date, timedelta

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import HiddenField

from app.blueprints.cash import bp
from app.blueprints.helpers import date_arg
from app.edge import query_date
from app.services import cash, payments
from app.services.clock import clinic_day, format_date
from app.services.errors import ConflictError, ValidationError


class CloseDayForm(FlaskForm):
    """The day whose cash is being closed (aaaa-mm-dd)."""

    date = HiddenField()


def _day() -> date:
    """The day asked for in the query string, today when missing or garbage."""
    return date_arg("date") or clinic_day()


@bp.get("")
def index():
    """A day's payments and refunds by method with totals, every row with who received it; the closing."""
    day = _day()
    form = CloseDayForm(date=day.isoformat())
    return render_template(
        "cash/index.html",
        day=day,
        today=clinic_day(),
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        cash_day=cash.cash_day(day),
        form=form,
    )


@bp.post("/close")
def close():
    """Close a day's cash (today or earlier, once): from then on it takes no payment or refund."""
    form = CloseDayForm()
    day = query_date(form.date.data) if form.validate_on_submit() else None
    if day is None:
        flash(_("Informe o dia do fechamento."), "error")
        return redirect(url_for("cash.index"))
    try:
        payments.close_cash_day(day)
    except ValidationError as exc:
        flash(" ".join(exc.errors.values()), "error")
    except ConflictError as exc:
        flash(exc.message, "warning")
    else:
        flash(_("Caixa de %(day)s fechado.", day=format_date(day)), "success")
    return redirect(url_for("cash.index", date=day.isoformat()))


@bp.get("/print", endpoint="print")
def print_sheet():
    """The printable closing sheet of a day (the clinic's header, totals by method, every row)."""
    day = _day()
    return render_template("cash/print.html", day=day, cash_day=cash.cash_day(day))
