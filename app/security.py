"""Authentication plumbing and the role policy, in one place."""

from sqlalchemy import select

from app.extensions import db, login_manager
from app.models.users import User


@login_manager.user_loader
def load_user(session_token: str) -> User | None:
    """Find the active user of a session; a rotated token (password change, deactivation) ends the session."""
    return db.session.scalar(select(User).where(User.session_token == session_token, User.is_active.is_(True)))
