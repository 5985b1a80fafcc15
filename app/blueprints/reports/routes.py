"""Routes of the reports blueprint: the page (`?from=&to=`, this month by default) and each report as CSV."""

import csv
import io

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.blueprints.reports import bp
from app.edge import query_date
from app.services import reports
from app.services.errors import ValidationError


def _period() -> tuple[reports.Period | None, dict[str, str], dict[str, str]]:
    """The period of the query string (this month when neither date is given), its errors, the typed values."""
    typed = {name: request.args.get(name, "").strip()[:20] for name in ("from", "to")}
    if not typed["from"] and not typed["to"]:
        period = reports.this_month()
        return period, {}, {"from": period.first.isoformat(), "to": period.last.isoformat()}
    first, last = query_date(typed["from"]), query_date(typed["to"])
    errors = {
        name: "Data inválida (use o seletor de data)." for name in typed if typed[name] and not query_date(typed[name])
    }
    if errors:
        return None, errors, typed
    try:
        return reports.check_period(first, last), {}, typed
    except ValidationError as exc:
        return None, exc.errors, typed


@bp.get("")
def index():
    """Every report of the chosen period: a table, a bar chart and a CSV link each; period errors in the form."""
    period, errors, typed = _period()
    found = reports.all_reports(period) if period else []
    return render_template("reports/index.html", period=period, errors=errors, typed=typed, reports=found)


def _csv_value(value, kind: str) -> str:
    """A value as Brazilian spreadsheets read it: comma decimals, no thousands separator."""
    if kind == reports.MONEY and isinstance(value, int):
        sign = "-" if value < 0 else ""
        return f"{sign}{abs(value) // 100},{abs(value) % 100:02d}"
    if kind == reports.PERCENT and isinstance(value, float):
        return f"{value:.1f}".replace(".", ",")
    return str(value)


def report_csv(report: reports.Report) -> str:
    """The report as CSV text: `;` separated, a header row, its rows and its totals row."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([column.title for column in report.columns])
    for row in [*report.rows, *([report.totals] if report.totals else [])]:
        writer.writerow([_csv_value(value, column.kind) for value, column in zip(row, report.columns, strict=True)])
    return out.getvalue()


@bp.get("/csv", endpoint="csv")
def csv_download():
    """One report of the period as a CSV file (UTF-8 with BOM, `;`, comma decimals); anything amiss: the page."""
    period, _errors, typed = _period()
    name = request.args.get("report", "")
    if period is None or name not in reports.REPORTS:  # the page shows what is wrong with the period
        if period is not None:
            flash(_("Escolha um dos relatórios da página para baixar."), "warning")
        return redirect(url_for("reports.index", **{key: value for key, value in typed.items() if value}))
    report = reports.build(name, period, full=True)
    filename = f"sorriso-{name}-{period.first.isoformat()}-a-{period.last.isoformat()}.csv"
    return Response(
        "\ufeff" + report_csv(report),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
