"""The administrator's reports over a period: production, receipts, receivables, missed appointments, new patients.

Each report is a few aggregate queries (GROUP BY, window sums, CASE counts) whatever the number of rows, and comes
back as a `Report`: typed columns and rows (the page formats them for people, the CSV for spreadsheets) and the
bars of its chart. Instants are compared with the clinic's midnights, so a day is the clinic's day.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, case, func, literal, select

from app.extensions import db
from app.models.pacientes import Appointment, Installment, Patient, Payment, TreatmentItem, TreatmentPlan
from app.services.clock import clinic_day, clinic_tz, format_date
from app.services.errors import ValidationError
from app.services.history import user_names
from app.vocabulary import AppointmentStatus, PaymentKind, PaymentMethod, PlanStatus

MAX_PERIOD_DAYS = 731  # two years: twenty-five months of new patients at most
RECEIVABLES_CHART = 10  # the largest open balances drawn as bars
AGING_BUCKETS = ((0, 30), (31, 60), (61, 90), (91, None))
MONTHS = ("jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez")
CHARGED = (PlanStatus.APPROVED, PlanStatus.COMPLETED)

# Column kinds: how the page and the CSV write a value.
TEXT, COUNT, MONEY, PERCENT = "text", "count", "money", "percent"


@dataclass(frozen=True)
class Column:
    """A report column: its title and the kind of its values."""

    title: str
    kind: str = TEXT


@dataclass(frozen=True)
class Report:
    """One report: a table (typed rows, an optional totals row) and the bars of its chart (label, value)."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: list[tuple]
    chart: list[tuple[str, int | float]] = field(default_factory=list)
    chart_kind: str = COUNT
    totals: tuple | None = None
    note: str | None = None


@dataclass(frozen=True)
class Period:
    """The clinic days `first` to `last`, both included."""

    first: date
    last: date

    @property
    def starts(self) -> datetime:
        """The instant the first day begins, in the clinic's time zone."""
        return datetime.combine(self.first, time.min, tzinfo=clinic_tz())

    @property
    def ends(self) -> datetime:
        """The instant after the last day ends."""
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=clinic_tz())

    @property
    def label(self) -> str:
        """dd/mm/aaaa a dd/mm/aaaa."""
        return f"{format_date(self.first)} a {format_date(self.last)}"


def this_month(today: date | None = None) -> Period:
    """The current calendar month, first to last day."""
    today = today or clinic_day()
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(first, following - timedelta(days=1))


def check_period(first, last) -> Period:
    """A period of real dates, `first` not after `last`, at most MAX_PERIOD_DAYS long; ValidationError otherwise."""
    if not isinstance(first, date):
        raise ValidationError({"from": "Informe a data inicial (dd/mm/aaaa)."})
    if not isinstance(last, date):
        raise ValidationError({"to": "Informe a data final (dd/mm/aaaa)."})
    if last < first:
        raise ValidationError({"to": "A data final deve ser igual ou posterior à inicial."})
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise ValidationError({"to": f"O período pode ter no máximo {MAX_PERIOD_DAYS} dias (dois anos)."})
    return Period(first, last)


def production(period: Period) -> Report:
    """Treatment items done in the period, per dentist of their plan: how many and their value."""
    found = db.session.execute(
        select(TreatmentPlan.dentist_user_id, func.count(TreatmentItem.id), func.sum(TreatmentItem.price_cents))
        .join(TreatmentPlan, TreatmentItem.plan_id == TreatmentPlan.id)
        .where(
            TreatmentItem.done.is_(True),
            TreatmentItem.done_at >= period.starts,
            TreatmentItem.done_at < period.ends,
        )
        .group_by(TreatmentPlan.dentist_user_id)
    ).all()
    names = user_names(dentist_id for dentist_id, _count, _value in found)
    rows = sorted(
        ((names.get(dentist_id, f"#{dentist_id}"), count, value) for dentist_id, count, value in found),
        key=lambda row: (-row[2], row[0]),
    )
    return Report(
        "production",
        "Produção por dentista",
        (Column("Dentista"), Column("Itens realizados", COUNT), Column("Valor", MONEY)),
        rows,
        chart=[(name, value) for name, _count, value in rows],
        chart_kind=MONEY,
        totals=("Total", sum(r[1] for r in rows), sum(r[2] for r in rows)),
        note="Itens de planos marcados como realizados no período, pelo preço registrado no plano.",
    )


def receipts(period: Period) -> Report:
    """Money received and refunded in the period (clinic days), per payment method."""
    received = func.sum(case((Payment.kind == PaymentKind.PAYMENT, Payment.amount_cents), else_=0))
    refunded = func.sum(case((Payment.kind == PaymentKind.REFUND, Payment.amount_cents), else_=0))
    found = dict(
        (method, (got, back))
        for method, got, back in db.session.execute(
            select(Payment.method, received, refunded)
            .where(
                Payment.kind.in_((PaymentKind.PAYMENT, PaymentKind.REFUND)),
                Payment.clinic_day >= period.first,
                Payment.clinic_day <= period.last,
            )
            .group_by(Payment.method)
        )
    )
    rows = [
        (str(member.capitalised_label), *found[member.value], sum(found[member.value]))
        for member in PaymentMethod
        if member.value in found
    ]
    return Report(
        "receipts",
        "Recebimentos por forma de pagamento",
        (Column("Forma de pagamento"), Column("Recebido", MONEY), Column("Estornado", MONEY), Column("Líquido", MONEY)),
        rows,
        chart=[(row[0], row[3]) for row in rows],
        chart_kind=MONEY,
        totals=("Total", sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows)),
        note="Pagamentos e estornos lançados no período; ajustes não movimentam o caixa e ficam de fora.",
    )


def _plan_balances():
    """A subquery of every approved or completed plan's balance: items total − every payment row."""
    items = (
        select(TreatmentItem.plan_id, func.sum(TreatmentItem.price_cents).label("total"))
        .group_by(TreatmentItem.plan_id)
        .subquery()
    )
    paid = select(Payment.plan_id, func.sum(Payment.amount_cents).label("paid")).group_by(Payment.plan_id).subquery()
    balance = (items.c.total - func.coalesce(paid.c.paid, 0)).label("balance")
    return (
        select(TreatmentPlan.id.label("plan_id"), TreatmentPlan.patient_id, balance)
        .join(items, items.c.plan_id == TreatmentPlan.id)
        .outerjoin(paid, paid.c.plan_id == TreatmentPlan.id)
        .where(TreatmentPlan.status.in_(CHARGED))
        .subquery()
    )


def receivables(limit: int | None = None) -> Report:
    """Plans with a positive balance today (largest first), with their patient; `limit` rows at most."""
    balances = _plan_balances()
    # The count and sum over every open balance come with each row (window aggregates), so one pass suffices;
    # the patients' names are joined only to the rows kept.
    largest = (
        select(
            balances.c.patient_id,
            balances.c.plan_id,
            balances.c.balance,
            func.count().over().label("plans"),
            func.sum(balances.c.balance).over().label("total"),
        )
        .where(balances.c.balance > 0)
        .order_by(balances.c.balance.desc(), balances.c.plan_id)
    )
    if limit is not None:
        largest = largest.limit(limit)
    largest = largest.subquery()
    found = db.session.execute(
        select(Patient.full_name, largest.c.plan_id, largest.c.balance, largest.c.plans, largest.c.total)
        .join(Patient, Patient.id == largest.c.patient_id)
        .order_by(largest.c.balance.desc(), largest.c.plan_id)
    ).all()
    rows = [(name, f"#{plan_id}", balance) for name, plan_id, balance, _plans, _total in found]
    count, total = (found[0][3], found[0][4]) if found else (0, 0)
    shown = f" (os {len(rows)} maiores)" if limit is not None and count > len(rows) else ""
    return Report(
        "receivables",
        "Saldos a receber",
        (Column("Paciente"), Column("Plano"), Column("Saldo", MONEY)),
        rows,
        chart=[(f"{name} ({plan})", balance) for name, plan, balance in rows[:RECEIVABLES_CHART]],
        chart_kind=MONEY,
        totals=(f"{count} plano(s) com saldo{shown}", "", total),
        note="Posição de hoje: planos aprovados ou concluídos cujo total ainda não foi pago.",
    )


def _bucket_label(low: int, high: int | None) -> str:
    return f"{low}–{high} dias" if high is not None else f"mais de {low - 1} dias"


def overdue(today: date | None = None) -> Report:
    """Overdue instalments today by age (0–30, 31–60, 61–90, 90+ days late): how many and how much is open.

    Payments of a plan cover its instalments oldest first (as app/services/plans.installment_status does): a
    running sum over the plan's instalments says what each one still lacks.
    """
    today = today or clinic_day()
    credit = (
        select(Payment.plan_id, func.sum(Payment.amount_cents).label("credit")).group_by(Payment.plan_id).subquery()
    )
    running = func.sum(Installment.amount_cents).over(
        partition_by=Installment.plan_id, order_by=(Installment.due_date, Installment.number)
    )
    schedule = (
        select(
            Installment.due_date,
            Installment.amount_cents,
            (running - Installment.amount_cents).label("before"),
            func.coalesce(credit.c.credit, 0).label("credit"),
        )
        .outerjoin(credit, credit.c.plan_id == Installment.plan_id)
        .subquery()
    )
    # what the credit left after the earlier instalments covers of this one, between 0 and its amount
    covered = case(
        (schedule.c.credit - schedule.c.before <= 0, 0),
        (schedule.c.credit - schedule.c.before >= schedule.c.amount_cents, schedule.c.amount_cents),
        else_=schedule.c.credit - schedule.c.before,
    )
    buckets = []
    for low, high in AGING_BUCKETS:
        newest = today - timedelta(days=max(low, 1))  # due yesterday at the latest: due today is not late
        condition = schedule.c.due_date <= newest
        if high is not None:
            condition = and_(condition, schedule.c.due_date >= today - timedelta(days=high))
        buckets.append(condition)
    open_cents = schedule.c.amount_cents - covered
    columns = []
    for condition in buckets:
        late = and_(condition, open_cents > 0)
        columns += [func.sum(case((late, 1), else_=0)), func.sum(case((late, open_cents), else_=0))]
    found = db.session.execute(select(literal(1), *columns).select_from(schedule)).one()[1:]
    rows = [
        (_bucket_label(low, high), found[2 * n] or 0, found[2 * n + 1] or 0)
        for n, (low, high) in enumerate(AGING_BUCKETS)
    ]
    return Report(
        "overdue",
        "Parcelas vencidas por atraso",
        (Column("Atraso"), Column("Parcelas", COUNT), Column("Em aberto", MONEY)),
        rows,
        chart=[(label, cents) for label, _count, cents in rows],
        chart_kind=MONEY,
        totals=("Total", sum(r[1] for r in rows), sum(r[2] for r in rows)),
        note="Posição de hoje: parcelas com vencimento passado ainda não cobertas pelos pagamentos do plano.",
    )


def missed_appointments(period: Period) -> Report:
    """Per dentist, appointments of the period attended and missed, and the missed rate over those two."""
    status = Appointment.status
    found = db.session.execute(
        select(
            Appointment.dentist_user_id,
            func.sum(case((status != AppointmentStatus.CANCELLED, 1), else_=0)),
            func.sum(case((status == AppointmentStatus.ATTENDED, 1), else_=0)),
            func.sum(case((status == AppointmentStatus.MISSED, 1), else_=0)),
        )
        .where(Appointment.starts_at >= period.starts, Appointment.starts_at < period.ends)
        .group_by(Appointment.dentist_user_id)
    ).all()
    names = user_names(row[0] for row in found)

    def rate(attended: int, missed: int) -> float:
        return round(100 * missed / (attended + missed), 1) if attended + missed else 0.0

    rows = sorted(
        (
            (names.get(dentist_id, f"#{dentist_id}"), booked, attended, missed, rate(attended, missed))
            for dentist_id, booked, attended, missed in found
        ),
        key=lambda row: row[0],
    )
    attended, missed = sum(r[2] for r in rows), sum(r[3] for r in rows)
    return Report(
        "missed",
        "Faltas por dentista",
        (
            Column("Dentista"),
            Column("Consultas (sem canceladas)", COUNT),
            Column("Atendidas", COUNT),
            Column("Faltas", COUNT),
            Column("Taxa de faltas", PERCENT),
        ),
        rows,
        chart=[(row[0], row[4]) for row in rows],
        chart_kind=PERCENT,
        totals=("Total", sum(r[1] for r in rows), attended, missed, rate(attended, missed)),
        note="Taxa de faltas = faltas ÷ (atendidas + faltas), das consultas marcadas para o período.",
    )


def _months(period: Period) -> list[tuple[date, date]]:
    """(first day, first day of the next month) of each calendar month the period touches."""
    months, first = [], period.first.replace(day=1)
    while first <= period.last:
        following = (first + timedelta(days=32)).replace(day=1)
        months.append((first, following))
        first = following
    return months


def new_patients(period: Period) -> Report:
    """Patients registered in the period, per calendar month (clinic time), in one query."""
    months = _months(period)

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=clinic_tz())

    counts = [
        func.sum(
            case(
                (
                    and_(
                        Patient.created_at >= midnight(max(first, period.first)),
                        Patient.created_at < midnight(min(following, period.last + timedelta(days=1))),
                    ),
                    1,
                ),
                else_=0,
            )
        )
        for first, following in months
    ]
    found = db.session.execute(
        select(literal(1), *counts).where(Patient.created_at >= period.starts, Patient.created_at < period.ends)
    ).one()[1:]
    rows = [(f"{MONTHS[first.month - 1]}/{first.year}", found[n] or 0) for n, (first, _next) in enumerate(months)]
    return Report(
        "new_patients",
        "Pacientes novos por mês",
        (Column("Mês"), Column("Pacientes novos", COUNT)),
        rows,
        chart=list(rows),
        chart_kind=COUNT,
        totals=("Total", sum(r[1] for r in rows)),
        note="Cadastros feitos no período (meses parciais contam só os dias do período).",
    )


REPORTS = ("production", "receipts", "receivables", "overdue", "missed", "new_patients")


def build(name: str, period: Period, full: bool = False) -> Report:
    """One report by name (`full`: every receivable, for the CSV; the page shows the largest)."""
    if name == "production":
        return production(period)
    if name == "receipts":
        return receipts(period)
    if name == "receivables":
        return receivables(None if full else 50)
    if name == "overdue":
        return overdue()
    if name == "missed":
        return missed_appointments(period)
    if name == "new_patients":
        return new_patients(period)
    raise ValidationError({"report": "Relatório desconhecido."})


def all_reports(period: Period) -> list[Report]:
    """Every report of the page, in its order."""
    return [build(name, period) for name in REPORTS]
