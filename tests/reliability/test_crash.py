"""Crash safety through the real server: gunicorn as `make run` starts it, a storm of writes through the real
forms (registering patients, booking appointments, recording payments) and `kill -9` of the whole process group
at several moments: at a random point of the storm (requests in flight), as soon as the outbox holds events the
background relay has not delivered yet (mid-relay), and right after a burst of writes was answered. After each
kill the server is started again; at the end every write that got a success answer is there, each created row
has exactly one create event in history and one timeline line, every event a kill left in an outbox reached
history, every database passes integrity_check, and `flask audit verify` passes (SPEC 7 and 10)."""

import functools
import http.client
import http.cookiejar
import itertools
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

import pytest

from app.db import BIND_KEYS
from app.db.audit import AUDITED_BINDS
from tests.conftest import build_app, dispose, sqlite_urls
from tests.factories import make_patient, make_user
from tests.factories_finance import make_dentist, make_plan, workday
from tests.support import PASSWORD, ROOT, run_flask

pytestmark = pytest.mark.slow

LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|<meta name="csrf-token" content="([^"]+)"')
NEW_RECEIPT = re.compile(r'href="/payments/receipts/(\d+)"[^>]*data-testid="new-receipt"')
# Where a kill lands: at a random point of the storm, as soon as the outbox holds events not relayed yet, or
# right after a burst of writes has had its answers (see `strike`).
MOMENTS = ("request", "relay", "burst", "request", "relay", "burst")
WRITERS = 2  # per kind of write: each booking writer has its own dentist and patient, each payer its own plan
SLOT_MINUTES, OPENS, SLOTS_A_DAY = 15, 8 * 60, 40  # 08:00 to 18:00, the default opening hours of weekdays
PLAN_PRICE_CENTS = 90_000_000  # room for hundreds of payments
PAYMENT_TYPED, PAYMENT_CENTS = "1.234,56", 123_456
# The timeline line each created row gets (a receipt has none: its payment's line tells the story).
TIMELINE_KINDS = {"patient": "patient_created", "appointment": "appointment_booked", "payment": "payment"}
NETWORK_ERRORS = (urllib.error.URLError, OSError, http.client.HTTPException)


class Server:
    """gunicorn with gunicorn.conf.py in its own process group, on the test's databases."""

    def __init__(self, db_dir, log_path):
        self.env = {
            **os.environ,
            **sqlite_urls(db_dir),
            "SORRISO_ENV": "testing",
            "SORRISO_INSTANCE_PATH": str(db_dir),  # its metrics files too: never the repository's instance/
            "AUDIT_RELAY_MODE": "background",
        }
        self.log_path = log_path

    def start(self) -> str:
        self.log_path.write_text("")
        with self.log_path.open("a") as log:
            command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", "127.0.0.1:0"]
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = LISTENING.search(self.log_path.read_text())
            if found:
                base = f"http://127.0.0.1:{found.group(1)}"
                if _status(base + "/healthz") == 200:
                    return base
            time.sleep(0.1)
        pytest.fail("gunicorn did not start:\n" + self.log_path.read_text())

    def kill9(self) -> None:
        """SIGKILL to the master and every worker at once: nobody gets to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """A clean stop (SIGTERM): workers finish, drain their relay and exit."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except NETWORK_ERRORS:
        return 0


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def staff_client(base: str, username: str):
    """A cookie-keeping client logged in through the real login form; None if the server is gone."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)
    try:
        token = form_token(opener, f"{base}/login")
        status, _, _ = post(opener, f"{base}/login", {"csrf_token": token, "username": username, "password": PASSWORD})
    except NETWORK_ERRORS:
        return None
    return opener if status == 302 else None


def form_token(opener, url: str) -> str | None:
    """The CSRF token of the session, read from a form page (None if the page has none)."""
    with opener.open(url, timeout=10) as response:
        match = CSRF_FIELD.search(response.read().decode())
    return (match.group(1) or match.group(2)) if match else None


def post(opener, url: str, fields: dict, headers: dict | None = None) -> tuple[int, str, str]:
    """POST a form: (status, Location, body); network errors (the kill) propagate."""
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), headers=headers or {})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, "", response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location") or "", ""


@dataclass
class Clinic:
    """What the writers need, created with the factories before the server starts."""

    username: str
    dentists: list[int]
    patients: list[int]
    plans: list[int]
    days: list[str]  # weekdays ahead, YYYY-MM-DD


def prepare(db_dir) -> Clinic:
    """A receptionist; per booking writer a dentist and a patient; per payer an approved plan with room to pay."""
    app = build_app(db_dir)
    with app.app_context():
        clinic = Clinic(
            username=make_user("receptionist").username,
            dentists=[make_dentist().id for _ in range(WRITERS)],
            patients=[make_patient().id for _ in range(WRITERS)],
            plans=[make_plan(prices=(PLAN_PRICE_CENTS,), approve=True).id for _ in range(WRITERS)],
            days=[workday(offset).isoformat() for offset in range(1, 61)],
        )
    dispose(app)
    return clinic


# Each kind of write: the form page its token is read from, and one attempt (status, acknowledged row or None).


def register_patient(opener, token: str, base: str, clinic: Clinic, writer: int, n: int):
    """The new-patient form; success is a redirect to the new record: (id, name)."""
    name = f"Tempestade P{writer} N{n}"
    fields = {"full_name": name, "phone": "(11) 98765-4321"}
    status, location, _ = post(opener, f"{base}/patients/new", {"csrf_token": token, **fields})
    found = re.search(r"/patients/(\d+)(?:$|[/?#])", location) if status == 302 else None
    return status, (int(found.group(1)), name) if found else None


def book_appointment(opener, token: str, base: str, clinic: Clinic, writer: int, n: int):
    """The booking form, a new 15-minute slot each time in the writer's own dentist's agenda; success is a
    redirect to the agenda naming the appointment: (id, note)."""
    minutes = OPENS + (n % SLOTS_A_DAY) * SLOT_MINUTES
    note = f"Tempestade A{writer} N{n}"
    fields = {
        "csrf_token": token,
        "dentist": clinic.dentists[writer],
        "starts_at": f"{clinic.days[n // SLOTS_A_DAY]}T{minutes // 60:02d}:{minutes % 60:02d}",
        "duration": SLOT_MINUTES,
        "patient_id": clinic.patients[writer],
        "notes": note,
        "confirm_holiday": "y",  # a national holiday among the days ahead needs the box; it is ignored otherwise
    }
    status, location, _ = post(opener, f"{base}/agenda/book", fields)
    found = re.search(r"[?&]booked=(\d+)", location) if status == 302 else None
    return status, (int(found.group(1)), note) if found else None


def record_payment(opener, token: str, base: str, clinic: Clinic, writer: int, n: int):
    """The cash desk's payment form as HTMX posts it; success swaps in the plan with the new receipt's link:
    (receipt number, plan id)."""
    plan_id = clinic.plans[writer]
    fields = {"csrf_token": token, "method": "cash", "amount": PAYMENT_TYPED, "installment": ""}
    status, _, body = post(opener, f"{base}/payments/plans/{plan_id}/pay", fields, {"HX-Request": "true"})
    found = NEW_RECEIPT.search(body) if status == 200 else None
    return status, (int(found.group(1)), plan_id) if found else None


KINDS = {
    "patient": (lambda clinic, writer: "/patients/new", register_patient),
    "appointment": (lambda clinic, writer: "/agenda/book", book_appointment),
    "payment": (lambda clinic, writer: f"/payments/plans/{clinic.plans[writer]}/pay", record_payment),
}


@dataclass
class Tally:
    """What the writers saw over every round."""

    acknowledged: dict[str, list] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    answers: Counter = field(default_factory=Counter)  # (kind, "ok" | status) -> count
    problems: list[str] = field(default_factory=list)  # anything but a success, a refusal or a dropped connection
    # A writer never reuses a sequence number, so a slot booked by a write the kill left unanswered stays unused.
    sequences: dict = field(default_factory=lambda: {(k, w): itertools.count() for k in KINDS for w in range(WRITERS)})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sizes(self) -> dict[str, int]:
        """How many writes of each kind were acknowledged so far."""
        return {kind: len(rows) for kind, rows in self.acknowledged.items()}

    def each_kind_since(self, sizes: dict[str, int]) -> bool:
        """Whether every kind of write has had an acknowledgement since `sizes`."""
        return all(len(self.acknowledged[kind]) > sizes[kind] for kind in KINDS)

    def note(self, kind: str, status: int, row) -> None:
        """One answer: acknowledged (a row), refused (a 4xx or the form with its errors), or a server error."""
        with self.lock:
            self.answers[kind, "ok" if row else status] += 1
            if row:
                self.acknowledged[kind].append(row)
            elif status >= 500:
                self.problems.append(f"{kind}: HTTP {status}")


def storm(base: str, clinic: Clinic, stop: threading.Event, tally: Tally) -> list[threading.Thread]:
    """WRITERS threads per kind of write, each as fast as the server answers, until `stop` or the kill."""

    def writer(kind: str, number: int):
        form_path, attempt = KINDS[kind]
        try:
            opener = staff_client(base, clinic.username)
            if opener is None:
                return
            token = form_token(opener, base + form_path(clinic, number))
            while token and not stop.is_set():
                tally.note(kind, *attempt(opener, token, base, clinic, number, next(tally.sequences[kind, number])))
        except NETWORK_ERRORS:
            return  # the kill: this write may or may not have been stored, and it was not acknowledged
        except Exception as exc:  # a bug of the test itself must fail it, not hide in a thread
            tally.problems.append(f"{kind}: {exc!r}")

    threads = [threading.Thread(target=writer, args=(k, n), daemon=True) for k in KINDS for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    return threads


def read_only(db_dir, bind: str) -> sqlite3.Connection:
    """A read-only connection: it neither takes a write lock from the server nor checkpoints a killed one's WAL."""
    return sqlite3.connect(f"file:{db_dir / f'{bind}.db'}?mode=ro", uri=True, timeout=5)


def outbox_events(db_dir, bind: str) -> list[dict]:
    """The events waiting in a bind's outbox (each with its event_id)."""
    conn = read_only(db_dir, bind)
    try:
        payloads = [json.loads(p) for (p,) in conn.execute("SELECT payload FROM audit_outbox")]
    finally:
        conn.close()
    return [event for payload in payloads for event in payload["events"]]


def outbox_pending(db_dir) -> int:
    """Outbox rows of pacientes the relay has not delivered yet."""
    conn = read_only(db_dir, "pacientes")
    try:
        return conn.execute("SELECT count(*) FROM audit_outbox").fetchone()[0]
    finally:
        conn.close()


def in_history(db_dir, events: list[dict]) -> int:
    """How many of these outbox events history holds already: the kill came between the relay's two steps."""
    conn = read_only(db_dir, "history")
    try:
        held = {
            e for (e,) in conn.execute("SELECT event_id FROM audit_event UNION SELECT event_id FROM timeline_event")
        }
    finally:
        conn.close()
    return sum(e["event_id"] in held for e in events)


def strike(server: Server, moment: str, rng: random.Random, db_dir, stop: threading.Event, threads, flowing) -> dict:
    """Once every kind of write has been answered (a busy machine can take a while), let the storm run a jittered
    while, then kill -9: at once ("request"), as soon as the outbox holds events ("relay"), or once the writers
    have had their last answers and only the relay may still be at work ("burst")."""
    deadline = time.monotonic() + 60
    while not flowing() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5 + rng.random() * 1.5)
    pending = None
    if moment == "burst":
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    if moment in ("relay", "burst"):
        deadline = time.monotonic() + (3 if moment == "relay" else 0.5)
        while not (pending := outbox_pending(db_dir)) and time.monotonic() < deadline:
            time.sleep(0.001)
    server.kill9()
    return {"moment": moment, "pending_at_kill": pending}


def rows(db_dir, bind: str, sql: str, *args) -> list:
    conn = sqlite3.connect(db_dir / f"{bind}.db")
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def counts(db_dir, sql: str) -> dict:
    """{row id: count} from a history query grouping by row id."""
    return dict(rows(db_dir, "history", sql))


def exactly_once(ids, found: dict) -> list:
    """The ids that have not exactly one entry in `found`."""
    return sorted(i for i in ids if found.get(i) != 1)


def run_rounds(server: Server, clinic: Clinic, db_dir, tally: Tally, rng: random.Random):
    """One storm and one kill per moment; returns what each kill left and every event left in an outbox."""
    kills, left_behind = [], []
    for moment in MOMENTS:
        base = server.start()
        stop = threading.Event()
        flowing = functools.partial(tally.each_kind_since, tally.sizes())
        threads = storm(base, clinic, stop, tally)
        kill = strike(server, moment, rng, db_dir, stop, threads, flowing)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        left = [e for bind in AUDITED_BINDS for e in outbox_events(db_dir, bind)]
        left_behind += left
        kills.append({**kill, "left_in_outbox": len(left), "of_them_in_history": in_history(db_dir, left)})
    return kills, left_behind


def restart_and_drain(server: Server, db_dir) -> None:
    """A last start relays what the killed processes left in the outboxes; then a clean stop."""
    server.start()
    deadline = time.monotonic() + 30
    while any(outbox_events(db_dir, bind) for bind in AUDITED_BINDS) and time.monotonic() < deadline:
        time.sleep(0.2)
    server.stop()
    for bind in AUDITED_BINDS:
        assert rows(db_dir, bind, "SELECT count(*) FROM audit_outbox") == [(0,)], f"{bind} outbox not drained"


def stored_as_answered(db_dir, clinic: Clinic, tally: Tally, report: str) -> dict[str, set]:
    """Assert every acknowledged write is stored as it was answered; returns the ids the storm created per table."""
    patients = dict(rows(db_dir, "pacientes", "SELECT id, full_name FROM patient WHERE full_name LIKE 'Tempestade %'"))
    lost = [row for row in tally.acknowledged["patient"] if patients.get(row[0]) != row[1]]
    assert lost == [], f"acknowledged patients lost: {lost[:5]}; {report}"
    appointments = dict(rows(db_dir, "pacientes", "SELECT id, notes FROM appointment WHERE notes LIKE 'Tempestade %'"))
    lost = [row for row in tally.acknowledged["appointment"] if appointments.get(row[0]) != row[1]]
    assert lost == [], f"acknowledged appointments lost: {lost[:5]}; {report}"
    payments = rows(
        db_dir,
        "pacientes",
        "SELECT r.number, p.id, p.plan_id, p.amount_cents FROM payment p LEFT JOIN receipt r ON r.payment_id = p.id"
        f" WHERE p.plan_id IN ({','.join('?' * len(clinic.plans))})",
        *clinic.plans,
    )
    assert all(number is not None for number, *_ in payments), "a payment without its receipt"
    receipts = {number: (plan_id, cents) for number, _, plan_id, cents in payments}
    lost = [row for row in tally.acknowledged["payment"] if receipts.get(row[0]) != (row[1], PAYMENT_CENTS)]
    assert lost == [], f"acknowledged payments lost: {lost[:5]}; {report}"
    return {
        "patient": set(patients),
        "appointment": set(appointments),
        "payment": {payment_id for _, payment_id, _, _ in payments},
        "receipt": set(receipts),
    }


def assert_one_event_each(db_dir, created: dict[str, set], report: str) -> None:
    """Each created row (answered or not) has exactly one create event and, where the domain writes one, one
    timeline line; no event or line names a row that does not exist (a write the kill rolled back)."""
    for table, ids in created.items():
        key = "number" if table == "receipt" else "id"
        stored = {row_id for (row_id,) in rows(db_dir, "pacientes", f"SELECT {key} FROM {table}")}
        events = counts(
            db_dir,
            f"SELECT row_id, count(*) FROM audit_event WHERE table_name = '{table}' AND action = 'create' "
            "GROUP BY row_id",
        )
        assert exactly_once(ids, events) == [], f"{table}: not exactly one create event; {report}"
        assert set(events) <= stored, f"{table}: create events of rows that do not exist; {report}"
        if table in TIMELINE_KINDS:
            lines = counts(
                db_dir,
                "SELECT source_row_id, count(*) FROM timeline_event "
                f"WHERE source_table = '{table}' AND kind = '{TIMELINE_KINDS[table]}' GROUP BY source_row_id",
            )
            assert exactly_once(ids, lines) == [], f"{table}: not exactly one timeline line; {report}"
            assert set(lines) <= stored, f"{table}: timeline lines of rows that do not exist; {report}"


def assert_delivered(db_dir, left_behind: list[dict], report: str) -> None:
    """Every event a kill left in an outbox is in history (its audit part and its timeline part)."""
    audit_ids = {e for (e,) in rows(db_dir, "history", "SELECT event_id FROM audit_event")}
    timeline_ids = {e for (e,) in rows(db_dir, "history", "SELECT event_id FROM timeline_event")}
    undelivered = [
        e["event_id"]
        for e in left_behind
        if ("audit" in e and e["event_id"] not in audit_ids) or ("timeline" in e and e["event_id"] not in timeline_ids)
    ]
    assert undelivered == [], f"outbox events that never reached history: {undelivered[:5]}; {report}"


def test_kill_9_during_a_write_storm_loses_no_acknowledged_write(db_dir, tmp_path):
    """Acknowledged patients, appointments and payments survive kill -9 at any moment, with their events once."""
    clinic = prepare(db_dir)
    server = Server(db_dir, tmp_path / "gunicorn.log")
    tally, seed = Tally(), random.randrange(10**6)  # the seed of the kill moments, in every failure message
    kills, left_behind = run_rounds(server, clinic, db_dir, tally, random.Random(seed))
    report = f"seed {seed}, kills {kills}, answers {dict(tally.answers)}"
    assert tally.problems == [], report
    for kind in KINDS:
        assert len(tally.acknowledged[kind]) >= len(MOMENTS), f"too few {kind} writes before the kills: {report}"

    restart_and_drain(server, db_dir)
    created = stored_as_answered(db_dir, clinic, tally, report)
    assert_one_event_each(db_dir, created, report)
    assert_delivered(db_dir, left_behind, report)
    for bind in BIND_KEYS:
        assert rows(db_dir, bind, "PRAGMA integrity_check") == [("ok",)], bind
    verified = run_flask(db_dir, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    print(f"\ncrash storm: {report}; acknowledged", {k: len(v) for k, v in tally.acknowledged.items()})
