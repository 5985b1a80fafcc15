"""Plan approval, performed items and cancellation: who did it, the chart finding a done item leaves, reasons."""

import pytest
from sqlalchemy import select

from app.db.actor import acting_as
from app.extensions import db
from app.models.history import TimelineEvent
from app.models.pacientes import Procedure, ToothFinding, TreatmentItem, TreatmentPlan
from app.services import odontogram, plans, procedures
from app.services.errors import ConflictError, RelatedEntityNotFound, ValidationError
from app.vocabulary import FindingCode, PlanStatus
from tests.factories import make_patient, make_user
from tests.factories_finance import make_dentist, make_plan, make_procedure
from tests.support import fresh


def _summaries(patient_id: int) -> list[str]:
    """The patient's timeline lines, oldest first."""
    return list(
        db.session.scalars(
            select(TimelineEvent.summary).where(TimelineEvent.patient_id == patient_id).order_by(TimelineEvent.id)
        )
    )


def _plan_with(procedure, tooth=None, surfaces=None, dentist=None):
    """A proposed plan holding one item of `procedure`."""
    plan = plans.create_plan(make_patient().id, (dentist or make_dentist()).id)
    item = plans.add_item(plan.id, procedure.id, tooth=tooth, surfaces=surfaces)
    return plan, item


def test_approval_records_who_approved(app):
    """The acting dentist is stored as the approver, with the time."""
    dentist = make_dentist()
    plan = make_plan(dentist=dentist)
    with acting_as(dentist.id):
        plans.approve_plan(plan.id)
    stored = fresh(TreatmentPlan, plan.id)
    assert stored.approved_by_user_id == dentist.id and stored.approved_at is not None


def test_a_deactivated_account_cannot_approve(app):
    """The approver must be an active account (a stale session of a deactivated user is refused)."""
    from app.services import users

    dentist = make_dentist()
    plan = make_plan(dentist=dentist)
    users.deactivate_user(dentist.id, "Saiu da clínica")
    with acting_as(dentist.id), pytest.raises(RelatedEntityNotFound):
        plans.approve_plan(plan.id)
    assert fresh(TreatmentPlan, plan.id).status == PlanStatus.PROPOSED


@pytest.mark.parametrize(
    "finding, surfaces, charted",
    [
        (FindingCode.RESTORATION, "MO", "MO"),
        (FindingCode.ROOT_CANAL, "O", None),  # whole-tooth findings drop the surfaces
        (FindingCode.MISSING, None, None),  # an extraction leaves the tooth missing
    ],
)
def test_done_item_records_its_procedures_finding(app, finding, surfaces, charted):
    """Performing an item whose procedure names a finding charts it on the item's tooth, by the performer."""
    dentist = make_dentist()
    plan, item = _plan_with(make_procedure(finding=finding), tooth=36, surfaces=surfaces, dentist=dentist)
    with acting_as(dentist.id):
        plans.approve_plan(plan.id)
        plans.mark_item_done(item.id)
    stored = fresh(TreatmentItem, item.id)
    assert stored.done and stored.done_by_user_id == dentist.id and stored.done_at is not None
    chart = odontogram.current_chart(plan.patient_id)
    assert chart[36].finding == finding and chart[36].surfaces == charted
    assert chart[36].recorded_by_user_id == dentist.id
    assert any(line.startswith("Odontograma: dente 36") for line in _summaries(plan.patient_id))


def test_items_without_finding_or_tooth_leave_the_chart_alone(app):
    """A cleaning (no finding) or a restoration with no tooth records nothing on the chart."""
    dentist = make_dentist()
    cleaning_plan, cleaning = _plan_with(make_procedure("Profilaxia"), tooth=11, dentist=dentist)
    restoration_plan, toothless = _plan_with(make_procedure(finding=FindingCode.RESTORATION), dentist=dentist)
    with acting_as(dentist.id):
        for plan, item in ((cleaning_plan, cleaning), (restoration_plan, toothless)):
            plans.approve_plan(plan.id)
            plans.mark_item_done(item.id)
    assert db.session.scalars(select(ToothFinding)).all() == []


def test_done_item_and_its_finding_are_one_unit_of_work(app, monkeypatch):
    """If charting fails, the item is not marked done either."""
    plan, item = _plan_with(make_procedure(finding=FindingCode.CROWN), tooth=21)
    plans.approve_plan(plan.id)

    def broken(*_args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(plans.odontogram, "describe", broken)
    with pytest.raises(RuntimeError):
        plans.mark_item_done(item.id)
    assert fresh(TreatmentItem, item.id).done is False
    assert db.session.scalars(select(ToothFinding)).all() == []


def test_catalogue_refuses_a_diagnosis_as_a_procedures_finding(app):
    """Caries and "extraction indicated" are diagnoses, never the result of a procedure."""
    for finding in (FindingCode.CARIES, FindingCode.EXTRACTION_INDICATED, "implant-ish"):
        with pytest.raises(ValidationError) as refused:
            procedures.create_procedure("X1", "Teste", 100, finding=finding)
        assert "finding" in refused.value.errors
    assert FindingCode.MISSING in procedures.result_findings()


def test_catalogue_edit_sets_and_clears_the_finding(app):
    """The finding is catalogue data, changed on the edit form like the price."""
    procedure = make_procedure()
    procedures.update_procedure(procedure.id, procedure.code, procedure.name, 100, finding=FindingCode.SEALANT)
    assert fresh(Procedure, procedure.id).finding == FindingCode.SEALANT
    procedures.update_procedure(procedure.id, procedure.code, procedure.name, 100, finding="")
    assert fresh(Procedure, procedure.id).finding is None


def test_cancel_plan_needs_a_reason_and_writes_the_timeline(app):
    """A proposed plan is cancelled with its reason, kept on the row and in the timeline."""
    plan = make_plan()
    for reason in (None, "", "   "):
        with pytest.raises(ValidationError) as refused:
            plans.cancel_plan(plan.id, reason)
        assert refused.value.errors == {"reason": "Informe o motivo do cancelamento."}
    with pytest.raises(ValidationError):
        plans.cancel_plan(plan.id, "x" * 501)
    plans.cancel_plan(plan.id, "  Paciente optou por outra clínica ")
    stored = fresh(TreatmentPlan, plan.id)
    assert stored.status == PlanStatus.CANCELLED and stored.cancelled_at is not None
    assert stored.cancellation_reason == "Paciente optou por outra clínica"
    assert _summaries(plan.patient_id)[-1].endswith("cancelado: Paciente optou por outra clínica")


@pytest.mark.parametrize("approve, complete", [(True, False), (True, True)])
def test_only_a_proposed_plan_can_be_cancelled(app, approve, complete):
    """An approved or completed plan was agreed with the patient: it is not cancelled."""
    plan = make_plan(approve=approve)
    if complete:
        plans.mark_item_done(fresh(TreatmentPlan, plan.id).items[0].id)
        plans.complete_plan(plan.id)
    with pytest.raises(ConflictError, match="Só um plano proposto"):
        plans.cancel_plan(plan.id, "Desistiu")


def test_a_cancelled_plan_is_closed_to_changes(app):
    """No item is added to, and no approval given for, a cancelled plan."""
    plan = make_plan()
    plans.cancel_plan(plan.id, "Desistiu")
    with pytest.raises(ConflictError):
        plans.add_item(plan.id, make_procedure().id)
    with pytest.raises(ConflictError):
        plans.approve_plan(plan.id)


def test_receptionist_actor_is_recorded_as_is(app):
    """The service records the actor; who may approve is the route policy's business (see tests/web)."""
    user = make_user("receptionist")
    plan = make_plan()
    with acting_as(user.id):
        plans.approve_plan(plan.id)
    assert fresh(TreatmentPlan, plan.id).approved_by_user_id == user.id
