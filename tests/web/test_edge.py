"""The request edge (app/edge.py, config): bounded ids in paths, the query-string parser, refused file parts,
the body cap, trusted hosts and HSTS; routes enumerated from app.url_map, never from a hand-kept list."""

import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from werkzeug.routing.converters import NumberConverter

from app import create_app
from app.edge import MAX_ID, MAX_PAGE, IdConverter, page_number, positive_int, query_date, rows_per_page
from tests.conftest import IsolatedClient, build_app, sqlite_urls
from tests.factories import make_clinical_samples, make_patient, make_session, make_user
from tests.factories_finance import finance_samples, make_plan
from tests.factories_frontdesk import frontdesk_samples
from tests.support import ROOT, csrf_token, login_as

IMPOSSIBLE_IDS = [2**63, 10**20]
SILLY_NUMBERS = ["100000000000000000000", "9223372036854775808", "461168601842738791", str(MAX_PAGE + 1)]
GARBAGE = ["0", "-1", "+2", "1e3", "abc", " 2", "٣", ""]
FILE_REFUSED = "não aceita arquivos"


def _rules():
    """Every URL rule of a freshly built app (building it opens no database)."""
    app = create_app("testing", sqlite_urls(Path(tempfile.gettempdir()) / "sorriso-url-map-never-opened"))
    return list(app.url_map.iter_rules())


def _numeric_arguments(rule) -> set[str]:
    """The arguments of a rule that hold a number (the `id` converter, or Werkzeug's int/float)."""
    return {name for name, conv in rule._converters.items() if isinstance(conv, IdConverter | NumberConverter)}


RULES = _rules()
# Every id argument name the routes use.
ID_NAMES = (
    "patient_id",
    "user_id",
    "session_id",
    "appointment_id",
    "recall_id",
    "note_id",
    "document_id",
    "tooth",
    "plan_id",
    "item_id",
    "procedure_id",
    "payment_id",
    "receipt_number",
)
ID_RULES = sorted((rule.endpoint, rule.rule) for rule in RULES if _numeric_arguments(rule))
POST_RULES = sorted((rule.endpoint, rule.rule) for rule in RULES if "POST" in rule.methods)


def _url(app, endpoint: str, rule: str, values: dict) -> str:
    """A concrete URL for a rule; fails if the rule has an argument `values` does not cover."""
    arguments = next(r.arguments for r in app.url_map.iter_rules(endpoint) if r.rule == rule)
    assert arguments <= values.keys(), f"add a value for {arguments - values.keys()} used by {rule}"
    return app.url_map.bind("localhost").build(endpoint, {name: values[name] for name in arguments})


def _text(response) -> str:
    """A response's body as text."""
    return response.get_data(as_text=True)


@pytest.fixture
def admin(client):
    """A client logged in as an administrator (the policy lets it through every route)."""
    login_as(client, "admin")
    return client


# Finding 4: ids in paths and numbers in query strings


def test_every_number_in_a_path_uses_the_bounded_id_converter():
    """Paths carry ids through `<id:...>` only; Werkzeug's unbounded int converter would reach the database."""
    assert ID_RULES, "expected routes with ids"
    for rule in RULES:
        for name in _numeric_arguments(rule):
            assert isinstance(rule._converters[name], IdConverter), f"{rule.rule}: use <id:{name}>"


@pytest.mark.parametrize("value", IMPOSSIBLE_IDS)
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("endpoint, rule", ID_RULES)
def test_impossible_id_in_any_route_is_a_404(app, admin, endpoint, rule, method, value):
    """An id no database can hold is a friendly 404 on every route with an id, GET or POST (valid CSRF token)."""
    url = _url(app, endpoint, rule, dict.fromkeys(ID_NAMES, value))
    response = admin.open(url, method=method, data={"csrf_token": csrf_token(admin, "/")})
    assert response.status_code == 404
    assert "Página não encontrada" in _text(response)


@pytest.mark.parametrize(
    "segment", ["0", "007", "-1", "+1", "1.0", "٣", "0x1", str(MAX_ID + 1), "9" * 30, "0" * 5000 + "1"]
)
def test_malformed_id_is_a_404(app, admin, segment):
    """Zero, leading zeros, signs, decimals, other scripts' digits and absurd lengths match no route."""
    make_patient()
    assert admin.get(f"/patients/{segment}").status_code == 404


def test_largest_possible_id_is_looked_up(app, admin):
    """MAX_ID is a valid id that simply does not exist: the service's own 404."""
    response = admin.get(f"/patients/{MAX_ID}/edit")
    assert response.status_code == 404
    assert "Página não encontrada" in _text(response)


@pytest.mark.parametrize("value", SILLY_NUMBERS + GARBAGE)
@pytest.mark.parametrize(
    "path, first_row",
    [
        ("/patients", ">Paciente Primeira</a>"),
        ("/patients/{patient}/timeline", "Paciente cadastrado."),
        ("/admin/audit", ">Paciente Primeira</a>"),
    ],
)
def test_silly_or_garbage_page_shows_the_first_page(app, admin, path, first_row, value):
    """A page or per_page number that is garbage, negative or astronomically large shows page 1."""
    patient = make_patient(full_name="Paciente Primeira")
    url = path.format(patient=patient.id)
    for args in ({"page": value}, {"per_page": value}, {"page": value, "per_page": value}):
        response = admin.get(url, query_string=args)
        assert response.status_code == 200, args
        assert first_row in _text(response), args


def test_page_past_the_last_one_is_empty_not_an_error(app, admin):
    """A sane page number past the end shows no rows (the parser only replaces silly numbers)."""
    make_patient(full_name="Paciente Primeira")
    response = admin.get("/patients", query_string={"page": MAX_PAGE})
    assert response.status_code == 200
    assert "Paciente Primeira" not in _text(response)


@pytest.mark.parametrize(
    "user, patient, listed",
    [(10**20, 2**63, True), ("abc", "-4", True), (MAX_ID + 1, "0", True), (MAX_ID, "0", False)],
)
def test_audit_filters_ignore_impossible_ids(app, admin, user, patient, listed):
    """Impossible user and patient filters are ignored like other garbage; the largest possible id filters."""
    make_patient(full_name="Paciente Auditado")
    response = admin.get("/admin/audit", query_string={"user": user, "patient": patient, "table": "patient"})
    assert response.status_code == 200
    assert (">Paciente Auditado</a>" in _text(response)) is listed


# Finding 5: dates in query strings


@pytest.mark.parametrize(
    "dates",
    [
        {"to": "9999-12-31"},
        {"from": "0001-01-01"},
        {"from": "0001-01-01", "to": "9999-12-31"},
        {"from": "1899-12-31", "to": "3000-01-01"},
        {"from": "2024-02-30", "to": "20240101"},
    ],
)
def test_audit_date_filters_out_of_range_are_ignored(app, admin, dates):
    """Dates whose next day or UTC instant cannot exist, or that are malformed, are ignored: no 500."""
    make_patient(full_name="Paciente Auditado")
    response = admin.get("/admin/audit", query_string={**dates, "table": "patient"})
    assert response.status_code == 200
    assert "Paciente Auditado" in _text(response)


def test_audit_date_filters_at_the_bounds_still_filter(app, admin):
    """1900-01-01 .. 2999-12-31 is a real range (everything), 1900 alone excludes today."""
    make_patient(full_name="Paciente Auditado")
    wide = admin.get("/admin/audit", query_string={"from": "1900-01-01", "to": "2999-12-31", "table": "patient"})
    assert "Paciente Auditado" in _text(wide)
    old = admin.get("/admin/audit", query_string={"from": "1900-01-01", "to": "1900-01-01", "table": "patient"})
    assert old.status_code == 200 and "Paciente Auditado" not in _text(old)


@pytest.mark.parametrize(
    "parse, raw, expected",
    [
        (positive_int, str(MAX_ID), MAX_ID),
        (positive_int, str(MAX_ID + 1), None),
        (positive_int, "9223372036854775808", None),
        (positive_int, "007", 7),
        (positive_int, "١٢", None),
        (positive_int, None, None),
        (page_number, str(MAX_PAGE), MAX_PAGE),
        (page_number, str(MAX_PAGE + 1), 1),
        (lambda raw: rows_per_page(raw, 25), "5", 10),
        (lambda raw: rows_per_page(raw, 25), str(MAX_ID), 100),
        (lambda raw: rows_per_page(raw, 25), "x", 25),
        (query_date, " 2999-12-31 ", query_date("2999-12-31")),
        (query_date, "3000-01-01", None),
        (query_date, "1899-12-31", None),
    ],
)
def test_query_parser_bounds(parse, raw, expected):
    """The one query-string parser: ASCII digits within bounds, years 1900..2999."""
    assert parse(raw) == expected


# Finding 6: file parts where text is expected


def _file(content: bytes = b"%PDF-1.4 not a name"):
    """A file part for the test client's `data`."""
    return (io.BytesIO(content), "arquivo.pdf")


@pytest.mark.parametrize(
    "path, field, logged_in",
    [
        ("/login", "username", False),
        ("/patients/new", "full_name", True),
        ("/patients/{patient}/anamnesis/edit", "allergies", True),
        ("/patients/{patient}/deactivate", "reason", True),
    ],
)
def test_file_where_a_text_field_is_expected_is_a_400(app, client, path, field, logged_in):
    """The review's four forms: a file part in a text field is a friendly 400, not a crash."""
    if logged_in:
        login_as(client, "admin")
    else:
        make_user("admin")
    url = path.format(patient=make_patient().id)
    data = {"csrf_token": csrf_token(client, "/login" if not logged_in else "/"), field: _file(), "password": "x"}
    response = client.post(url, data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert FILE_REFUSED in _text(response)


@pytest.mark.parametrize("endpoint, rule", POST_RULES)
def test_every_post_route_refuses_a_file_part(app, admin, endpoint, rule):
    """Generated over every POST route: a form with a file part is refused in one place, whatever the route."""
    account = make_user()
    patient = make_patient()
    clinical = make_clinical_samples(patient.id)
    item = make_plan().items[0]
    url = _url(
        app,
        endpoint,
        rule,
        {
            "patient_id": patient.id,
            "user_id": account.id,
            "session_id": make_session(account),
            **frontdesk_samples(patient),
            **clinical,
            "item_id": item.id,
            "procedure_id": item.procedure_id,
            **finance_samples(),
        },
    )
    data = {"csrf_token": csrf_token(admin, "/"), "anexo": _file()}
    response = admin.post(url, data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert FILE_REFUSED in _text(response)


def test_multipart_form_without_files_still_works(app, admin):
    """Refusing files does not refuse multipart encoding itself."""
    data = {"csrf_token": csrf_token(admin, "/"), "full_name": "Maria Multipart", "cpf": "529.982.247-25"}
    response = admin.post("/patients/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302


# Finding 7: body size


@pytest.mark.parametrize("path, logged_in", [("/login", False), ("/patients/new", True)])
@pytest.mark.parametrize("encoding", ["application/x-www-form-urlencoded", "multipart/form-data"])
def test_two_megabyte_post_is_a_friendly_413(app, client, path, logged_in, encoding):
    """A body over MAX_CONTENT_LENGTH (1 MB by default) is refused with the Portuguese 413 page."""
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    if logged_in:
        login_as(client, "admin")
    else:
        make_user("admin")
    token = csrf_token(client, "/" if logged_in else "/login")
    data = {"csrf_token": token, "full_name": "a" * (2 * 1024 * 1024), "username": "x"}
    response = client.post(path, data=data, content_type=encoding)
    assert response.status_code == 413
    assert "Envio grande demais" in _text(response)


def test_body_cap_and_trusted_hosts_come_from_the_environment():
    """MAX_CONTENT_LENGTH and TRUSTED_HOSTS are read from the environment (as from .env) at start."""
    script = (
        "from app import create_app; from tests.conftest import sqlite_urls; from pathlib import Path; "
        "c = create_app('testing', sqlite_urls(Path('/nonexistent'))).config; "
        "print(c['MAX_CONTENT_LENGTH'], c['TRUSTED_HOSTS'])"
    )
    env = {
        **os.environ,
        "MAX_CONTENT_LENGTH": "2048",
        "TRUSTED_HOSTS": " sorriso.local, 192.168.0.10:8000 ,.clinica.example",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2048 ['sorriso.local', '192.168.0.10:8000', '.clinica.example']"


# Finding 11: Host header


@pytest.mark.parametrize(
    "method, path",
    [("GET", "/static//css/app.css"), ("GET", "/login"), ("POST", "/login"), ("GET", "/patients/1")],
)
def test_foreign_host_is_a_400_and_never_echoed(client, method, path):
    """With the default TRUSTED_HOSTS a foreign Host header is a plain 400: no redirect to it, no 500."""
    make_user("admin")
    response = client.open(path, method=method, headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "evil.example" not in _text(response)
    assert "não atende pelo endereço" in _text(response)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8000", "localhost:5000"])
def test_default_trusted_hosts_serve_make_run(client, host):
    """The default list admits the machine itself, as `make run` serves it on 127.0.0.1."""
    make_user("admin")
    assert client.get("/login", headers={"Host": host}).status_code == 200


def test_configured_lan_hosts_are_served_and_others_refused(db_dir):
    """A clinic lists the names and addresses its computers use; a leading dot admits subdomains."""
    app = build_app(db_dir, TRUSTED_HOSTS=["sorriso.local", "192.168.0.10", ".clinica.example"])
    app.test_client_class = IsolatedClient
    with app.app_context():
        make_user("admin")
        client = app.test_client()
        for host in ("sorriso.local", "192.168.0.10:8000", "recepcao.clinica.example"):
            assert client.get("/login", headers={"Host": host}).status_code == 200, host
        for host in ("localhost", "192.168.0.11", "evil.example"):
            assert client.get("/login", headers={"Host": host}).status_code == 400, host


def test_any_host_still_gets_no_slash_merging_redirect(db_dir):
    """TRUSTED_HOSTS=* admits any host, and `//` in a path is a 404 rather than a redirect echoing the Host."""
    app = build_app(db_dir, TRUSTED_HOSTS=None)
    app.test_client_class = IsolatedClient
    with app.app_context():
        make_user("admin")
        response = app.test_client().get("/static//css/app.css", headers={"Host": "evil.example"})
    assert response.status_code == 404
    assert "Location" not in response.headers


@pytest.mark.parametrize("value", [",", "[::1]", "sorriso local", "http://sorriso.local"])
def test_malformed_trusted_hosts_refuse_to_start(monkeypatch, value):
    """A list that would admit every host, or that Werkzeug cannot compare, is a configuration error."""
    from config import trusted_hosts_from_env

    monkeypatch.setenv("TRUSTED_HOSTS", value)
    with pytest.raises(SystemExit, match="TRUSTED_HOSTS"):
        trusted_hosts_from_env()


# Finding 13: HSTS


@pytest.mark.parametrize("secure", [True, False])
def test_hsts_is_sent_exactly_when_cookies_are_secure(db_dir, secure):
    """SESSION_COOKIE_SECURE=1 means HTTPS: Strict-Transport-Security on every answer; without it, never."""
    app = build_app(db_dir, SESSION_COOKIE_SECURE=secure)
    app.test_client_class = IsolatedClient
    with app.app_context():
        make_user("admin")
        client = app.test_client()
        responses = [client.get("/login"), client.get("/static/css/app.css"), client.get("/no-such-page")]
    for response in responses:
        if secure:
            assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
        else:
            assert "Strict-Transport-Security" not in response.headers
