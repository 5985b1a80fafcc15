"""Property-based tests (hypothesis): search, instalment splits, safe redirects and the audit chain."""

import shutil
import sqlite3
import string
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from app.db import PACIENTES, engine_of
from app.db.actor import acting_as
from app.db.audit import record_event
from app.db.chain import verify_chain
from app.db.unit_of_work import unit_of_work
from app.extensions import db
from app.security import is_safe_next
from app.services import patients
from app.services.plans import split_cents
from tests.conftest import dispose


def on_one_database(examples: int):
    """Settings for properties checked against one test database that the examples share (bounded, no deadline)."""
    return settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# (accented, plain) letters: the plain form is known by construction, not computed by the code under test.
LETTERS = [(c, c) for c in "abcdefghijklmnopqrstuvwxyz"] + [
    (a, p)
    for p, accented in {"a": "áàâãä", "e": "éèêë", "i": "íìîï", "o": "óòôõö", "u": "úùûü", "c": "ç", "n": "ñ"}.items()
    for a in accented
]
WORD = st.lists(st.sampled_from(LETTERS + [(a.upper(), p) for a, p in LETTERS]), min_size=2, max_size=10)


@on_one_database(40)
@given(words=st.lists(WORD, min_size=1, max_size=3), cut=st.integers(min_value=1, max_value=10))
def test_any_accented_name_is_found_by_its_unaccented_prefix(app, words, cut):
    """Typing the start of each word without accents (any case) finds the patient: `joao conc` finds João Conceição."""
    name = " ".join("".join(a for a, _ in word) for word in words)
    plain = ["".join(p for _, p in word) for word in words]
    patient = patients.create_patient({"full_name": f"{name} Teste"})
    query = " ".join(word[:cut].upper() if cut % 2 else word[:cut] for word in plain)
    found = patients.search_patients(query, per_page=100)
    assert patient.id in {p.id for p in found.items}, (name, query)


@settings(max_examples=300)
@given(total=st.integers(min_value=0, max_value=10**12), count=st.integers(min_value=1, max_value=120))
def test_instalment_split_sums_to_the_total_and_is_never_negative(total, count):
    """Instalments add up to the plan's total to the cent, none is negative, and they differ by one cent at most."""
    parts = split_cents(total, count)
    assert len(parts) == count and sum(parts) == total
    assert min(parts) >= 0 and max(parts) - min(parts) <= 1


URLISH = st.text(alphabet=string.printable + "\\\u3002\uff0f\u2044é", max_size=40)


@settings(max_examples=500)
@given(target=st.one_of(URLISH, URLISH.map(lambda t: "/" + t), URLISH.map(lambda t: "//" + t)))
def test_a_safe_next_never_leaves_the_host(target):
    """Whatever `next` says, a target accepted as safe resolves to this site, also as browsers read backslashes."""
    if not is_safe_next(target):
        return
    base = "http://clinica.local/login"
    for candidate in (target, target.replace("\\", "/")):
        resolved = urlsplit(urljoin(base, candidate))
        assert (resolved.scheme, resolved.netloc) == ("http", "clinica.local"), target
    assert not any(ord(ch) < 32 for ch in target)


EVENT = st.fixed_dictionaries(
    {
        "action": st.sampled_from(["create", "update", "view_record", "print_document"]),
        "table": st.sampled_from(["patient", "anamnesis", "appointment"]),
        "changes": st.dictionaries(
            st.text(string.ascii_lowercase, min_size=1, max_size=8),
            st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40), st.text(max_size=20)), min_size=2, max_size=2),
            max_size=3,
        ),
        "actor": st.one_of(st.none(), st.integers(1, 10**6)),
        "path": st.text(max_size=30),
        "addr": st.sampled_from([None, "127.0.0.1", "192.168.0.10", "::1"]),
    }
)


def _append(events) -> None:
    """Record events through the real audit path (outbox, then the inline relay into history's chain)."""
    for event in events:
        with acting_as(event["actor"], event["path"], event["addr"]), unit_of_work(PACIENTES):
            record_event(db.session, PACIENTES, event["action"], event["table"], 1, changes=event["changes"])


@on_one_database(25)
@given(batches=st.lists(st.lists(EVENT, min_size=1, max_size=4), min_size=1, max_size=3))
def test_the_chain_verifies_after_any_sequence_of_appends(app, batches):
    """However many events of whatever content are appended, in whatever batches, the chain verifies."""
    for batch in batches:
        _append(batch)
        report = verify_chain(engine_of("history"), app.config["AUDIT_HMAC_KEY"])
        assert report.ok, report.problem


CHAINED_COLUMNS = [
    "event_id",
    "occurred_at",
    "actor_user_id",
    "action",
    "bind",
    "table_name",
    "row_id",
    "patient_id",
    "changes",
    "request_path",
    "client_addr",
    "prev_hash",
    "hash",
]


@pytest.fixture
def chained_history(app, db_dir):
    """history.db holding a chain of eight varied events."""
    _append(
        [
            {
                "action": "create",
                "table": "patient",
                "changes": {"n": [None, i]},
                "actor": i,
                "path": "/p",
                "addr": None,
            }
            for i in range(8)
        ]
    )
    dispose(app)  # the last connection to close folds the WAL into the file that the examples copy
    return db_dir / "history.db"


@on_one_database(40)
@given(row_id=st.integers(1, 8), column=st.sampled_from(CHAINED_COLUMNS), value=st.text(min_size=1, max_size=12))
def test_any_single_row_change_breaks_the_chain(app, chained_history, tmp_path_factory, row_id, column, value):
    """Changing any chained column of any one row (triggers dropped, as an attacker would) is detected at that row."""
    copy = tmp_path_factory.mktemp("tampered") / "history.db"
    shutil.copy(chained_history, copy)
    conn = sqlite3.connect(copy)
    try:
        conn.execute("DROP TRIGGER audit_event_no_update")
        before = conn.execute(f"SELECT {column} FROM audit_event WHERE id = ?", (row_id,)).fetchone()[0]  # noqa: S608
        if str(before) == value:
            return  # not a change
        conn.execute(f"UPDATE audit_event SET {column} = ? WHERE id = ?", (value, row_id))  # noqa: S608
        conn.commit()
    finally:
        conn.close()
    engine = create_engine(f"sqlite:///{copy}")
    try:
        report = verify_chain(engine, app.config["AUDIT_HMAC_KEY"])
    finally:
        engine.dispose()
    assert not report.ok
    assert report.bad_row_id in (row_id, row_id + 1)  # a changed `hash` shows at the row that chains to it
    if column != "hash":
        assert report.bad_row_id == row_id
