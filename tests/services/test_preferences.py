"""Per-user agenda preferences in users.db: defaults, saving what changed, refusing nonsense."""

import pytest

from app.models.users import UserPreference
from app.services import preferences, users
from app.services.errors import ValidationError
from tests.factories import make_user
from tests.support import audit_events, fresh


def test_defaults_until_the_user_chooses(app):
    """No row: day view, every dentist, normal density."""
    user = make_user("receptionist")
    assert preferences.get(user.id) == preferences.Preferences("day", None, "normal")
    assert preferences.get(None) == preferences.Preferences()


def test_save_keeps_the_other_preferences_and_is_audited(app):
    """Saving one preference leaves the others; the change is an audit event of users.db."""
    user, dentist = make_user("receptionist"), make_user("dentist")
    preferences.save(user.id, agenda_view="week", agenda_dentist_id=dentist.id)
    preferences.save(user.id, slot_density="compact")
    assert preferences.get(user.id) == preferences.Preferences("week", dentist.id, "compact")
    assert fresh(UserPreference, user.id).slot_density == "compact"
    assert audit_events(table_name="user_preference")


def test_saving_the_same_values_writes_nothing(app):
    """A page that saves on every visit does not write a row each time."""
    user = make_user("receptionist")
    preferences.save(user.id, agenda_view="week")
    before = len(audit_events(table_name="user_preference"))
    preferences.save(user.id, agenda_view="week")
    assert len(audit_events(table_name="user_preference")) == before


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"agenda_view": "month"}, "agenda_view"),
        ({"slot_density": "huge"}, "slot_density"),
        ({"agenda_dentist_id": "receptionist"}, "agenda_dentist_id"),
        ({"agenda_dentist_id": "inactive"}, "agenda_dentist_id"),
        ({"agenda_dentist_id": 987654}, "agenda_dentist_id"),
    ],
)
def test_nonsense_is_refused(app, fields, field):
    """Unknown view or density, a non-dentist or inactive dentist as filter: field errors, nothing stored."""
    user = make_user("receptionist")
    if fields.get("agenda_dentist_id") == "receptionist":
        fields = {"agenda_dentist_id": make_user("receptionist").id}
    elif fields.get("agenda_dentist_id") == "inactive":
        gone = make_user("dentist")
        users.deactivate_user(gone.id, "Saiu")
        fields = {"agenda_dentist_id": gone.id}
    with pytest.raises(ValidationError) as info:
        preferences.save(user.id, **fields)
    assert field in info.value.errors
    assert fresh(UserPreference, user.id) is None
