"""The app factory: configuration checks, the home page, engines for every bind."""

import pytest

import config
from app import create_app
from app.db import engine_of, metadata_of
from app.db.binds import BINDS
from app.extensions import db
from config import INSECURE_SECRET_KEY
from tests.conftest import dispose, sqlite_urls


@pytest.mark.parametrize(
    "overrides, named",
    [
        ({"SECRET_KEY": INSECURE_SECRET_KEY, "AUDIT_HMAC_KEY": "a" * 32}, "SECRET_KEY"),
        ({"SECRET_KEY": "", "AUDIT_HMAC_KEY": "a" * 32}, "SECRET_KEY"),
        ({"SECRET_KEY": "s" * 32, "AUDIT_HMAC_KEY": None}, "AUDIT_HMAC_KEY"),
        ({"SECRET_KEY": "s" * 32, "AUDIT_HMAC_KEY": "short"}, "AUDIT_HMAC_KEY"),
    ],
)
def test_production_refuses_missing_or_default_keys(tmp_path, overrides, named):
    """Production stops with a message naming the bad key (SystemExit: non-zero exit, no traceback)."""
    with pytest.raises(SystemExit, match=named):
        create_app("production", {**sqlite_urls(tmp_path), **overrides})


def test_production_starts_with_real_keys(tmp_path):
    """With proper keys the production app builds."""
    app = create_app("production", {**sqlite_urls(tmp_path), "SECRET_KEY": "s" * 32, "AUDIT_HMAC_KEY": "k" * 32})
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


def test_unknown_environment_name_is_refused(tmp_path):
    """A mistyped SORRISO_ENV is a clear error."""
    with pytest.raises(SystemExit, match="SORRISO_ENV"):
        create_app("prod", sqlite_urls(tmp_path))


def test_default_database_files_live_in_the_instance_folder(tmp_path, monkeypatch):
    """Without URL overrides each bind is a file named after it in the instance folder."""
    for name in ("PACIENTES_DATABASE_URL", "USERS_DATABASE_URL", "HISTORY_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SORRISO_INSTANCE_PATH", str(tmp_path))
    app = create_app(
        "testing", {"PACIENTES_DATABASE_URL": None, "USERS_DATABASE_URL": None, "HISTORY_DATABASE_URL": None}
    )
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'pacientes.db'}"
    assert app.config["SQLALCHEMY_BINDS"] == {
        "users": f"sqlite:///{tmp_path / 'users.db'}",
        "history": f"sqlite:///{tmp_path / 'history.db'}",
    }


@pytest.mark.parametrize("bind", BINDS, ids=lambda bind: bind.name)
def test_each_bind_is_configured_through_the_registry(tmp_path, monkeypatch, bind):
    """A bind's URL and PRAGMA variables are named by the registry; its engine and tables answer to its name."""
    monkeypatch.setenv(bind.pragma_env("synchronous"), "normal")
    assert config.sqlite_pragmas_from_env()[bind.name]["synchronous"] == "NORMAL"
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setenv(bind.url_env, elsewhere)
    assert config.database_urls_from_env()[bind.url_env] == elsewhere
    app = create_app("testing", {**sqlite_urls(tmp_path), bind.url_env: elsewhere})
    with app.app_context():
        assert engine_of(bind.name).url.database == str(tmp_path / "elsewhere.db")
        assert metadata_of(bind.name) is db.metadatas[bind.fsa_key]
    dispose(app)


def test_home_page_leads_to_first_run_setup(client):
    """A fresh instance (no staff account yet) sends the first visitor to the setup page, in Portuguese."""
    response = client.get("/", follow_redirects=True)
    assert response.request.path == "/setup"
    assert "Bem-vindo ao Sorriso" in response.get_data(as_text=True)


def test_healthz_ok_on_migrated_databases(client):
    """A migrated instance answers {"status": "ok"} and nothing more."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_503_when_a_database_is_not_migrated(tmp_path):
    """An instance whose databases were never migrated answers 503 without details."""
    app = create_app("testing", sqlite_urls(tmp_path))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable"}


def test_production_hashes_passwords_with_full_strength_scrypt(tmp_path):
    """Only the test suite lowers scrypt's cost; every other configuration keeps werkzeug's memory-hard default."""
    from app.services.users import hash_password

    app = create_app("production", {**sqlite_urls(tmp_path), "SECRET_KEY": "s" * 32, "AUDIT_HMAC_KEY": "k" * 32})
    with app.app_context():
        assert hash_password("uma senha qualquer").startswith("scrypt:32768:8:1$")
    assert create_app("development", sqlite_urls(tmp_path)).config["PASSWORD_HASH_METHOD"] == "scrypt"
