"""The role policy on every route (enumerated from app.url_map), first-run setup, security headers, templates."""

import re
import tempfile
from pathlib import Path

import pytest

from app import create_app
from app.security import POLICY, PUBLIC_ENDPOINTS, TOKEN_ENDPOINTS, allowed
from app.vocabulary import Role
from tests.conftest import IsolatedClient, build_app, sqlite_urls
from tests.factories import make_clinical_samples, make_patient, make_session, make_user
from tests.factories_finance import finance_samples, make_plan
from tests.factories_frontdesk import frontdesk_samples
from tests.support import ROOT, csrf_token, login, login_as, post_form

TEMPLATES = ROOT / "app" / "templates"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _url_map_rules():
    """(endpoint, rule, method) of every route of a freshly built app; building it opens no database."""
    app = create_app("testing", sqlite_urls(Path(tempfile.gettempdir()) / "sorriso-url-map-never-opened"))
    return sorted(
        (rule.endpoint, rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - IGNORED_METHODS
    )


ALL_RULES = _url_map_rules()
PROTECTED = [r for r in ALL_RULES if r[0] not in PUBLIC_ENDPOINTS]
# Pages for people send anonymous visitors to the login page; pages for monitoring programs answer 401.
FOR_PEOPLE = [r for r in PROTECTED if r[0] not in TOKEN_ENDPOINTS]
FOR_PROGRAMS = [r for r in PROTECTED if r[0] in TOKEN_ENDPOINTS]


def _url(app, endpoint: str, rule: str, sample: dict) -> str:
    """A concrete URL for a rule, filling its arguments from `sample` (fails if a new argument appears)."""
    arguments = next(r.arguments for r in app.url_map.iter_rules(endpoint) if r.rule == rule)
    missing = arguments - sample.keys()
    assert not missing, f"add a sample value for {missing} used by {rule}"
    return app.url_map.bind("localhost").build(endpoint, {name: sample[name] for name in arguments})


# Endpoints whose service adds a per-row rule to the policy (the sample rows are unrelated to the new account):
# an allowed role may still be refused, with the service's message.
ROW_RULES = {
    "patients.data_report": "os dentistas que atendem este paciente",
    "patients.data_report_json": "os dentistas que atendem este paciente",
}


@pytest.fixture
def sample(app):
    """Ids the routes' arguments point at: a patient, a staff account other than the logged-in one, a proposed
    plan with its item and procedure."""
    account = make_user("receptionist")
    item = make_plan().items[0]
    patient = make_patient()
    return {
        "patient_id": patient.id,
        "user_id": account.id,
        "session_id": make_session(account),
        **frontdesk_samples(patient),
        **make_clinical_samples(patient.id),
        "tooth": 36,
        "item_id": item.id,
        "procedure_id": item.procedure_id,
        **finance_samples(),
    }


def test_every_route_is_public_or_in_the_policy():
    """No route escapes the table, and the table names no route that no longer exists."""
    endpoints = {endpoint for endpoint, _rule, _method in ALL_RULES}
    assert endpoints - PUBLIC_ENDPOINTS - POLICY.keys() == set()
    assert POLICY.keys() - endpoints == set()


@pytest.mark.parametrize("endpoint, rule, method", FOR_PEOPLE)
def test_anonymous_user_is_sent_to_login(app, client, sample, endpoint, rule, method):
    """Every protected route (every method) answers an anonymous visitor with a redirect to the login page."""
    token = csrf_token(client, "/login")
    response = client.open(_url(app, endpoint, rule, sample), method=method, data={"csrf_token": token})
    assert response.status_code == 302
    assert response.location.startswith("/login")


@pytest.mark.parametrize("endpoint, rule, method", FOR_PEOPLE)
def test_anonymous_htmx_request_is_told_to_load_the_login_page(app, client, sample, endpoint, rule, method):
    """An HTMX request without a session gets 401 and HX-Redirect, not a login page swapped into a fragment."""
    token = csrf_token(client, "/login")
    response = client.open(
        _url(app, endpoint, rule, sample), method=method, data={"csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("endpoint, rule, method", FOR_PROGRAMS)
def test_anonymous_request_to_a_monitoring_endpoint_is_a_401(app, client, sample, endpoint, rule, method, htmx):
    """A scraper without a session or token gets a 401 with a Bearer challenge, not the login page."""
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.open(_url(app, endpoint, rule, sample), method=method, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "HX-Redirect" not in response.headers and response.location is None


@pytest.mark.parametrize("role", Role.values())
@pytest.mark.parametrize("endpoint, rule, method", PROTECTED)
def test_route_role_matrix_matches_the_policy(app, client, sample, endpoint, rule, method, role):
    """A role outside the policy gets 403 on the route; a role inside it gets the page or a redirect."""
    login_as(client, role)
    token = csrf_token(client, "/")
    response = client.open(_url(app, endpoint, rule, sample), method=method, data={"csrf_token": token})
    if allowed(endpoint, role) and endpoint in ROW_RULES and response.status_code == 403:
        assert ROW_RULES[endpoint] in response.get_data(as_text=True)  # the service's own refusal, not the policy's
    elif allowed(endpoint, role):
        assert response.status_code in (200, 302)
    else:
        assert response.status_code == 403
        assert "Acesso negado" in response.get_data(as_text=True)


def test_route_missing_from_the_policy_is_refused_to_everyone(db_dir):
    """Fail closed: a route nobody added to the table is forbidden even to an administrator."""
    app = build_app(db_dir)
    app.add_url_rule("/forgotten", "forgotten", lambda: "secret")
    app.test_client_class = IsolatedClient
    with app.app_context():
        client = app.test_client()
        login_as(client, "admin")
        assert client.get("/forgotten").status_code == 403


@pytest.mark.parametrize("path", ["/", "/patients", "/patients/new", "/admin/users", "/login"])
def test_without_any_user_every_page_leads_to_setup(client, path):
    """Before the first account exists, pages (the login page included) redirect to /setup."""
    response = client.get(path)
    assert response.status_code == 302
    assert response.location == "/setup"


def test_health_check_stays_public_before_and_after_setup(client):
    """/healthz answers without login, with or without accounts."""
    assert client.get("/healthz").status_code == 200
    make_user("admin")
    assert client.get("/healthz").status_code == 200


def test_setup_creates_the_first_admin_then_disappears(client):
    """The setup form creates an administrator who can log in; afterwards /setup is a 404."""
    response = post_form(
        client,
        "/setup",
        {"full_name": "Ana Souza", "username": "ana", "password": "senha-forte-1", "confirm": "senha-forte-1"},
        token_page="/setup",
    )
    assert response.status_code == 302 and response.location == "/login"
    assert client.get("/setup").status_code == 404
    assert client.post("/setup", data={}).status_code in (400, 404)
    assert login(client, "ana", "senha-forte-1").location == "/"
    assert "Administrador" in client.get("/").get_data(as_text=True)


def test_setup_shows_errors_beside_fields_and_keeps_input(client):
    """A bad username and a short password are explained next to their fields; the typed name stays."""
    response = post_form(
        client,
        "/setup",
        {"full_name": "Ana Souza", "username": "Ana Souza!", "password": "curta", "confirm": "curta"},
        token_page="/setup",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Use de 3 a 64 letras minúsculas" in html
    assert 'value="Ana Souza"' in html
    assert client.get("/setup").status_code == 200  # still no user


def test_pages_carry_security_headers(client):
    """CSP without inline scripts, no framing, no MIME sniffing, a strict referrer policy, no caching."""
    make_user("admin")
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"


def test_static_files_are_served_with_nosniff(client):
    """Vendored assets are local files (no CDN) and carry the same headers."""
    for path in (
        "/static/vendor/pico-2.1.1/pico.min.css",
        "/static/vendor/htmx-2.0.11/htmx.min.js",
        "/static/js/app.js",
        "/static/css/app.css",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("template", sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html")))
def test_templates_have_no_inline_script_style_or_cdn(template):
    """The CSP forbids inline code: no <script> without src, no on*= handlers, no style=, no external URLs."""
    text = (TEMPLATES / template).read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", text)
    assert not re.search(r"\son[a-z]+\s*=", text)
    assert not re.search(r"\sstyle\s*=", text)
    assert not re.search(r"(src|href)=\"(https?:)?//", text)


def test_unknown_url_is_a_friendly_404(client):
    """Unknown URLs are a friendly Portuguese 404 page, even for anonymous visitors."""
    make_user("admin")
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Página não encontrada" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", Role.values())
def test_navigation_shows_only_what_the_role_may_use(client, role):
    """The main menu lists exactly the sections the policy opens to the user's role."""
    from app.blueprints.ui import ADMIN_MENU, NAV_ITEMS

    login_as(client, role)
    page = client.get("/").get_data(as_text=True)
    menu = page[page.index('<ul class="nav-sections">') : page.index('<li class="user-menu">')]
    shown = re.findall(r'<li><a href="([^"]+)"', menu)
    app = client.application
    expected = [
        app.url_map.bind("localhost").build(endpoint)
        for endpoint, _label, _prefix in (*NAV_ITEMS, *ADMIN_MENU)
        if endpoint in app.view_functions and allowed(endpoint, role)
    ]
    assert shown == expected
    assert ("/admin/audit" in shown) == (role == "admin")


def test_unexpected_error_is_a_friendly_500_without_details(db_dir, monkeypatch):
    """A crash shows a Portuguese 500 page, never a traceback."""
    app = build_app(db_dir, PROPAGATE_EXCEPTIONS=False)

    def boom():
        raise RuntimeError("segredo interno")

    app.add_url_rule("/boom", "boom", boom)
    app.test_client_class = IsolatedClient
    monkeypatch.setitem(POLICY, "boom", frozenset(Role))
    with app.app_context():
        client = app.test_client()
        login_as(client, "receptionist")
        response = client.get("/boom")
    assert response.status_code == 500
    assert "Erro interno" in response.get_data(as_text=True)
    assert "segredo interno" not in response.get_data(as_text=True)
