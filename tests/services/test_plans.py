"""Procedure catalogue and treatment plans: frozen items, FDI teeth, status flow, balance and instalments."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.db.actor import acting_as
from app.extensions import db
from app.models.history import AuditEvent, TimelineEvent
from app.models.pacientes import Installment, Procedure, TreatmentItem, TreatmentPlan
from app.services import patients, payments, plans, procedures
from app.services.clock import clinic_day
from app.services.errors import ConflictError, NotFound, RelatedEntityNotFound, ValidationError
from app.vocabulary import PlanStatus
from tests.factories import make_patient, make_user
from tests.factories_finance import (
    MISSING_ID,
    approved_plan,
    make_dentist,
    make_plan,
    make_procedure,
    user_id_for,
)
from tests.support import once_on_sqlite


@pytest.fixture
def staff(app):
    """An active receptionist, acting for the test's duration (payments need a receiving user)."""
    user = make_user("receptionist")
    with acting_as(user.id):
        yield user


def fresh(model, row_id):
    """A row as stored (the session keeps objects after commit, so expire them first)."""
    db.session.expire_all()
    return db.session.get(model, row_id)


def count(model) -> int:
    """How many rows a table holds."""
    return db.session.scalar(select(func.count()).select_from(model))


def audit_actions(table: str) -> list[str]:
    """The audit actions recorded for a table, in order."""
    return list(
        db.session.scalars(select(AuditEvent.action).where(AuditEvent.table_name == table).order_by(AuditEvent.id))
    )


def last_timeline(patient_id: int) -> str:
    """The patient's latest timeline line."""
    return db.session.scalars(
        select(TimelineEvent.summary).where(TimelineEvent.patient_id == patient_id).order_by(TimelineEvent.id.desc())
    ).first()


def broken(*_args, **_kwargs):
    """Stand-in for a step that fails half-way through a service."""
    raise RuntimeError("disk full")


# --- procedure catalogue ---------------------------------------------------------------------------------------


def test_create_procedure_normalises_and_audits(app):
    """A procedure is stored with an upper-case code and a tidy name, and its creation is audited."""
    procedure = procedures.create_procedure("  rest 01 ", "Restauração   em resina", 15_000)
    stored = fresh(Procedure, procedure.id)
    assert (stored.code, stored.name, stored.default_price_cents, stored.is_active) == (
        "REST01",
        "Restauração em resina",
        15_000,
        True,
    )
    assert audit_actions("procedure") == ["create"]


@once_on_sqlite
@pytest.mark.parametrize(
    "code, name, price, field",
    [
        ("", "Limpeza", 100, "code"),
        ("X" * 21, "Limpeza", 100, "code"),
        ("L1", "L", 100, "name"),
        ("L1", "Limpeza", -1, "default_price_cents"),
        ("L1", "Limpeza", 10.5, "default_price_cents"),
        ("L1", "Limpeza", "100", "default_price_cents"),
        ("L1", "Limpeza", True, "default_price_cents"),
        ("L1", "Limpeza", None, "default_price_cents"),
    ],
)
def test_create_procedure_validates_fields(app, code, name, price, field):
    """Empty or long codes, short names and prices that are not non-negative integer cents are refused."""
    with pytest.raises(ValidationError) as info:
        procedures.create_procedure(code, name, price)
    assert field in info.value.errors
    assert count(Procedure) == 0


def test_free_procedure_is_allowed(app):
    """A price of zero (a free check-up) is valid."""
    assert procedures.create_procedure("AVAL", "Avaliação", 0).default_price_cents == 0


def test_duplicate_procedure_code_is_refused(app):
    """Codes are unique, whatever the case or spacing they were typed with."""
    procedures.create_procedure("LIMP", "Limpeza", 10_000)
    with pytest.raises(ValidationError) as info:
        procedures.create_procedure(" limp ", "Profilaxia", 12_000)
    assert "code" in info.value.errors
    assert count(Procedure) == 1


def test_update_procedure_changes_catalogue_but_not_frozen_items(app):
    """Renaming or repricing a procedure leaves items already added to plans as they were."""
    procedure = make_procedure(name="Restauração", price_cents=15_000)
    plan = make_plan(prices=())
    item = plans.add_item(plan.id, procedure.id)
    procedures.update_procedure(procedure.id, procedure.code, "Restauração classe II", 18_000)
    assert fresh(Procedure, procedure.id).name == "Restauração classe II"
    stored = fresh(TreatmentItem, item.id)
    assert (stored.name, stored.price_cents) == ("Restauração", 15_000)


def test_update_procedure_refuses_another_procedures_code(app):
    """Changing a code to one already used by another procedure is refused; keeping one's own code is fine."""
    first, second = make_procedure(code="A1"), make_procedure(code="B1")
    with pytest.raises(ValidationError):
        procedures.update_procedure(second.id, "a1", second.name, 100)
    assert procedures.update_procedure(first.id, "A1", "Novo nome", 100).name == "Novo nome"


def test_update_unknown_procedure_is_not_found(app):
    """Updating a procedure that does not exist raises NotFound."""
    with pytest.raises(NotFound):
        procedures.update_procedure(MISSING_ID, "X1", "Nome", 100)


def test_deactivate_and_activate_procedure(app):
    """A procedure is deactivated and reactivated (audited as such); repeating either is a conflict."""
    procedure = make_procedure()
    procedures.deactivate_procedure(procedure.id)
    assert fresh(Procedure, procedure.id).is_active is False
    with pytest.raises(ConflictError):
        procedures.deactivate_procedure(procedure.id)
    procedures.activate_procedure(procedure.id)
    with pytest.raises(ConflictError):
        procedures.activate_procedure(procedure.id)
    assert audit_actions("procedure") == ["create", "deactivate", "activate"]


def test_list_procedures_active_only_or_all_by_name(app):
    """The catalogue lists active procedures by name, or all of them when asked."""
    crown = make_procedure(name="Coroa")
    cleaning = make_procedure(name="Limpeza")
    bleaching = make_procedure(name="Clareamento")
    procedures.deactivate_procedure(crown.id)
    assert [p.id for p in procedures.list_procedures()] == [bleaching.id, cleaning.id]
    assert [p.id for p in procedures.list_procedures(include_inactive=True)] == [bleaching.id, crown.id, cleaning.id]


# --- creating plans and items ----------------------------------------------------------------------------------


def test_create_plan_is_proposed_with_timeline_and_audit(app):
    """A new plan is PROPOSED for the patient and dentist, with a timeline line naming the dentist."""
    patient, dentist = make_patient(), make_dentist(full_name="Ana Souza")
    plan = plans.create_plan(patient.id, dentist.id, "  Reabilitação  superior ")
    stored = fresh(TreatmentPlan, plan.id)
    assert (stored.patient_id, stored.dentist_user_id, stored.status, stored.title) == (
        patient.id,
        dentist.id,
        PlanStatus.PROPOSED,
        "Reabilitação superior",
    )
    assert last_timeline(patient.id) == "Plano de tratamento “Reabilitação superior” proposto por Dr(a). Ana Souza."
    assert audit_actions("treatment_plan") == ["create"]


@pytest.mark.parametrize("case", ["missing", "inactive", "wrong_role"])
def test_create_plan_refuses_dentist_that_is_not_an_active_dentist(app, case):
    """The plan's dentist id (users bind) must be an active dentist."""
    patient = make_patient()
    with pytest.raises(RelatedEntityNotFound) as info:
        plans.create_plan(patient.id, user_id_for(case))
    assert info.value.bind == "users"
    assert count(TreatmentPlan) == 0


@pytest.mark.parametrize("case", ["missing", "inactive"])
def test_create_plan_refuses_missing_or_inactive_patient(app, case):
    """Plans are only for existing, active patients."""
    patient_id = MISSING_ID
    if case == "inactive":
        patient_id = make_patient().id
        patients.deactivate_patient(patient_id, "Faleceu")
    with pytest.raises(RelatedEntityNotFound):
        plans.create_plan(patient_id, make_dentist().id)
    assert count(TreatmentPlan) == 0


def test_add_item_freezes_name_and_price_and_accepts_a_price_override(app):
    """An item copies the procedure's name and price, or takes the price given for this patient."""
    procedure = make_procedure(name="Canal molar", price_cents=90_000)
    plan = make_plan(prices=())
    default = plans.add_item(plan.id, procedure.id, tooth=36, surfaces="o")
    discounted = plans.add_item(plan.id, procedure.id, tooth=46, price_cents=80_000)
    assert (default.name, default.price_cents, default.tooth, default.surfaces) == ("Canal molar", 90_000, 36, "O")
    assert discounted.price_cents == 80_000
    assert last_timeline(plan.patient_id) == f"Plano #{plan.id}: incluído Canal molar (dente 46), R$ 800,00."
    assert audit_actions("treatment_item") == ["create", "create"]


@pytest.mark.parametrize("tooth", [11, 18, 21, 28, 31, 38, 41, 48, 51, 55, 61, 65, 71, 75, 81, 85, "16", None, ""])
def test_valid_fdi_teeth_are_accepted(tooth):
    """Permanent 11–18 … 41–48 and deciduous 51–55 … 81–85 are valid FDI teeth (or no tooth at all)."""
    expected = None if tooth in (None, "") else int(tooth)
    assert plans.check_tooth(tooth) == expected


@pytest.mark.parametrize(
    "tooth", [0, 9, 10, 19, 20, 29, 39, 49, 50, 56, 66, 76, 86, 91, 100, -11, "1 6", "abc", 16.0, True]
)
def test_invalid_teeth_are_refused(tooth):
    """Numbers outside FDI notation, non-integers and booleans are refused."""
    with pytest.raises(ValidationError) as info:
        plans.check_tooth(tooth)
    assert "tooth" in info.value.errors


@pytest.mark.parametrize(
    "given, expected", [("mod", "MOD"), ("dom", "MOD"), ("L V O D M", "MODVL"), ("oo", "O"), ("", None), (None, None)]
)
def test_surfaces_are_normalised_to_canonical_order(given, expected):
    """Surfaces are upper-cased, deduplicated and put in M-O-D-V-L order."""
    assert plans.check_surfaces(given, 16) == expected


@pytest.mark.parametrize("given, tooth", [("X", 16), ("MOB", 16), ("I", 11), ("M", None)])
def test_bad_surfaces_are_refused(given, tooth):
    """Letters outside MODVL, or surfaces without a tooth, are refused."""
    with pytest.raises(ValidationError) as info:
        plans.check_surfaces(given, tooth)
    assert "surfaces" in info.value.errors


def test_add_item_with_invalid_tooth_writes_nothing(app):
    """A bad tooth is refused before anything is stored."""
    plan = make_plan(prices=())
    with pytest.raises(ValidationError):
        plans.add_item(plan.id, make_procedure().id, tooth=19)
    assert count(TreatmentItem) == 0


@pytest.mark.parametrize("case", ["missing", "inactive"])
def test_add_item_refuses_missing_or_inactive_procedure(app, case):
    """Only active catalogue procedures can be added to a plan."""
    plan = make_plan(prices=())
    procedure_id = MISSING_ID
    if case == "inactive":
        procedure_id = make_procedure().id
        procedures.deactivate_procedure(procedure_id)
    with pytest.raises(RelatedEntityNotFound) as info:
        plans.add_item(plan.id, procedure_id)
    assert info.value.entity == "Procedimento"
    assert count(TreatmentItem) == 0


def test_add_item_to_unknown_plan_is_not_found(app):
    """Adding to a plan that does not exist raises NotFound."""
    with pytest.raises(NotFound):
        plans.add_item(MISSING_ID, make_procedure().id)


def test_update_and_remove_items_of_a_proposed_plan(app):
    """While PROPOSED, an item's tooth, surfaces and price can change and items can be removed (audited)."""
    plan = make_plan(prices=(10_000, 20_000))
    first, second = fresh(TreatmentPlan, plan.id).items
    plans.update_item(first.id, tooth="21", surfaces="vl", price_cents=9_000)
    plans.remove_item(second.id)
    stored = fresh(TreatmentPlan, plan.id)
    assert [(i.tooth, i.surfaces, i.price_cents) for i in stored.items] == [(21, "VL", 9_000)]
    assert audit_actions("treatment_item") == ["create", "create", "update", "delete"]


@pytest.mark.parametrize(
    "change",
    [
        lambda plan, item: plans.add_item(plan.id, make_procedure().id),
        lambda plan, item: plans.update_item(item.id, 11, None, 1),
        lambda plan, item: plans.remove_item(item.id),
    ],
)
def test_items_of_an_approved_plan_cannot_change(app, change):
    """After approval the items are fixed: adding, editing or removing one is a conflict."""
    plan = approved_plan(50_000)
    item = fresh(TreatmentPlan, plan.id).items[0]
    with pytest.raises(ConflictError, match="aprovado"):
        change(plan, item)
    stored = fresh(TreatmentPlan, plan.id)
    assert [(i.id, i.tooth, i.price_cents) for i in stored.items] == [(item.id, None, 50_000)]


# --- status flow -----------------------------------------------------------------------------------------------


def test_approve_plan_sets_status_time_and_timeline(app):
    """Approval moves PROPOSED → APPROVED, stamps approved_at and tells the timeline the total."""
    plan = make_plan(prices=(15_000, 30_000))
    plans.approve_plan(plan.id)
    stored = fresh(TreatmentPlan, plan.id)
    assert stored.status == PlanStatus.APPROVED and stored.approved_at is not None
    assert last_timeline(plan.patient_id) == f"Plano de tratamento #{plan.id} aprovado: R$ 450,00."


def test_empty_plan_cannot_be_approved(app):
    """A plan without items is not approved."""
    plan = make_plan(prices=())
    with pytest.raises(ConflictError, match="pelo menos um"):
        plans.approve_plan(plan.id)
    assert fresh(TreatmentPlan, plan.id).status == PlanStatus.PROPOSED


def test_approving_twice_is_a_conflict(app):
    """An approved plan cannot be approved again."""
    plan = approved_plan()
    with pytest.raises(ConflictError):
        plans.approve_plan(plan.id)


def test_items_are_done_only_on_approved_plans_and_once(app):
    """Items are performed after approval, once each."""
    proposed = make_plan(prices=(10_000,))
    with pytest.raises(ConflictError, match="aprovado"):
        plans.mark_item_done(fresh(TreatmentPlan, proposed.id).items[0].id)
    plan = approved_plan(10_000)
    item_id = fresh(TreatmentPlan, plan.id).items[0].id
    plans.mark_item_done(item_id)
    stored = fresh(TreatmentItem, item_id)
    assert stored.done is True and stored.done_at is not None
    with pytest.raises(ConflictError, match="já foi realizado"):
        plans.mark_item_done(item_id)


def test_complete_plan_needs_every_item_done(app):
    """A plan completes only when all items were performed; the message lists what is missing."""
    plan = make_plan(prices=(10_000, 20_000), approve=True)
    first, _second = fresh(TreatmentPlan, plan.id).items
    plans.mark_item_done(first.id)
    with pytest.raises(ConflictError, match="Faltam 1 procedimento"):
        plans.complete_plan(plan.id)
    plans.mark_item_done(_second.id)
    plans.complete_plan(plan.id)
    stored = fresh(TreatmentPlan, plan.id)
    assert stored.status == PlanStatus.COMPLETED and stored.completed_at is not None


def test_proposed_plan_cannot_be_completed(app):
    """Completion comes after approval."""
    plan = make_plan()
    with pytest.raises(ConflictError):
        plans.complete_plan(plan.id)


def test_approval_is_atomic(app, monkeypatch):
    """If approval fails half-way (here: the timeline), the plan stays PROPOSED."""
    plan = make_plan()
    monkeypatch.setattr(plans, "add_timeline", broken)
    with pytest.raises(RuntimeError):
        plans.approve_plan(plan.id)
    assert fresh(TreatmentPlan, plan.id).status == PlanStatus.PROPOSED


# --- balance ---------------------------------------------------------------------------------------------------


def test_proposed_plan_owes_nothing_yet(app):
    """Until approval, the approved total and the balance are zero, though the items have a total."""
    plan = make_plan(prices=(10_000, 5_000))
    balance = plans.plan_balance(plan.id)
    assert (balance.items_total_cents, balance.approved_total_cents, balance.balance_cents) == (15_000, 0, 0)


def test_balance_is_approved_total_minus_every_payment_row(app, staff):
    """Payments, refunds and adjustments all count: balance = approved total − their sum."""
    plan = approved_plan(100_000)
    paid = payments.record_payment(plan.id, 30_000, "pix")
    payments.record_payment(plan.id, 20_000, "cash")
    payments.refund_payment(paid.id)
    payments.record_adjustment(plan.id, 5_000, "Desconto à vista")
    balance = plans.plan_balance(plan.id)
    assert (balance.approved_total_cents, balance.paid_cents, balance.adjustments_cents) == (100_000, 20_000, 5_000)
    assert balance.balance_cents == 75_000


def test_plan_balances_for_several_plans_match_single_balances(app, staff):
    """The bulk helper gives the same numbers as plan_balance, plan by plan."""
    first, second, proposed = approved_plan(10_000), approved_plan(7_000, 3_000), make_plan()
    payments.record_payment(second.id, 2_500, "debit")
    bulk = plans.plan_balances([first.id, second.id, proposed.id])
    assert bulk == {p.id: plans.plan_balance(p.id) for p in (first, second, proposed)}
    assert bulk[second.id].balance_cents == 7_500


def test_balance_of_unknown_plan_is_not_found(app):
    """Asking the balance of a missing plan raises NotFound."""
    with pytest.raises(NotFound):
        plans.plan_balance(MISSING_ID)


# --- instalments -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("total, parts", [(100_000, 3), (10, 3), (99_999, 12), (5, 5), (1_234_567, 7)])
def test_split_cents_adds_up_exactly(total, parts):
    """Instalments are integer cents that differ by at most one cent and sum to the total."""
    amounts = plans.split_cents(total, parts)
    assert len(amounts) == parts and sum(amounts) == total
    assert max(amounts) - min(amounts) <= 1 and amounts == sorted(amounts, reverse=True)


@pytest.mark.parametrize(
    "start, months, expected",
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2027, 1, 31), 2, date(2027, 3, 31)),
        (date(2027, 11, 15), 3, date(2028, 2, 15)),
        (date(2027, 5, 10), 0, date(2027, 5, 10)),
    ],
)
def test_add_months_clamps_to_month_end(start, months, expected):
    """Monthly due dates keep the day of the month, clamped to shorter months."""
    assert plans.add_months(start, months) == expected


def test_set_installments_splits_total_monthly(app):
    """An approved plan's total is split into monthly instalments that add up to it exactly."""
    plan = approved_plan(100_000)
    plans.set_installments(plan.id, 3, date(2027, 1, 31))
    rows = db.session.scalars(
        select(Installment).where(Installment.plan_id == plan.id).order_by(Installment.number)
    ).all()
    assert [(r.number, r.due_date, r.amount_cents) for r in rows] == [
        (1, date(2027, 1, 31), 33_334),
        (2, date(2027, 2, 28), 33_333),
        (3, date(2027, 3, 31), 33_333),
    ]
    assert last_timeline(plan.patient_id).startswith(f"Plano #{plan.id} parcelado em 3x (R$ 1.000,00)")


def test_set_installments_replaces_the_previous_schedule(app):
    """Setting instalments again replaces the old ones (each removal audited)."""
    plan = approved_plan(90_000)
    plans.set_installments(plan.id, 3, date(2027, 1, 10))
    plans.set_installments(plan.id, 2, date(2027, 2, 10))
    amounts = db.session.scalars(select(Installment.amount_cents).where(Installment.plan_id == plan.id)).all()
    assert sorted(amounts) == [45_000, 45_000]
    assert audit_actions("installment").count("delete") == 3


@pytest.mark.parametrize("approve, complete", [(False, False), (True, True)])
def test_set_installments_only_on_approved_plans(app, approve, complete):
    """PROPOSED and COMPLETED plans are not split into instalments."""
    plan = make_plan(prices=(10_000,), approve=approve)
    if complete:
        plans.mark_item_done(fresh(TreatmentPlan, plan.id).items[0].id)
        plans.complete_plan(plan.id)
    with pytest.raises(ConflictError):
        plans.set_installments(plan.id, 2, date(2027, 1, 10))
    assert count(Installment) == 0


@once_on_sqlite
@pytest.mark.parametrize(
    "parts, first_due",
    [
        (0, date(2027, 1, 1)),
        (61, date(2027, 1, 1)),
        ("3", date(2027, 1, 1)),
        (True, date(2027, 1, 1)),
        (2.5, date(2027, 1, 1)),
        (3, "2027-01-01"),
        (3, None),
    ],
)
def test_set_installments_validates_count_and_date(app, parts, first_due):
    """The count is an integer 1–60 and the first due date a date."""
    plan = approved_plan()
    with pytest.raises(ValidationError):
        plans.set_installments(plan.id, parts, first_due)
    assert count(Installment) == 0


def test_set_installments_refuses_more_parts_than_cents(app):
    """A total cannot be split into more instalments than it has cents."""
    plan = approved_plan(2)
    with pytest.raises(ValidationError, match="não se divide"):
        plans.set_installments(plan.id, 3, date(2027, 1, 1))


def test_set_installments_is_atomic(app, monkeypatch):
    """If rescheduling fails half-way, the previous instalments are all still there."""
    plan = approved_plan(60_000)
    plans.set_installments(plan.id, 3, date(2027, 1, 10))
    monkeypatch.setattr(plans, "add_timeline", broken)
    with pytest.raises(RuntimeError):
        plans.set_installments(plan.id, 6, date(2027, 2, 10))
    amounts = db.session.scalars(select(Installment.amount_cents).where(Installment.plan_id == plan.id)).all()
    assert amounts == [20_000, 20_000, 20_000]


def test_installment_status_allocates_payments_oldest_first(app, staff):
    """Payments cover the oldest instalment first: paid, then partial, then pending; nothing is stored."""
    plan = approved_plan(90_000)
    plans.set_installments(plan.id, 3, clinic_day() + timedelta(days=1))
    payments.record_payment(plan.id, 40_000, "pix")
    statuses = plans.installment_status(plan.id)
    assert [(s.number, s.paid_cents, s.status) for s in statuses] == [
        (1, 30_000, "paid"),
        (2, 10_000, "partial"),
        (3, 0, "pending"),
    ]
    assert not any(s.overdue for s in statuses)


def test_installment_status_follows_refunds_and_adjustments(app, staff):
    """A refund takes coverage back from the newest instalments; a discount adds coverage."""
    plan = approved_plan(60_000)
    plans.set_installments(plan.id, 2, clinic_day() + timedelta(days=5))
    payment = payments.record_payment(plan.id, 60_000, "credit")
    assert [s.status for s in plans.installment_status(plan.id)] == ["paid", "paid"]
    payments.refund_payment(payment.id, "Cartão recusado")
    payments.record_adjustment(plan.id, 10_000, "Desconto de fidelidade")
    assert [(s.paid_cents, s.status) for s in plans.installment_status(plan.id)] == [
        (10_000, "partial"),
        (0, "pending"),
    ]


def test_unpaid_instalment_past_its_due_date_is_overdue(app, staff):
    """An instalment not fully paid after its due date is flagged overdue; a paid one is not."""
    plan = approved_plan(20_000)
    plans.set_installments(plan.id, 2, clinic_day() - timedelta(days=40))
    payments.record_payment(plan.id, 10_000, "cash")
    assert [(s.status, s.overdue) for s in plans.installment_status(plan.id)] == [("paid", False), ("pending", True)]
