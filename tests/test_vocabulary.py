"""The domain vocabulary: one StrEnum per closed set, the source of CHECK constraints, choices and labels."""

import pytest
from flask import render_template_string
from sqlalchemy import CheckConstraint

from app.blueprints.admin.forms import ROLE_ORDER, AccountForm
from app.blueprints.helpers import vocabulary_choices
from app.models.pacientes import Anamnesis, Appointment, IssuedDocument, Payment, Recall, ToothFinding, TreatmentPlan
from app.models.users import User
from app.vocabulary import (
    VOCABULARIES,
    AnamnesisStatus,
    AppointmentStatus,
    DocumentKind,
    FindingCode,
    PaymentKind,
    PaymentMethod,
    PlanStatus,
    RecallStatus,
    Role,
    Sex,
)


@pytest.mark.parametrize("vocabulary", VOCABULARIES.values(), ids=VOCABULARIES)
def test_values_are_lower_case_and_every_member_has_a_label(vocabulary):
    """Stored values are lower-case words (sex keeps its one-letter codes); each has a non-empty label."""
    for member in vocabulary:
        if vocabulary is Sex:
            assert len(member.value) == 1 and member.value.isupper()
        else:
            assert member.value == member.value.lower() and " " not in member.value
        assert str(member.label).strip() and str(member.label) == str(member.label).lower()


def test_members_are_the_strings_they_store():
    """A member compares, hashes and formats as its stored value, so rows, dicts and SQL accept either."""
    assert PlanStatus.APPROVED == "approved" and f"{PlanStatus.APPROVED}" == "approved"
    assert {PlanStatus.APPROVED: 1}["approved"] == 1
    assert PlanStatus.values() == ("proposed", "approved", "completed", "cancelled")


@pytest.mark.parametrize(
    "vocabulary, value, shown",
    [
        (PlanStatus, "approved", "aprovado"),
        (PlanStatus, "APPROVED", "aprovado"),  # as stored before migration 0006 (audit rows keep it)
        (PaymentKind, "REFUND", "estorno"),
        (Sex, "f", "feminino"),
        (AppointmentStatus, "archived", "archived"),  # unknown: shown as it is
        (Role, None, ""),
    ],
)
def test_label_of_matches_any_case_and_shows_unknown_values_unchanged(vocabulary, value, shown):
    """label_of gives the Portuguese word for a stored value in any case."""
    assert vocabulary.label_of(value) == shown


def test_lookup_is_for_display_and_values_for_checks():
    """lookup ignores case (for reading old rows); the exact set a service checks against is `values()`."""
    assert PlanStatus.lookup("Approved") is PlanStatus.APPROVED
    assert PlanStatus.lookup(3) is None
    assert "APPROVED" not in PlanStatus.values()


@pytest.mark.parametrize(
    "model, name, column, vocabulary",
    [
        (User, "ck_user_role", "role", Role),
        (Appointment, "ck_appointment_status", "status", AppointmentStatus),
        (TreatmentPlan, "ck_treatment_plan_status", "status", PlanStatus),
        (Anamnesis, "ck_anamnesis_status", "status", AnamnesisStatus),
        (Payment, "ck_payment_kind", "kind", PaymentKind),
        (Payment, "ck_payment_method", "method", PaymentMethod),
        (IssuedDocument, "ck_issued_document_kind", "kind", DocumentKind),
        (ToothFinding, "ck_tooth_finding_finding", "finding", FindingCode),
        (Recall, "ck_recall_status", "status", RecallStatus),
    ],
)
def test_model_check_constraints_are_derived_from_the_vocabulary(model, name, column, vocabulary):
    """Each vocabulary column's CHECK lists exactly the vocabulary's values, in order."""
    checks = {c.name: str(c.sqltext) for c in model.__table__.constraints if isinstance(c, CheckConstraint)}
    assert checks[name] == vocabulary.sql_in(column)
    assert vocabulary.sql_in(column) == f"{column} IN ({', '.join(repr(v) for v in vocabulary.values())})"


def test_choices_keep_the_order_given_with_capitalised_labels(app):
    """Select options carry the stored value and the capitalised label; the role select starts at least privilege."""
    with app.test_request_context():
        assert [(c.value, str(c.label)) for c in vocabulary_choices(ROLE_ORDER)] == [
            ("receptionist", "Recepcionista"),
            ("dentist", "Dentista"),
            ("admin", "Administrador"),
        ]
        assert [c.value for c in AccountForm(meta={"csrf": False}).role.iter_choices()] == list(ROLE_ORDER)


def test_label_filter_and_vocabularies_in_templates(app):
    """Templates read a stored value's label through `label` and compare against the vocabulary's members."""
    template = (
        "{{ 'approved'|label(PlanStatus) }}|{{ 'REFUND'|label(PaymentKind) }}|{{ 'dentist'|label(Role)|capitalize }}"
        "|{{ 'complete' == AnamnesisStatus.COMPLETE }}"
    )
    with app.test_request_context():
        assert render_template_string(template) == "aprovado|estorno|Dentista|True"
