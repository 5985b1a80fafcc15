"""Migrations: every bind to head and back, one bind alone, autogenerate in sync, on SQLite and PostgreSQL."""

import hashlib
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import CheckConstraint, inspect, text
from sqlalchemy.exc import DBAPIError

from app import create_app
from app.db import BIND_KEYS, HISTORY, PACIENTES, USERS, engine_of, metadata_of
from app.extensions import db
from tests.conftest import sqlite_urls
from tests.support import run_flask

HEAD = "0011"
BEFORE_EXAM_REQUESTS = "0013"  # the revision 0010 (exam requests) revises


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def urls(request, tmp_path):
    """Empty databases for the three binds: SQLite files in tmp_path, or throw-away PostgreSQL databases."""
    if request.param == "sqlite":
        folder = tmp_path / "instance"
        folder.mkdir()
        return sqlite_urls(folder)
    return request.getfixturevalue("pg_urls")


@pytest.fixture
def empty_app(urls):
    """An app on empty databases, app context pushed, engines disposed afterwards."""
    app = create_app("testing", urls)
    with app.app_context():
        yield app
        for engine in db.engines.values():
            engine.dispose()


def tables_of(bind: str) -> set[str]:
    """Table names present in one bind's database."""
    return set(inspect(engine_of(bind)).get_table_names())


def revision_of(bind: str) -> str | None:
    """The alembic_version stored in one bind's database."""
    if "alembic_version" not in tables_of(bind):
        return None
    with engine_of(bind).connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def schema_differences() -> dict[str, list]:
    """Autogenerate's comparison of models and database, per bind (empty lists mean in sync)."""
    diffs = {}
    for bind in BIND_KEYS:
        with engine_of(bind).connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
            diffs[bind] = compare_metadata(ctx, metadata_of(bind))
    return diffs


def test_empty_instance_upgrades_every_bind_to_head(empty_app):
    """`flask db upgrade` on nothing creates the three databases, each with its own alembic_version at head."""
    upgrade()
    for bind in BIND_KEYS:
        assert revision_of(bind) == HEAD
    assert {"patient", "appointment", "payment", "receipt", "audit_outbox"} <= tables_of("pacientes")
    assert tables_of("users") == {
        "user",
        "staff_session",
        "login_throttle",
        "user_preference",
        "audit_outbox",
        "alembic_version",
    }
    assert tables_of("history") == {"audit_event", "timeline_event", "alembic_version"}


def test_autogenerate_finds_no_difference_after_upgrade(empty_app):
    """Models and migrated databases agree for every bind (compare_metadata returns nothing)."""
    upgrade()
    assert schema_differences() == {bind: [] for bind in BIND_KEYS}


def test_flask_db_check_reports_no_pending_changes(urls):
    """The real `flask db check` command agrees that no new migration is needed."""
    assert run_flask(urls, "db", "upgrade").returncode == 0
    result = run_flask(urls, "db", "check")
    assert result.returncode == 0, result.stderr
    assert "No new upgrade operations detected" in result.stdout + result.stderr


@pytest.mark.parametrize("bind", BIND_KEYS)
def test_downgrade_to_base_and_upgrade_again_per_bind(empty_app, bind):
    """One bind goes down to base and back up; the other two stay at head throughout."""
    upgrade()
    downgrade(revision="base", x_arg=[f"bind={bind}"])
    assert tables_of(bind) <= {"alembic_version"}
    assert revision_of(bind) is None
    for other in set(BIND_KEYS) - {bind}:
        assert revision_of(other) == HEAD
    upgrade(x_arg=[f"bind={bind}"])
    assert {b: revision_of(b) for b in BIND_KEYS} == dict.fromkeys(BIND_KEYS, HEAD)
    assert schema_differences()[bind] == []


@pytest.mark.parametrize("bind", BIND_KEYS)
def test_upgrading_one_bind_leaves_other_databases_untouched(urls, bind):
    """`flask db upgrade -x bind=X` on an empty instance creates X only; the other databases get nothing."""
    result = run_flask(urls, "db", "upgrade", "-x", f"bind={bind}")
    assert result.returncode == 0, result.stderr
    app = create_app("testing", urls)
    with app.app_context():
        assert revision_of(bind) == HEAD
        for other in set(BIND_KEYS) - {bind}:
            if urls[f"{other.upper()}_DATABASE_URL"].startswith("sqlite"):
                continue  # checked without connecting (connecting would create the file)
            assert tables_of(other) == set()
        for engine in db.engines.values():
            engine.dispose()
    for other in set(BIND_KEYS) - {bind}:
        url = urls[f"{other.upper()}_DATABASE_URL"]
        if url.startswith("sqlite"):
            assert not Path(url.removeprefix("sqlite:///")).exists()


def _fingerprint(folder: Path) -> dict[str, str | None]:
    """sha256 of every database file (and its -wal / -shm companions), None when absent."""
    prints = {}
    for bind in BIND_KEYS:
        for suffix in ("", "-wal", "-shm"):
            path = folder / f"{bind}.db{suffix}"
            prints[path.name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
    return prints


def test_migrating_users_alone_leaves_other_files_byte_for_byte_unchanged(tmp_path):
    """With all three databases at head, downgrading and upgrading users alone never writes the other files."""
    folder = tmp_path / "instance"
    folder.mkdir()
    urls = sqlite_urls(folder)
    assert run_flask(urls, "db", "upgrade").returncode == 0
    before = _fingerprint(folder)
    for args in (("db", "downgrade", "base", "-x", "bind=users"), ("db", "upgrade", "-x", "bind=users")):
        result = run_flask(urls, *args)
        assert result.returncode == 0, result.stderr
    after = _fingerprint(folder)
    for bind in ("pacientes", "history"):
        for suffix in ("", "-wal", "-shm"):
            name = f"{bind}.db{suffix}"
            assert after[name] == before[name], name
    assert after["users.db"] is not None


def test_unknown_bind_is_refused_with_a_message(tmp_path):
    """A mistyped bind name gives a readable message and a non-zero exit, not a traceback."""
    folder = tmp_path / "instance"
    folder.mkdir()
    result = run_flask(sqlite_urls(folder), "db", "upgrade", "-x", "bind=pacients")
    assert result.returncode != 0
    assert "Banco desconhecido 'pacients'" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "table, statement",
    [
        ("clinical_note", "UPDATE clinical_note SET text = 'reescrito'"),
        ("clinical_note", "DELETE FROM clinical_note"),
        ("issued_document", "UPDATE issued_document SET content = 'outro'"),
        ("issued_document", "DELETE FROM issued_document"),
    ],
)
def test_clinical_records_are_append_only_in_the_database(empty_app, table, statement):
    """Notes and issued documents refuse UPDATE and DELETE from raw SQL too, on both backends."""
    upgrade()
    engine = engine_of(PACIENTES)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO patient (full_name, search_name, is_active, created_at, updated_at) "
                "VALUES ('Ana', 'ana', true, :t, :t)"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO clinical_note (patient_id, dentist_user_id, text, created_at) "
                "VALUES (1, 1, 'Dor no 16', :t)"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO issued_document (patient_id, dentist_user_id, kind, content, issued_at) "
                "VALUES (1, 1, 'certificate', 'Atesto', :t)"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 1


@pytest.mark.parametrize("statement", ["UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"])
def test_history_triggers_refuse_changes_after_migration(empty_app, statement):
    """On both backends the migration installs triggers that refuse UPDATE and DELETE of audit rows."""
    upgrade()
    engine = engine_of(HISTORY)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_event (event_id, occurred_at, action, bind, table_name, changes, prev_hash, hash) "
                "VALUES ('e1', :t, 'create', 'users', 'user', '{}', '0', '1')"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar() == 1


def test_search_token_migration_backfills_existing_patients(empty_app):
    """Patients registered before revision 0004 become findable by name, CPF and phone after the upgrade."""
    from app.services.patients import search_patients

    upgrade(revision="0003")
    with engine_of(PACIENTES).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO patient (full_name, search_name, cpf, phone_digits, is_active, created_at, updated_at) "
                "VALUES ('João da Conceição', 'joao da conceicao', '52998224725', '11987654321', true, :t, :t)"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
    upgrade()
    for query in ("conce", "JOAO", "529.982", "(11) 98765", "98765"):
        assert search_patients(query).total == 1, query


def test_session_migration_keeps_accounts_and_goes_back_with_fresh_tokens(empty_app):
    """Revision 0005 keeps existing accounts; taking users back to 0004 gives each a new non-empty session token."""
    upgrade(revision="0004")
    users_engine = engine_of(USERS)
    with users_engine.begin() as conn:
        conn.execute(
            text(
                'INSERT INTO "user" (username, full_name, password_hash, role, is_active, failed_logins, '
                "session_token, created_at, updated_at) "
                "VALUES ('ana', 'Ana', 'scrypt:x', 'admin', true, 3, 'old-token', :t, :t)"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
    upgrade()
    assert {"staff_session", "login_throttle"} <= tables_of("users")
    with users_engine.connect() as conn:
        assert conn.execute(text('SELECT username, failed_logins FROM "user"')).all() == [("ana", 3)]
    downgrade(revision="0004", x_arg=["bind=users"])
    with users_engine.connect() as conn:
        [(token,)] = conn.execute(text('SELECT session_token FROM "user"')).all()
    assert token and len(token) == 64 and token != "old-token"
    assert "staff_session" not in tables_of("users")


# Rows stored before revision 0006, with the upper-case values of that time: every plan status, payment kind
# (a refund pointing at a payment) and anamnesis status, plus rows referencing the plan (item, instalment).
VOCABULARY_ROWS_0005 = (
    "INSERT INTO patient (id, full_name, search_name, is_active, created_at, updated_at) "
    "VALUES (1, 'Ana', 'ana', true, :t, :t), (2, 'Bia', 'bia', true, :t, :t)",
    "INSERT INTO anamnesis (patient_id, status, updated_at) VALUES (1, 'PENDING', :t), (2, 'COMPLETE', :t)",
    "INSERT INTO procedure (id, code, name, default_price_cents, is_active) VALUES (1, 'P1', 'Limpeza', 100, true)",
    "INSERT INTO treatment_plan (id, patient_id, dentist_user_id, status, created_at, updated_at) "
    "VALUES (1, 1, 1, 'PROPOSED', :t, :t), (2, 1, 1, 'APPROVED', :t, :t), (3, 2, 1, 'COMPLETED', :t, :t)",
    "INSERT INTO treatment_item (plan_id, procedure_id, name, price_cents, done) VALUES (2, 1, 'Limpeza', 100, false)",
    "INSERT INTO installment (plan_id, number, due_date, amount_cents) VALUES (2, 1, '2026-02-01', 100)",
    "INSERT INTO payment (id, plan_id, amount_cents, method, kind, reason, paid_at, clinic_day, "
    "received_by_user_id, refund_of_id) VALUES "
    "(1, 2, 50, 'pix', 'PAYMENT', NULL, :t, '2026-01-01', 1, NULL), "
    "(2, 2, 10, 'other', 'ADJUSTMENT', 'Desconto', :t, '2026-01-01', 1, NULL), "
    "(3, 2, -50, 'pix', 'REFUND', NULL, :t, '2026-01-01', 1, 1)",
)


def _vocabulary_values() -> dict[str, list[str]]:
    """The stored plan statuses, payment kinds and anamnesis statuses, in id order."""
    with db.engines[None].connect() as conn:
        return {
            table: list(conn.execute(text(f"SELECT {column} FROM {table} ORDER BY id")).scalars())
            for table, column in (("treatment_plan", "status"), ("payment", "kind"), ("anamnesis", "status"))
        }


def _refused(statement: str) -> bool:
    """Whether the pacientes database refuses `statement` (a CHECK constraint), leaving the data unchanged."""
    try:
        with db.engines[None].begin() as conn:
            conn.execute(text(statement))
    except DBAPIError:
        return True
    return False


def test_vocabulary_migration_lower_cases_stored_values_and_back(empty_app):
    """0006 rewrites upper-case plan, payment and anamnesis values in lower case, CHECKs too; downgrade undoes it."""
    upgrade(revision="0005")
    with db.engines[None].begin() as conn:
        for statement in VOCABULARY_ROWS_0005:
            conn.execute(text(statement), {"t": "2026-01-01 00:00:00"})
    upper = _vocabulary_values()
    assert upper == {
        "treatment_plan": ["PROPOSED", "APPROVED", "COMPLETED"],
        "payment": ["PAYMENT", "ADJUSTMENT", "REFUND"],
        "anamnesis": ["PENDING", "COMPLETE"],
    }

    upgrade()
    assert _vocabulary_values() == {table: [value.lower() for value in values] for table, values in upper.items()}
    assert schema_differences()["pacientes"] == []
    assert _refused("UPDATE treatment_plan SET status = 'APPROVED' WHERE id = 1")
    assert _refused("UPDATE anamnesis SET status = 'COMPLETE' WHERE id = 1")
    assert _refused("UPDATE payment SET kind = 'PAYMENT' WHERE id = 1")
    assert _refused("UPDATE payment SET reason = NULL WHERE id = 2")  # an adjustment needs its reason
    assert _refused("UPDATE payment SET refund_of_id = NULL WHERE id = 3")  # a refund names its payment
    with db.engines[None].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM treatment_item WHERE plan_id = 2")).scalar() == 1

    downgrade(revision="0005", x_arg=["bind=pacientes"])
    assert _vocabulary_values() == upper
    assert _refused("UPDATE treatment_plan SET status = 'approved' WHERE id = 1")
    assert _refused("UPDATE payment SET reason = NULL WHERE id = 2")
    assert _vocabulary_values() == upper


def test_model_check_constraints_match_the_migrated_database(app):
    """Every CHECK constraint of the models reads exactly as the migrations created it (SQLite keeps the text)."""
    for bind in BIND_KEYS:
        database = inspect(engine_of(bind))
        for table in metadata_of(bind).tables.values():
            model = {c.name: str(c.sqltext) for c in table.constraints if isinstance(c, CheckConstraint)}
            stored = {c["name"]: c["sqltext"] for c in database.get_check_constraints(table.name)}
            assert model == stored, table.name


def test_sqlite_migration_refuses_to_commit_orphan_rows_and_keeps_foreign_keys_on(tmp_path):
    """SQLite migrates with enforcement off (table rebuilds need it) but commits nothing that leaves an orphan row."""
    folder = tmp_path / "instance"
    folder.mkdir()
    urls = sqlite_urls(folder)
    assert run_flask(urls, "db", "upgrade", "0005").returncode == 0
    raw = sqlite3.connect(folder / "pacientes.db")  # enforcement is off by default: plant an orphan
    with raw:
        raw.execute("INSERT INTO anamnesis (patient_id, status, updated_at) VALUES (99, 'PENDING', '2026-01-01')")
    raw.close()
    result = run_flask(urls, "db", "upgrade")
    assert result.returncode != 0
    assert "would leave rows without their parent in: anamnesis" in result.stderr
    app = create_app("testing", urls)
    with app.app_context():
        assert revision_of("pacientes") == "0005"
        with db.engines[None].connect() as conn:
            assert conn.exec_driver_sql("SELECT status FROM anamnesis").scalar() == "PENDING"
        for engine in db.engines.values():
            engine.dispose()


def test_sqlite_migration_gives_its_connection_back_with_foreign_keys_on(tmp_path):
    """The pooled connection a migration used enforces foreign keys again afterwards."""
    folder = tmp_path / "instance"
    folder.mkdir()
    app = create_app("testing", sqlite_urls(folder))
    with app.app_context():
        upgrade()
        with db.engines[None].connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        for engine in db.engines.values():
            engine.dispose()


def _patient_typed_before_0007(conn, name: str, phone: str | None) -> int:
    """A patient as the services stored it before revision 0007: phone as typed, its digits, tokens by 0004's rule."""
    digits = "".join(ch for ch in phone or "" if ch.isdigit()) or None
    patient_id = conn.execute(
        text(
            "INSERT INTO patient (full_name, search_name, phone, phone_digits, is_active, created_at, updated_at) "
            "VALUES (:name, :search, :phone, :digits, true, :t, :t) RETURNING id"
        ),
        {"name": name, "search": name.lower(), "phone": phone, "digits": digits, "t": "2026-01-01 00:00:00"},
    ).scalar()
    tokens = {name.lower()} | ({digits, digits[2:]} if digits and len(digits) >= 10 else {digits} - {None})
    for token in tokens:
        conn.execute(text("INSERT INTO patient_search_token VALUES (:id, :token)"), {"id": patient_id, "token": token})
    return patient_id


def test_phone_migration_stores_e164_and_keeps_every_phone_findable(empty_app):
    """Revision 0007 turns typed phones into E.164 (an unparseable one stays as typed), finds them by +55, area
    code or number alone; downgrade writes them back in the national form."""
    from app.services.patients import search_patients

    upgrade(revision="0007-1")
    with db.engines[None].begin() as conn:
        mobile = _patient_typed_before_0007(conn, "Ana", "(11) 98765-4321")
        landline = _patient_typed_before_0007(conn, "Bia", "+55 21 3333-2222")
        foreign = _patient_typed_before_0007(conn, "Cid", "+1 650 253 0000")
        typo = _patient_typed_before_0007(conn, "Dai", "(11) 1234-5678")
        _patient_typed_before_0007(conn, "Eva", None)
    upgrade()

    def phones() -> dict:
        with db.engines[None].connect() as conn:
            return {row[0]: tuple(row[1:]) for row in conn.execute(text("SELECT id, phone, phone_digits FROM patient"))}

    stored = phones()
    assert stored[mobile] == ("+5511987654321", "11987654321")
    assert stored[landline] == ("+552133332222", "2133332222")
    assert stored[foreign] == ("+16502530000", "6502530000")
    assert stored[typo] == ("(11) 1234-5678", "1112345678")
    expected = {"+55 11 98765": mobile, "(11) 98765-4321": mobile, "98765-4321": mobile, "2133": landline}
    expected |= {"+55 (21) 3333": landline, "3333-2222": landline, "+1 650": foreign, "(11) 1234": typo}
    for query, patient_id in expected.items():
        assert [p.id for p in search_patients(query).items] == [patient_id], query

    downgrade(revision="0007-1")
    restored = phones()
    assert restored[mobile] == ("(11) 98765-4321", "11987654321")
    assert restored[landline] == ("(21) 3333-2222", "2133332222")
    assert restored[foreign] == ("+1 650-253-0000", "16502530000")
    assert restored[typo] == stored[typo]
    for query in ("(11) 98765", "98765-4321", "(21) 3333-2222", "3333"):
        assert search_patients(query).total == 1, query


def _pacientes_refuses(statement: str, match: str) -> None:
    """The pacientes database refuses `statement` with an error naming `match`."""
    with pytest.raises(DBAPIError, match=match), engine_of(PACIENTES).begin() as conn:
        conn.execute(text(statement))


def _count(table: str) -> int:
    with engine_of(PACIENTES).connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()


def test_exam_request_migration_keeps_documents_append_only_on_both_backends(empty_app):
    """0010 widens issued_document's kinds by rebuilding it, and its triggers still refuse UPDATE and DELETE after
    upgrade and after downgrade; the new link and print tables are append-only too."""
    upgrade(revision=BEFORE_EXAM_REQUESTS)
    stamp = {"t": "2026-01-01 00:00:00"}
    with engine_of(PACIENTES).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO patient (full_name, search_name, is_active, created_at, updated_at) "
                "VALUES ('Ana', 'ana', true, :t, :t)"
            ),
            stamp,
        )
        conn.execute(
            text(
                "INSERT INTO issued_document (patient_id, dentist_user_id, kind, content, issued_at) "
                "VALUES (1, 1, 'certificate', 'Atesto', :t)"
            ),
            stamp,
        )
    _pacientes_refuses(
        "INSERT INTO issued_document (patient_id, dentist_user_id, kind, content, issued_at) "
        "VALUES (1, 1, 'exam_request', 'x', '2026-01-01 00:00:00')",
        "ck_issued_document_kind|CHECK",
    )

    upgrade()
    assert _count("issued_document") == 1  # the rebuild kept the document
    with engine_of(PACIENTES).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO issued_document (patient_id, dentist_user_id, kind, content, issued_at) "
                "VALUES (1, 1, 'exam_request', 'Radiografia panorâmica', :t)"
            ),
            stamp,
        )
        conn.execute(
            text(
                "INSERT INTO clinical_note (patient_id, dentist_user_id, text, created_at) "
                "VALUES (1, 1, 'Dor no 16', :t)"
            ),
            stamp,
        )
        conn.execute(
            text(
                "INSERT INTO appointment (patient_id, dentist_user_id, starts_at, ends_at, status, created_at, "
                "updated_at) VALUES (1, 1, '2026-01-01 10:00:00', '2026-01-01 10:30:00', 'attended', :t, :t)"
            ),
            stamp,
        )
        conn.execute(text("INSERT INTO clinical_note_link (note_id, appointment_id) VALUES (1, 1)"))
        conn.execute(text("INSERT INTO document_print (document_id, printed_at, by_user_id) VALUES (1, :t, 1)"), stamp)
    for statement in (
        "UPDATE issued_document SET content = 'outro'",
        "DELETE FROM issued_document",
        "UPDATE clinical_note_link SET appointment_id = NULL",
        "DELETE FROM clinical_note_link",
        "UPDATE document_print SET by_user_id = 2",
        "DELETE FROM document_print",
    ):
        _pacientes_refuses(statement, "append-only")
    _pacientes_refuses("INSERT INTO clinical_note_link (note_id) VALUES (1)", "links_something|CHECK|UNIQUE|unique")
    assert (_count("issued_document"), _count("clinical_note_link"), _count("document_print")) == (2, 1, 1)

    with pytest.raises(SystemExit):  # Flask-Migrate logs the migration's RuntimeError and exits
        downgrade(revision=BEFORE_EXAM_REQUESTS, x_arg=["bind=pacientes"])
    assert revision_of(PACIENTES) == HEAD  # the refused downgrade left everything as it was
    _pacientes_refuses("DELETE FROM issued_document", "append-only")


def test_exam_request_migration_downgrades_with_the_triggers_in_place(empty_app):
    """Without exam requests 0010 goes back: the old kinds only, and issued documents still refuse changes."""
    upgrade()
    with engine_of(PACIENTES).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO patient (full_name, search_name, is_active, created_at, updated_at) "
                "VALUES ('Ana', 'ana', true, :t, :t)"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO issued_document (patient_id, dentist_user_id, kind, content, issued_at) "
                "VALUES (1, 1, 'prescription', 'Amoxicilina', :t)"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
    downgrade(revision=BEFORE_EXAM_REQUESTS, x_arg=["bind=pacientes"])
    assert revision_of(PACIENTES) == BEFORE_EXAM_REQUESTS
    assert not {"clinical_note_link", "document_print"} & tables_of(PACIENTES)
    _pacientes_refuses("UPDATE issued_document SET content = 'outro'", "append-only")
    _pacientes_refuses("DELETE FROM issued_document", "append-only")
    _pacientes_refuses(
        "INSERT INTO issued_document (patient_id, dentist_user_id, kind, content, issued_at) "
        "VALUES (1, 1, 'exam_request', 'x', '2026-01-01 00:00:00')",
        "ck_issued_document_kind|CHECK",
    )
    assert _count("issued_document") == 1


def test_implant_migration_allows_implants_and_refuses_to_go_back_over_them(empty_app):
    """0014 adds `implant` to the finding CHECK; downgrading while an implant is charted is refused."""
    upgrade()
    implant = (
        "INSERT INTO tooth_finding (patient_id, tooth, finding, recorded_by_user_id, recorded_at) "
        "VALUES (1, 36, 'implant', 1, '2026-11-29 10:00:00')"
    )
    with db.engines[None].begin() as conn:
        conn.execute(text(VOCABULARY_ROWS_0005[0]), {"t": "2026-01-01 00:00:00"})
        conn.execute(text(implant))
    with pytest.raises(SystemExit):  # Flask-Migrate logs the migration's RuntimeError and exits
        downgrade(revision="0008", x_arg=["bind=pacientes"])
    assert revision_of(PACIENTES) == HEAD  # the refused downgrade left everything as it was
    with db.engines[None].begin() as conn:
        conn.execute(text("DELETE FROM tooth_finding"))
    downgrade(revision="0008", x_arg=["bind=pacientes"])
    assert _refused(implant)
    assert not _refused(implant.replace("'implant'", "'crown'"))
