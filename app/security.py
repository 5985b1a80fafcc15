"""Authentication plumbing and the role policy, in one place.

Every request passes through `enforce_policy`: first-run setup, login (a live server-side session, see
app/services/sessions.py), then the role table. /metrics also admits a monitoring system's bearer token
(`TOKEN_ENDPOINTS`). An endpoint missing from `POLICY` is refused to everyone
(fail closed), so a new route cannot be reachable by accident: add it to the table with the roles that may use it.
"""

import hmac
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from app.db.actor import Actor, set_actor
from app.extensions import login_manager
from app.models.users import User
from app.services import sessions, users
from app.vocabulary import Role, SessionEndReason

ADMIN = frozenset({Role.ADMIN})
CLINICAL = frozenset({Role.ADMIN, Role.DENTIST})
FRONT_DESK = frozenset({Role.ADMIN, Role.RECEPTIONIST})
STAFF = frozenset(Role)

# Endpoints anyone may reach, logged in or not.
PUBLIC_ENDPOINTS = frozenset({"auth.login", "auth.setup", "static", "health.healthz"})
# Endpoints that never look at accounts (they work even on a database not migrated yet).
INFRASTRUCTURE_ENDPOINTS = frozenset({"static", "health.healthz"})
# Endpoints a monitoring system reads (endpoint -> the setting holding its bearer token). Besides the users the
# policy lets in, a request with `Authorization: Bearer <token>` may use them; without either the answer is a
# 401 for a program, never the login page. No token configured: only logged-in users.
TOKEN_ENDPOINTS = {"metrics.index": "METRICS_TOKEN"}

# endpoint -> roles that may use it. Missing endpoint = refused to everyone.
POLICY: dict[str, frozenset[str]] = {
    "main.index": STAFF,
    "auth.logout": STAFF,
    "auth.change_password": STAFF,
    # patients and their record
    "patients.index": STAFF,
    "patients.new": STAFF,
    "patients.edit": STAFF,
    "patients.deactivate": FRONT_DESK,
    "patients.reactivate": ADMIN,
    "patients.record": STAFF,
    "patients.anamnesis": STAFF,
    "patients.anamnesis_edit": STAFF,
    "patients.appointments": STAFF,
    "patients.plans": STAFF,
    "patients.notes": CLINICAL,
    "patients.note_new": CLINICAL,
    "patients.note_correct": CLINICAL,
    "patients.documents": CLINICAL,
    "patients.prescription_new": CLINICAL,
    "patients.certificate_new": CLINICAL,
    "patients.exam_request_new": CLINICAL,
    "patients.document_print": CLINICAL,
    "patients.timeline": STAFF,
    # front desk: appointment status, confirmations, recalls (dentists and receptionists alike)
    "appointments.set_status": STAFF,
    "confirmations.index": STAFF,
    "confirmations.contact": STAFF,
    "recalls.index": STAFF,
    "recalls.attempt": STAFF,
    "recalls.create": STAFF,
    # the agenda (dentists and receptionists both book)
    "agenda.day": STAFF,
    "agenda.book": STAFF,
    "agenda.patient_search": STAFF,
    "agenda.move": STAFF,
    "agenda.cancel": STAFF,
    "agenda.preferences": STAFF,
    "agenda.day_sheet": STAFF,
    "patients.chart": STAFF,
    "patients.chart_tooth": STAFF,
    "patients.chart_finding": CLINICAL,
    "patients.chart_item": CLINICAL,
    # treatment plans: clinical staff change them, everyone reads them and prints the budget
    "plans.create": CLINICAL,
    "plans.add_item": CLINICAL,
    "plans.edit_item": CLINICAL,
    "plans.remove_item": CLINICAL,
    "plans.approve": CLINICAL,
    "plans.item_done": CLINICAL,
    "plans.complete": CLINICAL,
    "plans.cancel": CLINICAL,
    "plans.budget": STAFF,
    # procedure catalogue
    "procedures.index": ADMIN,
    "procedures.new": ADMIN,
    "procedures.edit": ADMIN,
    "procedures.deactivate": ADMIN,
    "procedures.activate": ADMIN,
    "patients.finance": STAFF,
    # the cash desk: payments, adjustments, refunds, instalments, receipts, PIX charges
    "payments.record": FRONT_DESK,
    "payments.adjust": FRONT_DESK,
    "payments.refund": FRONT_DESK,
    "payments.installments": FRONT_DESK,
    "payments.receipt": FRONT_DESK,
    "payments.pix_charge": FRONT_DESK,
    # administration
    "admin.users": ADMIN,
    "admin.user_new": ADMIN,
    "admin.user_edit": ADMIN,
    "admin.user_password": ADMIN,
    "admin.user_deactivate": ADMIN,
    "admin.user_activate": ADMIN,
    "admin.user_unlock": ADMIN,
    "admin.user_sessions": ADMIN,
    "admin.user_session_end": ADMIN,
    "admin.user_sessions_end_all": ADMIN,
    "admin.audit": ADMIN,
    "admin.system": ADMIN,
    "admin.settings": ADMIN,
    "metrics.index": ADMIN,  # or a monitoring system with the METRICS_TOKEN (see TOKEN_ENDPOINTS)
    # the office: cash closing and reports (administrators)
    "cash.index": ADMIN,
    "cash.close": ADMIN,
    "cash.print": ADMIN,
    "reports.index": ADMIN,
    "reports.csv": ADMIN,
    # the patient data report (LGPD art. 18): admins and the patient's own dentists (checked per patient)
    "patients.data_report": CLINICAL,
    "patients.data_report_json": CLINICAL,
}

SESSION_TOKEN = "sid"  # noqa: S105 - the Flask session key holding the opaque token of the server-side session


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user of the cookie's server-side session, if that session is alive; notes why it ended otherwise."""
    resolved = sessions.resolve(session.get(SESSION_TOKEN))
    if resolved.user is None or str(resolved.user.id) != user_id:
        g.session_ended_because = resolved.ended_because or SessionEndReason.LOGOUT
        return None
    g.staff_session = resolved.session
    return resolved.user


def current_session_id() -> int | None:
    """The id of the logged-in user's server-side session (None when nobody is logged in)."""
    staff_session = g.get("staff_session") if current_user.is_authenticated else None
    return staff_session.id if staff_session is not None else None


def allowed(endpoint: str | None, role: str | None) -> bool:
    """Whether a role may use an endpoint according to the policy table."""
    return role is not None and role in POLICY.get(endpoint or "", frozenset())


def can(endpoint: str) -> bool:
    """Whether the current user may use an endpoint that exists in this app (for navigation and buttons)."""
    if not current_user.is_authenticated or endpoint not in current_app.view_functions:
        return False
    return allowed(endpoint, current_user.role)


def is_safe_next(target: str | None) -> bool:
    """Only a path on this site is a safe place to go after login (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and "\\" not in target and not any(ord(c) < 32 for c in target)


def is_htmx() -> bool:
    """Whether the current request was sent by HTMX."""
    return request.headers.get("HX-Request") == "true"


def _to_page(endpoint: str, **values):
    """Redirect, or tell HTMX to load the page itself (a redirect would be swapped into a fragment)."""
    target = url_for(endpoint, **values)
    if is_htmx():
        return "", 401, {"HX-Redirect": target}
    return redirect(target)


def start_session(user: User, token: str) -> None:
    """Log a user in with a fresh cookie session holding only the server-side session's token."""
    session.clear()  # nothing from before the login survives (session fixation)
    session[SESSION_TOKEN] = token
    login_user(user)


def end_session() -> None:
    """Forget the logged-in user and everything else in the cookie (the server-side session is ended apart)."""
    logout_user()
    session.clear()


ENDED_MESSAGES = {
    SessionEndReason.IDLE: lambda: _("Sua sessão expirou por inatividade. Entre novamente."),
    SessionEndReason.EXPIRED: lambda: _(
        "Sua sessão atingiu o tempo máximo de %(hours)s horas. Entre novamente.",
        hours=current_app.config["SESSION_LIFETIME_HOURS"],
    ),
}


def _ended_session_message() -> str:
    reason = g.pop("session_ended_because", None)
    message = ENDED_MESSAGES.get(reason)
    return message() if message else _("Sua sessão foi encerrada. Entre novamente.")


def enforce_policy():
    """The one gate of every request: setup, then login and idle timeout, then the role table; sets the actor."""
    endpoint = request.endpoint
    set_actor(Actor(None, request.path, request.remote_addr))
    if endpoint is None or endpoint in INFRASTRUCTURE_ENDPOINTS:
        return None  # None: a 404 or 405, let Flask answer
    if endpoint in TOKEN_ENDPOINTS:
        return _machine_gate(endpoint)
    if not users.setup_done():
        return None if endpoint == "auth.setup" else _to_page("auth.setup")
    if endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        if "session_ended_because" in g:  # the cookie named a session that has ended
            end_session()
            flash(_ended_session_message(), "warning")
            return _to_page("auth.login")
        next_path = request.full_path.rstrip("?") if request.method == "GET" and not is_htmx() else None
        return _to_page("auth.login", next=next_path)
    if not allowed(endpoint, current_user.role):
        abort(403)
    set_actor(Actor(current_user.id, request.path, request.remote_addr))
    return None


def bearer_token_matches(expected: str | None) -> bool | None:
    """Whether the request's bearer token is `expected`: None when it sends none or no token is configured."""
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return None
    return hmac.compare_digest(sent.strip().encode(), expected.encode())


def _machine_gate(endpoint: str):
    """A monitoring endpoint: its bearer token, or a logged-in user the policy allows; else a 401 or 403."""
    token_matches = bearer_token_matches(current_app.config.get(TOKEN_ENDPOINTS[endpoint]))
    if token_matches:
        return None
    if token_matches is None and current_user.is_authenticated:  # before setup there is no account at all
        if not allowed(endpoint, current_user.role):
            abort(403)
        set_actor(Actor(current_user.id, request.path, request.remote_addr))
        return None
    challenge = 'Bearer realm="sorriso"' + (', error="invalid_token"' if token_matches is False else "")
    return Response("401 Unauthorized\n", 401, {"WWW-Authenticate": challenge}, mimetype="text/plain")


def security_headers(response):
    """Headers that keep pages out of frames, scripts to our own files, patient data out of caches, HTTPS on."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", current_app.config["CONTENT_SECURITY_POLICY"])
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        # Served over HTTPS: browsers must never fall back to plain HTTP for this host (one year).
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint != "static":
        headers.setdefault("Cache-Control", "no-store")
    return response


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


def init_security(app: Flask) -> None:
    """Install the policy hook and the security headers on an app."""
    app.config.setdefault("CONTENT_SECURITY_POLICY", CONTENT_SECURITY_POLICY)
    login_manager.login_view = "auth.login"
    app.before_request(enforce_policy)
    app.after_request(security_headers)
    app.jinja_env.globals["can"] = can
