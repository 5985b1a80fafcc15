"""Per-user preferences of the agenda (users.db): the view it opens in, the dentist it shows, the slot density.

`get` answers with the defaults for a user who never chose; `save` writes only what changed, in a unit of work on
the users bind (audited like every change there).
"""

from dataclasses import dataclass

from sqlalchemy import select

from app.db import USERS
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.models.users import User, UserPreference
from app.services.errors import ValidationError
from app.services.guards import require_active_user
from app.vocabulary import AgendaView, Role, SlotDensity

UNSET = object()


@dataclass(frozen=True)
class Preferences:
    """How one user likes the agenda (the defaults until they choose)."""

    agenda_view: str = AgendaView.DAY
    agenda_dentist_id: int | None = None
    slot_density: str = SlotDensity.NORMAL


def get(user_id: int | None) -> Preferences:
    """The user's preferences, or the defaults (also for no user)."""
    row = db.session.get(UserPreference, user_id) if user_id is not None else None
    if row is None:
        return Preferences()
    return Preferences(row.agenda_view, row.agenda_dentist_id, row.slot_density)


def _check(agenda_view, agenda_dentist_id, slot_density) -> None:
    """Known view and density; a dentist filter names an active dentist."""
    if agenda_view is not UNSET and agenda_view not in set(AgendaView):
        raise ValidationError({"agenda_view": "Escolha a visão: dia ou semana."})
    if slot_density is not UNSET and slot_density not in set(SlotDensity):
        raise ValidationError({"slot_density": "Escolha a densidade: compacta, normal ou espaçosa."})
    if agenda_dentist_id is not UNSET and agenda_dentist_id is not None:
        dentist = db.session.scalar(
            select(User).where(User.id == agenda_dentist_id, User.role == Role.DENTIST, User.is_active.is_(True))
        )
        if dentist is None:
            raise ValidationError({"agenda_dentist_id": "Escolha um dentista ativo."})


def save(user_id: int, agenda_view=UNSET, agenda_dentist_id=UNSET, slot_density=UNSET) -> Preferences:
    """Store the given preferences (the others keep their value); nothing is written when nothing changes."""
    _check(agenda_view, agenda_dentist_id, slot_density)
    wanted = {
        name: value
        for name, value in (
            ("agenda_view", agenda_view),
            ("agenda_dentist_id", agenda_dentist_id),
            ("slot_density", slot_density),
        )
        if value is not UNSET
    }
    current = get(user_id)
    if all(getattr(current, name) == value for name, value in wanted.items()):
        return current
    with unit_of_work(USERS):
        require_active_user(user_id)
        row = db.session.get(UserPreference, user_id, with_for_update=True)
        if row is None:
            row = UserPreference(
                user_id=user_id,
                agenda_view=current.agenda_view,
                agenda_dentist_id=current.agenda_dentist_id,
                slot_density=current.slot_density,
            )
            db.session.add(row)
        for name, value in wanted.items():
            setattr(row, name, value)
    return get(user_id)
