"""What each role may do, written out by hand from the README's role table, checked against security.POLICY.

The role matrix in test_web_security.py proves that every route obeys POLICY; this file proves that POLICY
says what the clinic agreed to. Adding a route means adding it here too, on purpose.
"""

import pytest

from app.security import POLICY, allowed

EVERYONE = {"admin", "dentist", "receptionist"}

# endpoint -> who may use it, as the README's "Using Sorriso" table describes the roles.
AGREED = {
    # every member of staff
    "main.index": EVERYONE,
    "auth.logout": EVERYONE,
    "auth.change_password": EVERYONE,
    # patients and their record: everyone registers, edits and reads; the front desk deactivates
    "patients.index": EVERYONE,
    "patients.new": EVERYONE,
    "patients.edit": EVERYONE,
    "patients.record": EVERYONE,
    "patients.anamnesis": EVERYONE,
    "patients.anamnesis_edit": EVERYONE,
    "patients.appointments": EVERYONE,
    "patients.plans": EVERYONE,
    "patients.timeline": EVERYONE,
    "patients.finance": EVERYONE,
    # the cash desk: the front desk (and the administrator) takes money and prints receipts; dentists only look
    "payments.record": {"admin", "receptionist"},
    "payments.adjust": {"admin", "receptionist"},
    "payments.refund": {"admin", "receptionist"},
    "payments.installments": {"admin", "receptionist"},
    "payments.receipt": {"admin", "receptionist"},
    "payments.pix_charge": {"admin", "receptionist"},
    "patients.deactivate": {"admin", "receptionist"},
    "patients.reactivate": {"admin"},
    # the odontogram: everyone reads the chart (the front desk sees what is planned); only dentists chart
    "patients.chart": EVERYONE,
    "patients.chart_tooth": EVERYONE,
    "patients.chart_finding": {"admin", "dentist"},
    "patients.chart_item": {"admin", "dentist"},
    # clinical records: dentists (and the administrator), never the front desk
    "patients.notes": {"admin", "dentist"},
    "patients.note_new": {"admin", "dentist"},
    "patients.note_correct": {"admin", "dentist"},
    "patients.documents": {"admin", "dentist"},
    # front desk: appointment status, tomorrow's confirmations, the call-back list: dentists and receptionists
    "appointments.set_status": EVERYONE,
    "confirmations.index": EVERYONE,
    "confirmations.contact": EVERYONE,
    "recalls.index": EVERYONE,
    "recalls.attempt": EVERYONE,
    "recalls.create": EVERYONE,
    "patients.prescription_new": {"admin", "dentist"},
    "patients.certificate_new": {"admin", "dentist"},
    "patients.exam_request_new": {"admin", "dentist"},
    "patients.document_print": {"admin", "dentist"},
    # the agenda: dentists and receptionists both book, move, cancel and print the day
    "agenda.day": EVERYONE,
    "agenda.book": EVERYONE,
    "agenda.patient_search": EVERYONE,
    "agenda.move": EVERYONE,
    "agenda.cancel": EVERYONE,
    "agenda.preferences": EVERYONE,
    "agenda.day_sheet": EVERYONE,
    # treatment plans: dentists (and the administrator) build, approve and perform them; everyone reads them
    # on the plans tab and prints the budget for the patient
    "plans.create": {"admin", "dentist"},
    "plans.add_item": {"admin", "dentist"},
    "plans.edit_item": {"admin", "dentist"},
    "plans.remove_item": {"admin", "dentist"},
    "plans.approve": {"admin", "dentist"},
    "plans.item_done": {"admin", "dentist"},
    "plans.complete": {"admin", "dentist"},
    "plans.cancel": {"admin", "dentist"},
    "plans.budget": EVERYONE,
    # the procedure catalogue and its prices: the administrator
    "procedures.index": {"admin"},
    "procedures.new": {"admin"},
    "procedures.edit": {"admin"},
    "procedures.deactivate": {"admin"},
    "procedures.activate": {"admin"},
    # administration: staff accounts, their sessions and login delays, audit log, system page
    "admin.users": {"admin"},
    "admin.user_new": {"admin"},
    "admin.user_edit": {"admin"},
    "admin.user_password": {"admin"},
    "admin.user_deactivate": {"admin"},
    "admin.user_activate": {"admin"},
    "admin.user_unlock": {"admin"},
    "admin.user_sessions": {"admin"},
    "admin.user_session_end": {"admin"},
    "admin.user_sessions_end_all": {"admin"},
    "admin.audit": {"admin"},
    "admin.system": {"admin"},
    "admin.settings": {"admin"},
    # operation metrics for monitoring (/metrics): administrators, or a program with the METRICS_TOKEN
    "metrics.index": {"admin"},
    # the office: cash closing and reports
    "cash.index": {"admin"},
    "cash.close": {"admin"},
    "cash.print": {"admin"},
    "reports.index": {"admin"},
    "reports.csv": {"admin"},
    # the patient data report (LGPD): administrators and the patient's dentists (the service checks which)
    "patients.data_report": {"admin", "dentist"},
    "patients.data_report_json": {"admin", "dentist"},
}


def test_policy_names_exactly_the_agreed_endpoints():
    """No endpoint in the policy that the table does not know, and none missing."""
    assert set(POLICY) == set(AGREED)


@pytest.mark.parametrize("endpoint", sorted(AGREED))
@pytest.mark.parametrize("role", sorted(EVERYONE))
def test_policy_grants_each_role_what_was_agreed(endpoint, role):
    """Each role reaches exactly the endpoints the table gives it."""
    assert allowed(endpoint, role) is (role in AGREED[endpoint])


BOUNDARY = {"patients.notes", "patients.documents", "admin.audit", "admin.users", "admin.system"}


@pytest.mark.parametrize(
    "role, reachable",
    [
        ("receptionist", set()),
        ("dentist", {"patients.notes", "patients.documents"}),
        ("admin", BOUNDARY),
    ],
)
def test_clinical_records_and_administration_boundaries(role, reachable):
    """The front desk reads no clinical notes, documents, audit log or accounts; dentists read only the clinical."""
    assert {endpoint for endpoint in BOUNDARY if allowed(endpoint, role)} == reachable
