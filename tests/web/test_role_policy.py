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
    # clinical records: dentists (and the administrator), never the front desk
    "patients.notes": {"admin", "dentist"},
    "patients.documents": {"admin", "dentist"},
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
