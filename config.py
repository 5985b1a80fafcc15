"""Configuration classes, read from the environment (and an optional `.env` file)."""

import os
import re
from pathlib import Path

from dotenv import load_dotenv

from app.db.binds import BINDS

BASE_DIR = Path(__file__).resolve().parent
load_dotenv(BASE_DIR / ".env")

INSECURE_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 - the placeholder production refuses
INSECURE_AUDIT_KEY = "dev-insecure-audit-key-change-me"  # noqa: S105 - likewise

# Hosts a request may name when TRUSTED_HOSTS is not set: the machine itself, as `make run` serves it.
DEFAULT_TRUSTED_HOSTS = "localhost,127.0.0.1"


def _env_int(name: str, default: int) -> int:
    """Read an integer from the environment, failing loudly on garbage."""
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"Configuration error: {name} must be an integer, got {raw!r}.") from None


def trusted_hosts_from_env() -> list[str] | None:
    """TRUSTED_HOSTS, comma-separated (a leading dot admits subdomains); `*` admits any host (None)."""
    raw = os.environ.get("TRUSTED_HOSTS", "").strip() or DEFAULT_TRUSTED_HOSTS
    if raw == "*":
        return None
    hosts = [host.strip().lower() for host in raw.split(",") if host.strip()]
    # Werkzeug compares names and IPv4 addresses only (an IPv6 literal cannot be listed), and an empty
    # list would admit every host.
    if not hosts or not all(re.fullmatch(r"\.?[a-z0-9.-]+(:[0-9]+)?", host) for host in hosts):
        raise SystemExit(f"Configuration error: TRUSTED_HOSTS must list host names or IPv4 addresses, got {raw!r}.")
    return hosts


def sqlite_pragmas_from_env() -> dict[str, dict[str, object]]:
    """Per-bind SQLite PRAGMA values; e.g. USERS_SQLITE_SYNCHRONOUS=NORMAL overrides one bind."""
    return {
        bind.name: {name: _env_pragma(bind.pragma_env(name), default) for name, default in bind.pragmas.items()}
        for bind in BINDS
    }


def _env_pragma(name: str, default: object) -> object:
    """One PRAGMA setting: an integer for a numeric PRAGMA (busy_timeout), else an upper-case keyword."""
    if isinstance(default, int):
        return _env_int(name, default)
    return os.environ.get(name, str(default)).upper()


def database_urls_from_env() -> dict[str, str | None]:
    """Each bind's URL setting (PACIENTES_DATABASE_URL, ...); None means "a file in the instance folder"."""
    return {bind.url_env: os.environ.get(bind.url_env) for bind in BINDS}


class Config:
    """Settings shared by every environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY", INSECURE_SECRET_KEY)
    AUDIT_HMAC_KEY = os.environ.get("AUDIT_HMAC_KEY", INSECURE_AUDIT_KEY)
    SQLITE_PRAGMAS = sqlite_pragmas_from_env()
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    CLINIC_TIMEZONE = os.environ.get("CLINIC_TIMEZONE", "America/Sao_Paulo")
    BABEL_DEFAULT_LOCALE = "pt_BR"
    BABEL_DEFAULT_TIMEZONE = CLINIC_TIMEZONE
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Bigger request bodies get a 413 before anything reads them; no form comes near 1 MB.
    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 1024 * 1024)
    # Another Host header is a 400; redirects and external URLs never name a host a client made up.
    TRUSTED_HOSTS = trusted_hosts_from_env()
    IDLE_TIMEOUT_MINUTES = _env_int("IDLE_TIMEOUT_MINUTES", 30)
    SESSION_LIFETIME_HOURS = _env_int("SESSION_LIFETIME_HOURS", 12)  # whatever its use, a session ends then
    # Opening a record is audited once per login session and patient within this window (tabs included).
    RECORD_VIEW_AUDIT_MINUTES = _env_int("RECORD_VIEW_AUDIT_MINUTES", 10)
    # "background": a relay thread per process delivers events right after each commit, batching under load;
    # "inline": the committing request relays itself before returning (slower; simplest to reason about).
    AUDIT_RELAY_MODE = os.environ.get("AUDIT_RELAY_MODE", "background")
    BACKUP_DIR = os.environ.get("SORRISO_BACKUP_DIR") or None  # default: instance/backups
    # `clinic check` reports a problem when a database's disk has less free space than this.
    MIN_FREE_DISK_MB = _env_int("MIN_FREE_DISK_MB", 100)
    PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 - werkzeug's scrypt: N=2**15, r=8, p=1 (memory-hard)
    # A monitoring system reads /metrics with `Authorization: Bearer <METRICS_TOKEN>`; unset: administrators only.
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None


# Each bind's URL variable of the registry becomes a setting of the same name, resolved by create_app.
for _setting, _url in database_urls_from_env().items():
    setattr(Config, _setting, _url)


class DevelopmentConfig(Config):
    """Local development: insecure default keys are tolerated."""

    DEBUG = False


class TestingConfig(Config):
    """The test suite: fixed keys, CSRF on (tests send the token)."""

    TESTING = True
    # Tests read history right after a service call; background mode has its own tests.
    AUDIT_RELAY_MODE = os.environ.get("AUDIT_RELAY_MODE", "inline")
    PASSWORD_HASH_METHOD = "scrypt:1024:8:1"  # noqa: S105 - still scrypt, 32x cheaper: thousands of test accounts
    SECRET_KEY = "testing-secret-key"  # noqa: S105 - tests only
    AUDIT_HMAC_KEY = "testing-audit-key"


class ProductionConfig(Config):
    """A clinic's server: refuses to start with default or missing keys."""

    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def check_production_secrets(config: dict) -> None:
    """Refuse to run production with a missing or default secret key or audit key, or a guessable metrics token."""
    for name, insecure in (("SECRET_KEY", INSECURE_SECRET_KEY), ("AUDIT_HMAC_KEY", INSECURE_AUDIT_KEY)):
        value = config.get(name)
        if not value or value == insecure or len(value) < 16:
            raise SystemExit(
                f"Configuration error: {name} is missing, default or shorter than 16 characters. "
                f"Set {name} in the environment or in .env before starting Sorriso in production."
            )
    token = config.get("METRICS_TOKEN")
    if token and len(token) < 16:
        raise SystemExit("Configuration error: METRICS_TOKEN must be at least 16 characters (or unset).")
