"""Login throttling with counters in users.db, so every worker and every process sees the same numbers.

Two counters, neither of which lets someone elsewhere on the network keep a real user out:
- per client address: more than ADDRESS_LIMIT failed logins within ADDRESS_WINDOW refuse that address until the
  window ends (whichever usernames it tried: this stops password spraying from one machine);
- per typed username *and* address: after FREE_FAILURES consecutive failures, the next attempt from that address
  for that username must wait a delay that doubles with each further failure (FIRST_DELAY … MAX_DELAY).
  Attempts for the same account from another address are not delayed.
The username is keyed by an HMAC, never stored as typed, and an unknown username is throttled exactly like an
existing one, so the answers never tell whether an account exists.
"""

import hashlib
import hmac
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, select

from app.db.types import utcnow
from app.extensions import db
from app.models.users import LoginThrottle
from app.services.locks import find_for_update

ADDRESS_LIMIT = 30
ADDRESS_WINDOW = timedelta(minutes=15)
FREE_FAILURES = 5
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)
RESET_AFTER = timedelta(hours=1)  # consecutive failures older than this are forgotten
FORGET_AFTER = timedelta(days=1)  # rows untouched this long are deleted


def account_key(username: str) -> str:
    """The HMAC under which a typed username is counted (the text itself is never stored)."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"login:" + username.encode(), hashlib.sha256).hexdigest()


def _address_key(client_addr: str | None) -> str:
    return f"addr:{client_addr or '-'}"


def _pair_key(username: str, client_addr: str | None) -> str:
    return f"acct:{account_key(username)}@{client_addr or '-'}"


def address_blocked(client_addr: str | None, now: datetime) -> bool:
    """Whether this address has failed too often within the current window."""
    row = db.session.get(LoginThrottle, _address_key(client_addr), populate_existing=True)
    return row is not None and row.blocked_until is not None and row.blocked_until > now


def account_blocked_until(username: str, client_addr: str | None, now: datetime) -> datetime | None:
    """Until when attempts for this username from this address must wait, or None."""
    row = db.session.get(LoginThrottle, _pair_key(username, client_addr), populate_existing=True)
    if row is None or row.blocked_until is None or row.blocked_until <= now:
        return None
    return row.blocked_until


def _row(key: str, now: datetime, account: str | None = None) -> LoginThrottle:
    """A counter row re-read under the unit of work's lock, created when missing."""
    row = find_for_update(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(key=key, account_key=account, failures=0, window_started_at=now, updated_at=now)
        db.session.add(row)
    return row


def register_failure(username: str, client_addr: str | None, now: datetime) -> datetime | None:
    """Count a failed login (inside a unit of work on users); returns the new delay's end when one starts."""
    _forget_old(now)
    address = _row(_address_key(client_addr), now)
    if now - address.window_started_at >= ADDRESS_WINDOW:
        address.failures, address.window_started_at, address.blocked_until = 0, now, None
    address.failures += 1
    address.updated_at = now
    if address.failures >= ADDRESS_LIMIT:
        address.blocked_until = address.window_started_at + ADDRESS_WINDOW

    pair = _row(_pair_key(username, client_addr), now, account_key(username))
    if now - pair.updated_at >= RESET_AFTER:
        pair.failures, pair.blocked_until = 0, None
    pair.failures += 1
    pair.updated_at = now
    if pair.failures < FREE_FAILURES:
        return None
    doublings = min(pair.failures - FREE_FAILURES, 16)
    pair.blocked_until = now + min(FIRST_DELAY * 2**doublings, MAX_DELAY)
    return pair.blocked_until


def clear_pair(username: str, client_addr: str | None) -> None:
    """Forget a username's failures from one address (it just logged in from there)."""
    db.session.execute(
        delete(LoginThrottle)
        .where(LoginThrottle.key == _pair_key(username, client_addr))
        .execution_options(synchronize_session=False)
    )


def clear_account(username: str) -> int:
    """Forget a username's failures from every address (an administrator unlocked it); returns how many."""
    query = delete(LoginThrottle).where(LoginThrottle.account_key == account_key(username))
    return db.session.execute(query.execution_options(synchronize_session=False)).rowcount


def blocked_accounts(usernames, now: datetime | None = None) -> dict[str, datetime]:
    """The usernames that are being delayed from some address, with the latest delay's end (one query)."""
    now = now or utcnow()
    keys = {account_key(name): name for name in usernames}
    if not keys:
        return {}
    rows = db.session.execute(
        select(LoginThrottle.account_key, LoginThrottle.blocked_until).where(
            LoginThrottle.account_key.in_(keys), LoginThrottle.blocked_until > now
        )
    )
    blocked: dict[str, datetime] = {}
    for key, until in rows:
        name = keys[key]
        blocked[name] = max(until, blocked.get(name, until))
    return blocked


def _forget_old(now: datetime) -> None:
    """Delete counters nobody has touched for a day (and that block nothing)."""
    db.session.execute(
        delete(LoginThrottle)
        .where(
            LoginThrottle.updated_at < now - FORGET_AFTER,
            or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until < now),
        )
        .execution_options(synchronize_session=False)
    )
