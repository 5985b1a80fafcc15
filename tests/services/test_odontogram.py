"""The odontogram's history and the chart's way into plans: chart_on (the chart at the end of a clinic day),
tooth_history, the dentition by age, and add_item_to_proposed_plan (one unit of work, plan reused)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.db import PACIENTES
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.pacientes import ToothFinding, TreatmentItem, TreatmentPlan
from app.services import odontogram, plans, procedures
from app.services.dental import dentition_for, surface_letter, surface_name
from app.services.errors import ConflictError, NotFound, RelatedEntityNotFound, ValidationError
from app.vocabulary import PlanStatus
from tests.factories import make_patient, make_user
from tests.factories_finance import make_procedure, user_id_for
from tests.support import count_queries, once_on_sqlite


@pytest.fixture
def patient(app):
    """An active patient."""
    return make_patient()


@pytest.fixture
def dentist(app):
    """An active dentist."""
    return make_user("dentist")


def finding_at(patient_id: int, tooth: int, finding: str, recorded_at: datetime, dentist_id: int) -> ToothFinding:
    """A finding with an explicit recording time (inserted directly)."""
    with unit_of_work(PACIENTES):
        row = ToothFinding(
            patient_id=patient_id, tooth=tooth, finding=finding, recorded_at=recorded_at, recorded_by_user_id=dentist_id
        )
        db.session.add(row)
    return row


def count(model) -> int:
    """How many rows a table holds."""
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


# --- chart_on ---------------------------------------------------------------------------------------------------

# 2026-03-10 in São Paulo (UTC-3) runs from 03:00 UTC on the 10th to 03:00 UTC on the 11th.
DAY = date(2026, 3, 10)
END_OF_DAY = datetime(2026, 3, 11, 3, 0, tzinfo=UTC)


def test_chart_on_is_the_latest_finding_per_tooth_until_the_end_of_that_clinic_day(patient, dentist):
    """Findings up to 23:59 local time count; 00:00 local of the next day (03:00 UTC) does not."""
    finding_at(patient.id, 16, "caries", END_OF_DAY - timedelta(days=20), dentist.id)
    finding_at(patient.id, 16, "restoration", END_OF_DAY - timedelta(minutes=1), dentist.id)  # 23:59 local
    finding_at(patient.id, 21, "sealant", END_OF_DAY - timedelta(hours=5), dentist.id)
    finding_at(patient.id, 21, "missing", END_OF_DAY, dentist.id)  # midnight: the next day
    finding_at(patient.id, 36, "caries", END_OF_DAY + timedelta(days=2), dentist.id)
    finding_at(make_patient().id, 11, "crown", END_OF_DAY - timedelta(days=1), dentist.id)  # another patient
    chart = odontogram.chart_on(patient.id, DAY)
    assert {tooth: row.finding for tooth, row in chart.items()} == {16: "restoration", 21: "sealant"}
    earlier = odontogram.chart_on(patient.id, DAY - timedelta(days=10))
    assert {tooth: row.finding for tooth, row in earlier.items()} == {16: "caries"}
    assert odontogram.chart_on(patient.id, DAY - timedelta(days=30)) == {}
    later = odontogram.chart_on(patient.id, DAY + timedelta(days=5))
    assert {tooth: row.finding for tooth, row in later.items()} == {16: "restoration", 21: "missing", 36: "caries"}
    assert later.keys() == odontogram.current_chart(patient.id).keys()


def test_chart_on_ties_are_broken_by_id_and_it_is_one_query(patient, dentist):
    """Two findings at the same instant: the later row wins; 5 or 30 teeth cost one SELECT."""
    moment = END_OF_DAY - timedelta(hours=2)
    finding_at(patient.id, 46, "caries", moment, dentist.id)
    finding_at(patient.id, 46, "root_canal", moment, dentist.id)
    assert odontogram.chart_on(patient.id, DAY)[46].finding == "root_canal"
    for tooth in odontogram.PERMANENT_TEETH[:30]:
        finding_at(patient.id, tooth, "sealant", moment - timedelta(days=1), dentist.id)
    db.session.rollback()
    with count_queries(selects_only=True) as selects:
        chart = odontogram.chart_on(patient.id, DAY)
    assert len(selects) == 1 and len(chart) == 30


@once_on_sqlite
def test_end_of_clinic_day_follows_the_clinic_time_zone(app):
    """Local midnight of the next day, in UTC."""
    assert odontogram.end_of_clinic_day(DAY) == END_OF_DAY


# --- tooth history and notation ---------------------------------------------------------------------------------


def test_tooth_history_is_newest_first_and_refuses_numbers_that_are_no_teeth(patient, dentist):
    """Every finding of one tooth; tooth 19 (or 0, 99) is NotFound, as a URL that names no tooth."""
    base = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    finding_at(patient.id, 36, "caries", base, dentist.id)
    finding_at(patient.id, 36, "restoration", base + timedelta(days=3), dentist.id)
    finding_at(patient.id, 37, "sealant", base, dentist.id)
    assert [row.finding for row in odontogram.tooth_history(patient.id, 36)] == ["restoration", "caries"]
    for tooth in (19, 0, 99, 50):
        with pytest.raises(NotFound):
            odontogram.tooth_history(patient.id, tooth)


@once_on_sqlite
@pytest.mark.parametrize(
    "born, expected",
    [(None, "permanent"), (date(2020, 6, 2), "deciduous"), (date(2020, 6, 1), "mixed"), (date(2014, 6, 2), "mixed")]
    + [(date(2014, 6, 1), "permanent"), (date(1970, 1, 1), "permanent"), (date(2030, 1, 1), "permanent")],
)
def test_dentition_by_age(born, expected):
    """Under 6 deciduous, 6 to 11 mixed, 12 and over (or unknown) permanent, on 2026-06-01."""
    assert dentition_for(born, date(2026, 6, 1)) == expected


@once_on_sqlite
@pytest.mark.parametrize(
    "tooth, letter, name, shown",
    [(36, "O", "oclusal", "O"), (11, "O", "incisal", "I"), (13, "L", "palatina", "P"), (43, "L", "lingual", "L")]
    + [(53, "O", "incisal", "I"), (64, "L", "palatina", "P"), (75, "V", "vestibular", "V")],
)
def test_surface_names_depend_on_the_tooth(tooth, letter, name, shown):
    """O is incisal on front teeth, L is palatal on upper teeth."""
    assert (surface_name(tooth, letter), surface_letter(tooth, letter)) == (name, shown)


# --- add_item_to_proposed_plan ----------------------------------------------------------------------------------


def test_first_item_opens_a_proposed_plan_the_next_reuses_it(patient, dentist):
    """One plan for this dentist, items with the catalogue's frozen name and price."""
    restoration = make_procedure("Restauração", 15_000)
    item = plans.add_item_to_proposed_plan(patient.id, dentist.id, restoration.id, 36, "o")
    again = plans.add_item_to_proposed_plan(patient.id, dentist.id, restoration.id, "46", None)
    assert item.plan_id == again.plan_id
    plan = db.session.get(TreatmentPlan, item.plan_id)
    assert (plan.patient_id, plan.dentist_user_id, plan.status) == (patient.id, dentist.id, PlanStatus.PROPOSED)
    procedures.update_procedure(restoration.id, restoration.code, "Restauração", 99_000)
    rows = db.session.scalars(select(TreatmentItem).where(TreatmentItem.plan_id == plan.id).order_by(TreatmentItem.id))
    assert [(r.name, r.price_cents, r.tooth, r.surfaces) for r in rows] == [
        ("Restauração", 15_000, 36, "O"),
        ("Restauração", 15_000, 46, None),
    ]


def test_approved_plans_and_other_dentists_plans_are_not_reused(patient, dentist):
    """Only a proposed plan of the same dentist takes the item; the newest when there are several."""
    procedure = make_procedure()
    first = plans.add_item_to_proposed_plan(patient.id, dentist.id, procedure.id, 36).plan_id
    plans.approve_plan(first)
    second = plans.add_item_to_proposed_plan(patient.id, dentist.id, procedure.id, 36).plan_id
    assert second != first
    other = make_user("dentist")
    theirs = plans.add_item_to_proposed_plan(patient.id, other.id, procedure.id, 36).plan_id
    assert theirs not in (first, second)
    newest = plans.create_plan(patient.id, dentist.id, "Segunda opção").id
    assert plans.add_item_to_proposed_plan(patient.id, dentist.id, procedure.id, 11).plan_id == newest


@pytest.mark.parametrize(
    "tooth, surfaces, error",
    [(19, None, ValidationError), (36, "X", ValidationError), ("", "O", ValidationError)],
)
def test_a_refused_item_leaves_no_empty_plan(patient, dentist, tooth, surfaces, error):
    """The plan is created in the same unit of work as its first item: a refusal rolls both back."""
    procedure = make_procedure()
    with pytest.raises(error):
        plans.add_item_to_proposed_plan(patient.id, dentist.id, procedure.id, tooth, surfaces)
    assert count(TreatmentPlan) == 0 and count(TreatmentItem) == 0


def test_inactive_procedure_or_bad_dentist_is_refused_without_a_plan(patient, dentist):
    """A deactivated procedure, a missing one, or a user who is no active dentist: nothing is written."""
    procedure = make_procedure()
    procedures.deactivate_procedure(procedure.id)
    with pytest.raises(RelatedEntityNotFound):
        plans.add_item_to_proposed_plan(patient.id, dentist.id, procedure.id, 36)
    with pytest.raises(RelatedEntityNotFound):
        plans.add_item_to_proposed_plan(patient.id, dentist.id, 987_654, 36)
    for case in ("missing", "inactive", "wrong_role"):
        with pytest.raises(RelatedEntityNotFound):
            plans.add_item_to_proposed_plan(patient.id, user_id_for(case), make_procedure().id, 36)
    assert count(TreatmentPlan) == 0


def test_a_deactivated_patient_gets_no_plan(patient, dentist):
    """The record is read-only."""
    from app.services import patients

    patients.deactivate_patient(patient.id, "Mudou de cidade")
    with pytest.raises(ConflictError):
        plans.add_item_to_proposed_plan(patient.id, dentist.id, make_procedure().id, 36)
    assert count(TreatmentPlan) == 0


def test_planned_teeth_are_those_with_open_items_in_proposed_or_approved_plans(patient, dentist):
    """Done items, completed or other patients' plans and items without a tooth do not count; one query."""
    procedure = make_procedure()
    plans.add_item_to_proposed_plan(patient.id, dentist.id, procedure.id, 36, "O")
    approved = plans.add_item_to_proposed_plan(patient.id, dentist.id, procedure.id, 11)
    done = plans.add_item_to_proposed_plan(patient.id, dentist.id, procedure.id, 21)
    plans.add_item(approved.plan_id, procedure.id)  # no tooth
    plans.approve_plan(approved.plan_id)
    plans.mark_item_done(done.id)
    plans.add_item_to_proposed_plan(make_patient().id, dentist.id, procedure.id, 46)
    db.session.rollback()
    with count_queries(selects_only=True) as selects:
        assert odontogram.planned_teeth(patient.id) == {36, 11}
    assert len(selects) == 1
    assert [(i.tooth, i.plan.status) for i in odontogram.planned_for_tooth(patient.id, 11)] == [(11, "approved")]
    assert odontogram.planned_for_tooth(patient.id, 21) == []
