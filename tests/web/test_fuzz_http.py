"""Property-based fuzzing over HTTP (SPEC 8 and 10): hostile input never crashes, corrupts or injects.

Nothing here is a hand-kept list. Routes come from `app.url_map` (every rule, every method but HEAD and
OPTIONS); form fields are those of the forms the pages really render (Flask-WTF draws them from the form
classes); query parameters are those the pages link to or ask for in GET forms, plus page, per_page and q.
Each field gets arbitrary text, control characters, huge and negative numbers, bad dates, markup, or is left
out, sent twice or sent as a file. Every answer must be below 500, must never show a typed value unescaped,
and a request the app refuses must leave the row counts of the domain tables and the rows its URL names
untouched. The number of examples comes from the hypothesis profile (tests/conftest.py): `ci` by default.
"""

import io
import itertools
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st
from sqlalchemy import select, text
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect
from werkzeug.routing.converters import NumberConverter

from app import create_app
from app.db import BIND_KEYS, PACIENTES, USERS, engine_of, metadata_of
from app.db.actor import acting_as
from app.extensions import db
from app.models.outbox import OutboxMixin
from app.models.pacientes import Receipt
from app.security import PUBLIC_ENDPOINTS, allowed
from app.services import (
    agenda,
    anamnesis,
    documents,
    notes,
    odontogram,
    patients,
    payments,
    plans,
    procedures,
    recalls,
    users,
)
from app.services.clock import clinic_day
from app.vocabulary import Role
from tests.conftest import IsolatedClient, build_app, dispose, sqlite_urls
from tests.factories import make_patient, make_session, make_user
from tests.factories_finance import make_plan, slot
from tests.factories_frontdesk import make_next_day_appointment, make_today_appointment
from tests.support import CSRF_META, login

IGNORED_METHODS = {"HEAD", "OPTIONS"}
GENERIC_PARAMS = ("page", "per_page", "q")
# Ids that cannot exist: zero, negative, past 32 and 64 bits (SQLite integers are 64-bit).
IMPOSSIBLE_IDS = (0, -1, 2**31, 2**63 - 1, 2**63, 10**20)
BODY_LIMIT = 1024 * 1024  # SPEC 8: request bodies are capped at 1 MB unless MAX_CONTENT_LENGTH says otherwise
# A failed login or password change is counted against the account and the client address (throttling,
# lock-out), possibly in bookkeeping tables of users.db: a refused credential check may write there, so for
# these endpoints only pacientes' row counts are compared. Audit outboxes are never compared: failed logins
# and record openings are audited by design, and the outbox is not domain data.
CREDENTIAL_CHECKS = frozenset({"auth.login", "auth.change_password"})

# Typed values carry markup; pages must show it escaped. `{{ 1000003*7 }}` would show as 7000021 if a value
# ever reached the template engine as template source.
MARKUP = ("<x-fuzz>", '"><x-fuzz a="', "'><x-fuzz>", "</textarea><x-fuzz>", "{{ 1000003*7 }}", "javascript:x()")
UNESCAPED = re.compile(r"<x-fuzz|7000021", re.IGNORECASE)
CONTROL = ("\x00", "\x1b[31m", "\u202e", "\u200f", "\r\n", "\t", "\x7f", "\x0b", "\u2028", "\ufeff", "\x85")
NUMBERS = ("-1", "0", "-0", str(2**31), str(2**63), str(-(2**63) - 1), str(10**20), "1e309", "NaN", "inf", "0x1F")
DATES = ("9999-12-31", "0000-00-00", "2024-02-30", "0001-01-01", "31/12/2024", "2024-13-01", "10000-01-01")
MONEY = ("R$ 1.234,56", "1.234,56", "-0,01", "0,001", "99999999999999999999,99", "1,2,3", "١٢٣", "１２３")


class Long(str):
    """A long value that failure reports show by its length."""

    def __repr__(self):
        return f"<{len(self)} × {self[:1]!r}>"


class Blob(bytes):
    """A file part's content that failure reports show by its size."""

    def __repr__(self):
        return f"<file of {len(self)} bytes>"


LONG = (Long("x" * 300), Long("9" * 5000), Long("é" * 70_000))
BIG_FILE = Blob(b"x" * (1024 * 1024 + 1))  # just over the body cap
# Values by kind of input: a person's (PLAIN) and a fuzzer's (HOSTILE).
PLAIN = {"checkbox": ("y",), "date": ("1990-05-17",), "email": ("ana@example.com",), "password": ("senha-fuzz-123",)}
HOSTILE = {"checkbox": ("on", "1", "0", "false", "yes"), "date": DATES, "number": NUMBERS, "password": ("x",)}

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)  # WSGI carries no lone surrogates


def _around(pieces) -> st.SearchStrategy[str]:
    """One of `pieces` with arbitrary text on either side."""
    return st.builds(lambda before, piece, after: before + piece + after, TEXT, st.sampled_from(pieces), TEXT)


ANY_VALUE = st.one_of(
    TEXT,
    _around(CONTROL),
    _around(MARKUP),
    st.sampled_from(NUMBERS + DATES + MONEY + LONG),
    st.just(""),
)
WORD = st.from_regex(r"[a-z][a-z0-9]{2,12}", fullmatch=True)  # passes for a username, a CRO, a search
ANY_ID = st.one_of(st.sampled_from(IMPOSSIBLE_IDS), st.integers(min_value=1, max_value=10**6))


# --- what the pages offer ------------------------------------------------------------------------------------


@dataclass
class Field:
    """An input, select, textarea or button of a rendered form: its kind and the values pages offered for it."""

    kind: str
    options: set[str] = field(default_factory=set)
    required: bool = False


@dataclass
class Form:
    """A <form> of a page."""

    method: str
    action: str
    fields: dict[str, Field] = field(default_factory=dict)


class PageParser(HTMLParser):
    """The forms, links (href, hx-get, hx-post) and HTMX swap targets of one HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[str] = []
        self.targets: set[str] = set()
        self._form: Form | None = None
        self._select: Field | None = None

    def handle_starttag(self, tag, attrs):
        """Collect forms and their fields, links and swap targets."""
        attrs = {name: value or "" for name, value in attrs}
        self.links += [attrs[name] for name in ("href", "hx-get", "hx-post") if attrs.get(name)]
        if attrs.get("hx-target", "").startswith("#"):
            self.targets.add(attrs["hx-target"][1:])
        if tag == "form":
            self._form = Form(attrs.get("method", "get").upper(), attrs.get("action", ""))
            self.forms.append(self._form)
        elif tag == "option" and self._select is not None:
            self._select.options.add(attrs.get("value", ""))
        elif tag in ("input", "select", "textarea", "button") and self._form is not None and attrs.get("name"):
            kind = attrs.get("type", "text") if tag == "input" else tag
            spec = self._form.fields.setdefault(attrs["name"], Field(kind))
            spec.required |= "required" in attrs
            if tag != "select":
                spec.options.add(attrs.get("value", ""))  # a textarea's text is not read: shown as blank
            if tag == "select":
                self._select = spec

    def handle_endtag(self, tag):
        """Close the current form or select."""
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


@dataclass(frozen=True, order=True)
class Route:
    """One method of one url_map rule, with its arguments and whether each is a number."""

    endpoint: str
    rule: str
    method: str
    arguments: tuple[tuple[str, bool], ...]

    def url(self, values: dict) -> str:
        """The path with the given argument values (any value, even one the converter would refuse)."""
        return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: quote(str(values[m.group(1)]), safe=""), self.rule)


def url_map_routes(app) -> list[Route]:
    """Every rule of the app and every method it answers, but static files, HEAD and OPTIONS."""
    return sorted(
        Route(
            rule.endpoint,
            rule.rule,
            method,
            tuple(sorted((name, isinstance(conv, NumberConverter)) for name, conv in rule._converters.items())),
        )
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in sorted(rule.methods - IGNORED_METHODS)
    )


@dataclass
class Catalog:
    """What the crawled pages offer: POST forms and query parameters per endpoint, HTMX swap targets."""

    forms: dict[str, dict[str, Field]] = field(default_factory=dict)
    params: dict[str, dict[str, Field]] = field(default_factory=dict)
    targets: set[str] = field(default_factory=set)
    offered: dict[str, set[str]] = field(default_factory=dict)  # field name -> values any page showed in it

    def add_page(self, app, page_path: str, html: str) -> None:
        """Record a page's forms (under the endpoint they submit to), its links' query parameters, its targets."""
        parser = PageParser()
        parser.feed(html)
        self.targets |= parser.targets
        for form in parser.forms:
            endpoint = _endpoint_of(app, urlsplit(form.action or page_path).path, form.method)
            if endpoint is not None:
                into = self.params if form.method == "GET" else self.forms
                _merge(into.setdefault(endpoint, {}), form.fields)
            for name, spec in form.fields.items():
                self.offered.setdefault(name, set()).update(spec.options)
        for link in parser.links:
            parts = urlsplit(link)
            endpoint = _endpoint_of(app, parts.path, "GET") if parts.query and not parts.netloc else None
            if endpoint is not None:
                query = {name: Field("text", {value}) for name, value in parse_qsl(parts.query, True)}
                _merge(self.params.setdefault(endpoint, {}), query)


def _merge(into: dict[str, Field], fields: dict[str, Field]) -> None:
    """Add fields to a form's known fields, keeping every value pages offered."""
    for name, spec in fields.items():
        merged = into.setdefault(name, Field(spec.kind))
        merged.options |= spec.options
        merged.required |= spec.required


def _endpoint_of(app, path: str, method: str) -> str | None:
    """The endpoint that answers a path of this site for a method, if any."""
    try:
        endpoint, _args = app.url_map.bind("localhost").match(path, method=method)
    except (HTTPException, RequestRedirect):
        return None
    return endpoint


# --- the site under fuzz ---------------------------------------------------------------------------------------


def _seed() -> dict[str, list[int]]:
    """Rows the URLs can name, with markup in their texts: active and inactive patients and accounts."""
    admin = make_user("admin", full_name='Admin <x-fuzz> "><x-fuzz a="')
    with acting_as(admin.id):
        active = make_patient(full_name="Ana <x-fuzz>", street='Rua "><x-fuzz a="', notes="</textarea><x-fuzz>")
        anamnesis.update_anamnesis(active.id, "<x-fuzz>", "'><x-fuzz>", "Diabetes <x-fuzz>", None, complete=True)
        inactive = make_patient(full_name="Bruno '><x-fuzz>")
        patients.deactivate_patient(inactive.id, "Mudou <x-fuzz>")
        receptionist = make_user("receptionist", full_name="Recepção <x-fuzz>")
        dentist = make_user("dentist", full_name='Dentista "><x-fuzz a="')
        gone = make_user("receptionist", full_name="Ex <x-fuzz>")
        users.deactivate_user(gone.id, "Saiu <x-fuzz>")
        # the front desk: tomorrow's confirmation (status and contact forms), today's worklist, a recall to call
        next_day = make_next_day_appointment(active, dentist)
        today = make_today_appointment(active, dentist, status="arrived")
        recall = recalls.create_recall(active.id, clinic_day(), "Limpeza <x-fuzz>")
    with acting_as(dentist.id):  # money for the cash desk, reports and the data report, with markup in its texts
        plan = make_plan(patient=active, dentist=dentist, prices=(12_345,), approve=True, title="Plano <x-fuzz>")
    with acting_as(admin.id):
        payments.record_payment(plan.id, 1_000, "pix")
        payments.record_adjustment(plan.id, 100, "Desconto <x-fuzz>")
    with acting_as(dentist.id):  # a note (and its correction) and one document of each kind, with markup
        note_ = notes.add_note(active.id, "Dor no 36 <x-fuzz>")
        correction = notes.correct_note(note_.id, "Dor no 37 '><x-fuzz>")
        issued = [
            documents.issue_prescription(active.id, [{"name": "Amoxicilina <x-fuzz>", "dose": '"><x-fuzz a="'}]),
            documents.issue_certificate(active.id, clinic_day(), days=2, cid="K08.1", cid_consent=True),
            documents.issue_exam_request(active.id, ["Radiografia <x-fuzz>"], "Siso </textarea><x-fuzz>"),
        ]
        appointment = agenda.book_appointment(active.id, dentist.id, *slot(1, 10), notes="<x-fuzz> nota")
        procedures.create_procedure("REST", "Restauração <x-fuzz>", 15000)  # the chart's plan-item form lists it
    with acting_as(dentist.id):
        odontogram.record_finding(active.id, 36, "caries", "O", "Profunda <x-fuzz>")
        plan_rows = _seed_plans(active.id, dentist.id)
    with acting_as(admin.id):
        # the cash desk: an approved plan with instalments, a payment (with its receipt) and a refunded one
        plan = make_plan(active, dentist, prices=(100_000, 20_000), approve=True, title="Plano <x-fuzz>")
        plans.set_installments(plan.id, 3, clinic_day())
        paid = payments.record_payment(plan.id, 10_000, "pix")
        refunded = payments.record_payment(plan.id, 5_000, "cash")
        payments.refund_payment(refunded.id, "Estorno <x-fuzz>")
        payments.record_adjustment(plan.id, 1_000, "Desconto '><x-fuzz>")
    receipt_numbers = list(db.session.scalars(select(Receipt.number).order_by(Receipt.number)))
    sessions = [make_session(receptionist), make_session(dentist)]  # live sessions an administrator can end
    with acting_as(None, "/login", "10.255.0.1"):
        for _ in range(users.MAX_FAILED_LOGINS):  # a delayed login an administrator can lift
            users.authenticate(dentist.username, "<x-fuzz> errada")
    return {
        "patient_id": [active.id, inactive.id],
        "user_id": [receptionist.id, dentist.id, gone.id],
        "session_id": sessions,
        "appointment_id": [next_day.id, today.id, appointment.id],
        "recall_id": [recall.id],
        "note_id": [note_.id, correction.id],
        "document_id": [document.id for document in issued],
        "tooth": [36, 55],
        **plan_rows,
        "plan_id": [*plan_rows["plan_id"], plan.id],
        "payment_id": [paid.id, refunded.id],
        "receipt_number": receipt_numbers,
    }


def _seed_plans(patient_id: int, dentist_id: int) -> dict[str, list[int]]:
    """A catalogue (one active procedure, one inactive) and plans in every state the plans tab offers forms for:
    proposed with an item, approved with an item to perform, approved with every item done, completed, cancelled."""
    resin = procedures.create_procedure("R<X>1", 'Resina "><x-fuzz a="', 15_000, finding="restoration")
    gone = procedures.create_procedure("OLD1", "Antigo <x-fuzz>", 1_000)
    procedures.deactivate_procedure(gone.id)

    def plan_with_item(title: str, approve: bool = False, done: bool = False):
        plan = plans.create_plan(patient_id, dentist_id, title)
        item = plans.add_item(plan.id, resin.id, tooth=16, surfaces="MO")
        if approve:
            plans.approve_plan(plan.id)
        if done:
            plans.mark_item_done(item.id)
        return plan, item

    proposed, proposed_item = plan_with_item("Proposto <x-fuzz>")
    approved, approved_item = plan_with_item("Aprovado '><x-fuzz>", approve=True)
    finished, _ = plan_with_item("Pronto <x-fuzz>", approve=True, done=True)
    completed, _ = plan_with_item("Concluído <x-fuzz>", approve=True, done=True)
    plans.complete_plan(completed.id)
    cancelled, _ = plan_with_item("Cancelado <x-fuzz>")
    plans.cancel_plan(cancelled.id, "Desistiu <x-fuzz>")
    return {
        "plan_id": [proposed.id, approved.id],
        "item_id": [proposed_item.id, approved_item.id],
        "procedure_id": [resin.id, gone.id],
    }


def _crawl(app, samples: dict[str, list[int]], catalog: Catalog) -> None:
    """Open the login page anonymously, then every GET route with every sample id as an administrator."""
    catalog.add_page(app, "/login", app.test_client().get("/login").get_data(as_text=True))
    admin = app.test_client()
    login(admin, make_user("admin").username)
    routes = url_map_routes(app)
    for route in routes:
        if route.method != "GET":
            continue
        names = [name for name, _numeric in route.arguments]
        missing = set(names) - samples.keys()
        assert not missing, f"seed sample rows for the URL arguments {missing} of {route.rule}"
        for values in itertools.product(*(samples[name] for name in names)):
            path = route.url(dict(zip(names, values, strict=True)))
            response = admin.get(path)
            if response.status_code == 200 and response.mimetype == "text/html":
                catalog.add_page(app, path, response.get_data(as_text=True))
    missing = {r.endpoint for r in routes if r.method != "GET"} - catalog.forms.keys()
    assert not missing, f"no crawled page renders a form posting to {missing}: seed a row whose page shows it"


@dataclass
class Template:
    """Databases to start each test from, the ids of their sample rows and what their pages offer."""

    folder: Path
    samples: dict[str, list[int]]
    catalog: Catalog


# Durability is not what this file tests, and fsyncs would take most of its time.
NO_FSYNC = {"SQLITE_PRAGMAS": {bind: {"synchronous": "OFF"} for bind in BIND_KEYS}}


def _copy_databases(source: Path, folder: Path) -> Path:
    """Copy the three database files into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for bind in BIND_KEYS:
        shutil.copy(source / f"{bind}.db", folder / f"{bind}.db")
    return folder


@pytest.fixture(scope="session")
def fuzz_templates(migrated_template, tmp_path_factory) -> dict[bool, Template]:
    """Built once: migrated databases with sample rows (True) and without any account (False), crawled."""
    folder = _copy_databases(migrated_template, tmp_path_factory.mktemp("fuzz-template"))
    app = build_app(folder, **NO_FSYNC)
    app.test_client_class = IsolatedClient
    catalog = Catalog()
    with app.app_context():
        catalog.add_page(app, "/setup", app.test_client().get("/setup").get_data(as_text=True))
        samples = _seed()
        _crawl(app, samples, catalog)
        db.session.remove()
    dispose(app)
    return {True: Template(folder, samples, catalog), False: Template(migrated_template, {}, catalog)}


@dataclass
class Site:
    """An app on its own copy of a template, a client (logged in as `role`, or anonymous), what pages offer."""

    app: object
    client: object
    role: str | None
    catalog: Catalog
    samples: dict[str, list[int]]
    token: str = ""
    logged_in: bool = False
    addresses: itertools.count = field(default_factory=itertools.count)

    def log_in(self) -> None:
        """Log in as a new account of the role (a new one: the fuzz may have locked the last one out)."""
        user = make_user(self.role)
        response = login(self.client, user.username)
        assert response.status_code == 302, response.get_data(as_text=True)
        self.logged_in = True
        self.remember_token(self.client.get("/"))

    def remember_token(self, response) -> None:
        """Keep the session's current CSRF token, read from the page just answered."""
        match = CSRF_META.search(response.get_data(as_text=True))
        if match:
            self.token = match.group(1)

    def new_address(self) -> str:
        """A client address no request used before."""
        n = next(self.addresses)
        return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"

    def __repr__(self):
        return f"Site(role={self.role!r})"


@pytest.fixture
def site(fuzz_templates, tmp_path, role, seeded):
    """The site of one test, shared by all its examples: each example snapshots right before it sends, so
    whatever earlier examples saved does not matter (fresh databases per example would cost more than requests).
    """
    template = fuzz_templates[seeded]
    app = build_app(_copy_databases(template.folder, tmp_path / "instance"), **NO_FSYNC)
    app.test_client_class = IsolatedClient
    with app.app_context():
        site = Site(app, app.test_client(), role, template.catalog, template.samples)
        if role is not None:
            site.log_in()
        else:
            site.remember_token(site.client.get("/login" if seeded else "/setup"))
        yield site
        db.session.remove()
    dispose(app)


# --- one fuzzed request ----------------------------------------------------------------------------------------


def _plain(catalog: "Catalog", name: str, spec: Field | None) -> st.SearchStrategy[str]:
    """What a person would send: a value some page showed in a field of this name or one its kind suggests,
    blank when a page showed it blank and it is not required, a plain word for a required field never filled."""
    shown = catalog.offered.get(name, set()) | set(PLAIN.get(spec.kind if spec else "", ()))
    filled = sorted(value for value in shown if value)
    required = spec is not None and spec.required
    if not filled:
        return WORD if required else st.just("")
    return st.sampled_from(filled if required or "" not in shown else [*filled, ""])


def _hostile(catalog: "Catalog", name: str, spec: Field | None) -> st.SearchStrategy[str]:
    """Anything at all, or a value offered for the field or suggested by its kind (a bad date for a date)."""
    suggested = tuple(sorted(catalog.offered.get(name, ()))) + HOSTILE.get(spec.kind if spec else "", ())
    return st.one_of(st.sampled_from(suggested), ANY_VALUE) if suggested else ANY_VALUE


def _presence(data, name: str, values: st.SearchStrategy, usually_sent: bool):
    """How a field is sent: missing (None), one value, two values (a list) or a file part (bytes)."""
    kinds = ("one", "one", "one", "missing", "twice", "file") if usually_sent else ("missing",) * 3 + ("one", "twice")
    how = data.draw(st.sampled_from(kinds), label=f"{name} sent as")
    if how == "missing":
        return None
    if how == "file":
        return data.draw(st.one_of(st.binary(max_size=64).map(Blob), st.just(BIG_FILE)), label=f"{name} file")
    drawn = [data.draw(values, label=name) for _ in range(2 if how == "twice" else 1)]
    return drawn if how == "twice" else drawn[0]


def _csrf(data, token: str):
    """Usually the session's valid token; sometimes missing, garbage, twice or a file."""
    how = data.draw(st.sampled_from(("valid",) * 6 + ("missing", "garbage", "twice", "file")), label="csrf_token")
    return {"valid": token, "missing": None, "garbage": "x" + token[1:], "twice": [token, "x"], "file": Blob(b"x")}[how]


def _parts(value) -> list:
    """A drawn value as the test client's form data: repeated values, bytes as a new file part."""
    return [(io.BytesIO(v), "fuzz.txt") if isinstance(v, bytes) else v for v in _many(value)]


def _many(value) -> list:
    """A field's values as a list (a field sent twice is already one)."""
    return value if isinstance(value, list) else [value]


@dataclass
class FuzzRequest:
    """A request drawn for one route."""

    route: Route
    arguments: dict
    path: str
    query: dict
    form: dict | None
    headers: dict

    def send(self, site: Site):
        """Send it; each credential check comes from an address of its own, so throttling never stops the run."""
        own_address = {"REMOTE_ADDR": site.new_address()} if self.route.endpoint in CREDENTIAL_CHECKS else {}
        return site.client.open(
            self.path,
            method=self.route.method,
            query_string=MultiDict([(k, v) for k, x in self.query.items() for v in _many(x)]),
            data=None if self.form is None else {k: _parts(x) for k, x in self.form.items()},
            headers=self.headers,
            environ_base=own_address,
        )

    def describe(self) -> str:
        """A summary for hypothesis' failure report, long values cut short."""
        summary = f"{self.route.method} {self.path} query={self.query!r} form={self.form!r} headers={self.headers}"
        return summary if len(summary) < 3000 else summary[:3000] + "…"


def draw_request(data, site: Site, route: Route) -> FuzzRequest:
    """Path arguments (sample ids or impossible ones), query parameters, form fields and HTMX headers."""
    arguments = {}
    for name, numeric in route.arguments:
        real = site.samples.get(name) and data.draw(st.sampled_from((True, True, False)), label=f"real {name}")
        ids = st.sampled_from(site.samples[name]) if real else ANY_ID
        arguments[name] = data.draw(ids if numeric else TEXT, label=name)
    params = site.catalog.params.get(route.endpoint, {})
    query = {}
    for name in sorted({*params, *GENERIC_PARAMS}):
        value = _presence(data, f"?{name}", _hostile(site.catalog, name, params.get(name)), usually_sent=False)
        if value is not None and not isinstance(value, bytes):  # a query string has no file parts
            query[name] = value
    form = None
    if route.method != "GET":
        form = {}
        # Half the forms are hostile in their shape (fields missing, twice, files, bad CSRF tokens); the other
        # half are filled as a person would but for one field, so that some are saved with hostile values.
        fields = sorted(site.catalog.forms.get(route.endpoint, {}).items())
        hostile = data.draw(st.booleans(), label="hostile form")
        odd_one = data.draw(st.sampled_from([None, *(name for name, _spec in fields)]), label="hostile field")
        for name, spec in fields:
            if name == "csrf_token":
                value = _csrf(data, site.token) if hostile else site.token
            elif hostile:
                value = _presence(data, name, _hostile(site.catalog, name, spec), usually_sent=True)
            else:
                strategy = ANY_VALUE if name == odd_one else _plain(site.catalog, name, spec)
                value = data.draw(strategy, label=name)
            if value is not None:
                form[name] = value
    headers = {}
    if data.draw(st.booleans(), label="HTMX"):
        headers["HX-Request"] = "true"
        target = data.draw(st.sampled_from(("", *sorted(site.catalog.targets))), label="HX-Target")
        if target:
            headers["HX-Target"] = target
    return FuzzRequest(route, arguments, route.url(arguments), query, form, headers)


# --- the properties --------------------------------------------------------------------------------------------


# Tables a page read writes to, like the audit outbox: opening a document's print page is an audited print, and
# opening the agenda with an explicit view or dentist remembers that choice (the user's agenda preference, not a
# clinical or financial row).
READ_RECORDS = ("document_print", "user_preference")


def snapshot(route: Route, arguments: dict) -> dict:
    """Row counts of the domain tables, and the rows the URL's ids name (`<table>_id`, and rows pointing at it)."""
    binds = [PACIENTES] if route.endpoint in CREDENTIAL_CHECKS else [PACIENTES, USERS]
    ids = {name: value for name, value in arguments.items() if isinstance(value, int) and abs(value) < 2**63}
    state = {}
    for bind in binds:
        with engine_of(bind).connect() as conn:
            for table in metadata_of(bind).sorted_tables:
                if table.name in (OutboxMixin.__tablename__, *READ_RECORDS):
                    continue
                state[table.name] = conn.execute(text(f'SELECT COUNT(*) FROM "{table.name}"')).scalar_one()
                for name, value in ids.items():
                    column = "id" if table.name == name.removesuffix("_id") else name if name in table.c else None
                    if column:
                        rows = conn.execute(text(f'SELECT * FROM "{table.name}" WHERE "{column}" = :v'), {"v": value})
                        state[f"{table.name}.{column}={value}"] = sorted(map(tuple, rows), key=repr)
    return state


def _saved(response) -> bool:
    """Whether the app reports a success: a redirect (post/redirect/get), or an HTMX redirect."""
    return response.status_code in (301, 302, 303) or "HX-Redirect" in response.headers


def _unescaped(body: str) -> str | None:
    """The unescaped markup of a page with some page around it, or None."""
    match = UNESCAPED.search(body)
    return body[max(match.start() - 300, 0) : match.end() + 300] if match else None


def check(site: Site, request: FuzzRequest, response, before: dict) -> None:
    """No 5xx, no body over the cap accepted, nothing unescaped, and a refused request changed no domain row."""
    body = response.get_data(as_text=True)
    assert response.status_code < 500, body[:2000]
    size = int(response.request.environ.get("CONTENT_LENGTH") or 0)
    if size > (site.app.config.get("MAX_CONTENT_LENGTH") or BODY_LIMIT):
        assert response.status_code == 413, f"a {size}-byte body was answered {response.status_code}"
    assert _unescaped(body) is None, _unescaped(body)
    if not _saved(response):
        assert snapshot(request.route, request.arguments) == before, "a refused request changed the database"
    location = response.headers.get("HX-Redirect") or response.location or ""
    if location.startswith("/login") or (request.route.endpoint == "auth.logout" and _saved(response)):
        site.logged_in = False
    elif location.startswith("/") and not location.startswith("//"):
        follow = site.client.get(location)
        assert follow.status_code < 500, follow.get_data(as_text=True)[:2000]
        assert _unescaped(follow.get_data(as_text=True)) is None, _unescaped(follow.get_data(as_text=True))
        site.remember_token(follow)
    site.remember_token(response)


def _cases():
    """(route, role, seeded) for every route of the app: as each role the policy lets in, anonymous for public
    routes; first-run setup also before any account exists. Building the app opens no database."""
    app = create_app("testing", sqlite_urls(Path(tempfile.gettempdir()) / "sorriso-url-map-never-opened"))
    for route in url_map_routes(app):
        public = route.endpoint in PUBLIC_ENDPOINTS
        for role in [None] if public else [r for r in sorted(Role) if allowed(route.endpoint, r)]:
            yield pytest.param(route, role, True, id=f"{route.method} {route.rule} {role or 'anonymous'}")
        if route.endpoint == "auth.setup":
            yield pytest.param(route, None, False, id=f"{route.method} {route.rule} before any account")


@pytest.mark.parametrize("route, role, seeded", list(_cases()))
@given(data=st.data())
def test_fuzzed_request_never_crashes_corrupts_or_injects(site, route, role, seeded, data):
    """Hostile path ids, query parameters, form fields and HTMX headers: below 500, escaped, nothing half-saved."""
    if site.role is not None and not site.logged_in:
        site.log_in()
    request = draw_request(data, site, route)
    note(request.describe())
    before = snapshot(route, request.arguments)
    response = request.send(site)
    note(f"answered {response.status_code} {response.location or ''}")
    event(f"answered {response.status_code}")  # pytest --hypothesis-show-statistics
    check(site, request, response, before)
