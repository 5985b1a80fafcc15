"""Staff accounts as the CLI names them: by username or by `#id`."""

from flask_babel import gettext as _
from sqlalchemy import select

from app.extensions import db
from app.models.users import User
from app.services.clock import format_datetime
from app.services.errors import NotFound
from app.vocabulary import Role


def find_user(ref: str) -> User:
    """The account named `ref` (a username, or an id written as `#12` or `12`), or NotFound."""
    text = (ref or "").strip()
    number = text.removeprefix("#")
    user = db.session.scalar(select(User).where(User.username == text.lower()))
    if user is None and number.isdigit():
        user = db.session.get(User, int(number))
    if user is None:
        raise NotFound("Usuário", text)
    return user


def user_rows(users: list[User]) -> list[dict]:
    """One row per account for the `users list` table."""
    return [
        {
            _("id"): str(user.id),
            _("usuário"): user.username,
            _("nome"): user.full_name,
            _("papel"): Role.label_of(user.role),
            _("CRO"): user.cro or "",
            _("situação"): _("ativo") if user.is_active else _("desativado"),
            _("último acesso"): format_datetime(user.last_login_at) if user.last_login_at else _("nunca"),
        }
        for user in users
    ]


def format_table(rows: list[dict]) -> str:
    """A plain-text table with a header line, columns padded to their widest value."""
    if not rows:
        return _("(nenhum usuário)")
    headers = list(rows[0])
    widths = [max(len(h), *(len(row[h]) for row in rows)) for h in headers]
    lines = [headers, ["-" * w for w in widths], *([row[h] for h in headers] for row in rows)]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip() for values in lines)
