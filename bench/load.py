"""Load: 32 staff sessions running the SPEC 10 mix against gunicorn as `make run` starts it, with locust.

For each configuration the clinic is seeded once with `flask seed demo` (plus 32 receptionist accounts), then
each run starts from a fresh copy of those files: gunicorn (gunicorn.conf.py), locust headless with
`FastHttpUser` (bench/locustfile.py) for `--seconds`, then a clean stop. Reported per configuration, median of
`--runs` runs with the spread: actions/s (every request but the logins), p50/p95/p99 per action, failures by
kind, "database is locked" lines in the server log, the client's own CPU time, peak RSS per worker, and the
largest WAL file after the run.

Configurations: SQLite at 1,000 and at 100,000 patients; PostgreSQL (the 1,000-patient clinic copied with
`flask clinic migrate-to`); and SQLite with its defaults (rollback journal, no busy timeout, deferred
transactions: bench/sqlite_defaults.py) to show what the PRAGMAs buy.
"""

import argparse
import csv
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from bench.common import (
    RESULTS,
    ROOT,
    Server,
    copy_instance,
    cpu_seconds,
    environment,
    flask,
    peak_rss_mb,
    python_output,
    save,
    spread,
)
from bench.common import prepare as seed_instance

SESSIONS = 32
ACCOUNT_PASSWORD = "senha-da-carga-123"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TERMS = ["joao", "maria", "ana silva", "conceicao", "souza", "jose", "pereira", "lima", "costa", "ferreira"]
NOT_ACTIONS = {"login", "login page", "Aggregated"}

# SQLite's defaults, as a fresh `sqlite3.connect` has them (the begin mode is set by bench/sqlite_defaults.py).
SQLITE_DEFAULTS = {
    f"{bind.upper()}_SQLITE_{name}": value
    for bind in ("pacientes", "users", "history")
    for name, value in (("JOURNAL_MODE", "DELETE"), ("BUSY_TIMEOUT", "0"), ("SYNCHRONOUS", "FULL"))
}


def prepare(folder: Path, patients: int) -> dict:
    """Seed the clinic, add the sessions' accounts, and gather what the locustfile needs (returned as a dict)."""
    env = seed_instance(folder, patients)
    script = rf"""
import json
from datetime import timedelta
from sqlalchemy import func, select
from app import create_app
from app.db.actor import acting_as
from app.extensions import db
from app.models import pacientes as m
from app.models.users import User
from app.services import payments, settings, users
from app.services.clock import clinic_day
from app.vocabulary import PlanStatus, Role
app = create_app()
with app.app_context(), acting_as(None):
    accounts = []
    for n in range({SESSIONS}):
        name = f"carga{{n:02d}}"
        users.create_user(name, f"Recepção {{n}}", Role.RECEPTIONIST, {ACCOUNT_PASSWORD!r})
        accounts.append((name, {ACCOUNT_PASSWORD!r}))
    clinic = settings.current()
    approved = db.session.scalars(select(m.TreatmentPlan.id).where(m.TreatmentPlan.status == PlanStatus.APPROVED)
                                  .order_by(m.TreatmentPlan.id)).all()
    plans = [p for p in approved[:2000] if payments.amount_due(p, None) >= 20000][:{SESSIONS * 8}]
    patients = db.session.scalars(select(m.Patient.id).order_by(func.random()).limit(2000)).all()
    dentists = db.session.scalars(select(User.id).where(User.role == Role.DENTIST, User.is_active.is_(True))).all()
    today = clinic_day()
    print(json.dumps({{
        "accounts": accounts, "sessions": {SESSIONS}, "patients": patients, "plans": plans, "dentists": dentists,
        "hours": {{d: [h[0].strftime("%H:%M"), h[1].strftime("%H:%M")] for d, h in clinic.opening_hours.items() if h}},
        "slot_minutes": clinic.slot_minutes, "today": today.isoformat(),
        "first_day": (today + timedelta(days=30)).isoformat(), "terms": {TERMS!r},
    }}))
"""
    data = json.loads(python_output(env, script))
    if not data["plans"]:
        raise SystemExit("the seeded clinic has no approved plan with an open balance for the payments")
    return data


def postgres_urls(tag: str) -> dict[str, str]:
    """Fresh, empty PostgreSQL databases for the three binds (dropped first if a previous run left them)."""
    import psycopg

    urls = {}
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
        for bind in ("pacientes", "users", "history"):
            name = f"sorriso_bench_{tag}_{bind}"
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
            urls[bind] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    return urls


def to_postgres(env: dict, tag: str) -> dict:
    """Copy the seeded SQLite clinic into PostgreSQL with `flask clinic migrate-to`; the env that serves it."""
    urls = postgres_urls(tag)
    flask(env, "clinic", "migrate-to", *[f"--{bind}={url}" for bind, url in urls.items()])
    return {**env, **{f"{bind.upper()}_DATABASE_URL": url for bind, url in urls.items()}}


def read_stats(prefix: Path) -> tuple[dict, dict]:
    """Per action (count, failures, p50/p95/p99 ms) and failures by kind, from locust's CSV files."""
    actions = {}
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] in NOT_ACTIONS:
                continue
            actions[row["Name"]] = {
                "count": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "p50": float(row["50%"]),
                "p95": float(row["95%"]),
                "p99": float(row["99%"]),
            }
    errors: dict[str, int] = {}
    with open(f"{prefix}_failures.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            kind = f"{row['Name']}: {row['Error']}"
            errors[kind] = errors.get(kind, 0) + int(row["Occurrences"])
    return actions, errors


WARM_UP_SECONDS = 10


def run_locust(env: dict, base: str, data_path: Path, seconds: int, prefix: Path) -> None:
    """locust headless with the SPEC 10 mix for `seconds` (its CSV files at `prefix`)."""
    command = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
        "-u", str(SESSIONS), "-r", str(SESSIONS), "-t", f"{seconds}s", "--host", base,
        "--csv", str(prefix), "--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING",
    ]  # fmt: skip
    subprocess.run(
        command, cwd=ROOT, env={**env, "SORRISO_LOAD_DATA": str(data_path)}, check=False, capture_output=True
    )


def one_run(env: dict, data_path: Path, folder: Path, seconds: int, app_module: str | None, profile=False) -> dict:
    """Serve, warm up, load for `seconds`, stop; the run's figures (with `profile`, py-spy samples the workers).

    The warm-up (WARM_UP_SECONDS of the same mix, in other days of the agenda, not counted) leaves imports and
    compiled templates behind, as hours of a clinic's day would: the run measures the server, not its start.
    """
    server = Server(env, folder / "gunicorn.log", app_module)
    try:
        run_locust(env, server.base, data_path.with_suffix(".warmup.json"), WARM_UP_SECONDS, folder / "warmup")
        spy = None
        if profile:
            spy = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(server.process.pid),
                 "--subprocesses", "--format", "raw", "--gil", "--rate", "200", "--duration", str(seconds),
                 "--nonblocking", "--output", str(RESULTS / "profile-raw.txt")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_before = sum(cpu_seconds(pid) for pid in server.worker_pids())
        prefix = folder / "locust"
        run_locust(env, server.base, data_path, seconds, prefix)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # locust's own CPU (py-spy is not waited for yet)
        server_cpu = sum(cpu_seconds(pid) for pid in server.worker_pids()) - server_before
        if spy is not None:
            spy.wait(timeout=60)
        rss = [peak_rss_mb(pid) for pid in server.worker_pids()]
        wal = max((p.stat().st_size for p in Path(env["SORRISO_INSTANCE_PATH"]).glob("*-wal")), default=0)
    finally:
        server.stop()
    actions, errors = read_stats(prefix)
    log = (folder / "gunicorn.log").read_text()
    breakdown = profile_breakdown(RESULTS / "profile-raw.txt") if profile else None
    total = sum(a["count"] for a in actions.values())
    return {
        "actions_per_s": total / seconds,
        "actions": actions,
        "errors": errors,
        "failures": sum(a["failures"] for a in actions.values()),
        "locked_in_log": log.count("database is locked"),
        "tracebacks_in_log": log.count("Traceback"),
        "client_cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "server_cpu_ms_per_action": 1000 * server_cpu / max(total, 1),
        "worker_peak_rss_mb": [r for r in rss if r is not None],
        "largest_wal_bytes": wal,
        "profile": breakdown,
    }


# Where a sample's CPU went: the first rule that matches, checked from the stack's root (a phase: the relay
# thread, loading the user) then from its leaf (the library doing the work at that instant).
PHASES = (
    ("password hashing (the sessions' logins)", "check_password_hash"),
    ("audit relay thread", "(app/db/relay.py)"),
    ("loading the user", "load_user (app/security.py)"),
)
LIBRARIES = (
    ("SQLite (sqlite3 calls)", ("sqlite3",)),
    ("ORM and SQL compilation (SQLAlchemy)", ("sqlalchemy/",)),
    ("templates (Jinja)", ("jinja2/", "markupsafe/", "templates/")),
    ("translations and formatting (Babel)", ("babel/", "flask_babel/")),
    ("forms (WTForms, CSRF)", ("wtforms/", "flask_wtf/")),
    ("URL building and routing (Werkzeug)", ("routing/", "werkzeug/urls")),
    ("HTTP server and WSGI (gunicorn, Werkzeug)", ("gunicorn/", "werkzeug/")),
    ("Flask and its extensions", ("flask/", "flask_login/", "flask_sqlalchemy/")),
    ("Sorriso's own code", ("/app/",)),
)


def category(stack: str) -> str:
    """The category of one collapsed py-spy stack ("frame;frame;...", root first)."""
    for label, marker in PHASES:
        if marker in stack:
            return label
    for frame in reversed(stack.split(";")):
        for label, markers in LIBRARIES:
            if any(marker in frame for marker in markers):
                return label
    return "other (Python runtime, stdlib)"


def profile_breakdown(path: Path) -> dict[str, float] | None:
    """Share of CPU samples per category (percent), from py-spy's collapsed stacks."""
    if not path.exists():
        return None
    totals: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            totals[category(stack)] = totals.get(category(stack), 0) + int(count)
    samples = sum(totals.values()) or 1
    return {label: 100 * count / samples for label, count in sorted(totals.items(), key=lambda kv: -kv[1])}


def run_config(label: str, base: Path, data: dict, runs: int, seconds: int, work: Path, **how) -> dict:
    """`runs` runs of one configuration, each on a fresh copy of the seeded clinic."""
    data_path = work / f"{label}.json"
    data_path.write_text(json.dumps(data))
    later = date.fromisoformat(data["first_day"]) + timedelta(days=400)  # the warm-up books other days
    data_path.with_suffix(".warmup.json").write_text(json.dumps({**data, "first_day": later.isoformat()}))
    results = []
    for run in range(runs):
        folder = work / f"{label}-{run}"
        copy_instance(base, folder / "instance")
        if how.get("rollback_journal"):  # the files themselves leave WAL, so no connection can keep it
            for path in (folder / "instance").glob("*.db"):
                with sqlite3.connect(path) as conn:
                    assert conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
        env = environment(folder / "instance", how.get("env"))
        if how.get("postgres"):
            env = to_postgres(env, f"{label.replace('-', '_')}")
        profile = bool(how.get("profile")) and run == 0
        result = one_run(env, data_path, folder, seconds, how.get("app_module"), profile)
        print(
            f"  {label} run {run + 1}: {result['actions_per_s']:.0f} actions/s, {result['failures']} failures, "
            f"{result['locked_in_log']} locked, client CPU {result['client_cpu_s']:.1f} s, "
            f"server CPU {result['server_cpu_ms_per_action']:.1f} ms/action",
            flush=True,
        )
        results.append(result)
    return summarise(results, seconds)


def summarise(results: list[dict], seconds: int) -> dict:
    """Medians with spread over the runs."""
    names = sorted({name for r in results for name in r["actions"]})
    errors: dict[str, list[int]] = {}
    for r in results:
        for kind, count in r["errors"].items():
            errors.setdefault(kind, []).append(count)
    return {
        "seconds": seconds,
        "actions_per_s": spread([r["actions_per_s"] for r in results]),
        "failures": spread([r["failures"] for r in results]),
        "locked_in_log": spread([r["locked_in_log"] for r in results]),
        "tracebacks_in_log": spread([r["tracebacks_in_log"] for r in results]),
        "client_cpu_s": spread([r["client_cpu_s"] for r in results]),
        "server_cpu_ms_per_action": spread([r["server_cpu_ms_per_action"] for r in results]),
        "worker_peak_rss_mb": spread([max(r["worker_peak_rss_mb"] or [0]) for r in results]),
        "largest_wal_mb": spread([r["largest_wal_bytes"] / 2**20 for r in results]),
        "actions": {
            name: {
                key: spread([r["actions"][name][key] for r in results if name in r["actions"]])
                for key in ("count", "failures", "p50", "p95", "p99")
            }
            for name in names
        },
        "errors": {kind: sum(counts) for kind, counts in errors.items()},
        "profile": results[0].get("profile"),
    }


def main() -> None:
    """Every configuration, printed as it goes and saved to bench/results/load.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--only", nargs="*", help="configurations to run (default: all)")
    args = parser.parse_args()
    wanted = set(args.only or ["sqlite-small", "sqlite-large", "postgres-small", "sqlite-defaults-small"])
    results = {}
    with tempfile.TemporaryDirectory(prefix="sorriso-load-") as tmp:
        work = Path(tmp)
        seeded = {}
        for size in ("small", "large"):
            if any(label.endswith(size) for label in wanted):
                patients = args.small if size == "small" else args.large
                seeded[size] = (work / f"seed-{size}", patients)
                print(f"Seeding {patients} patients ...", flush=True)
                seeded[size] += (prepare(work / f"seed-{size}", patients),)
        configs = {
            "sqlite-small": ("small", {"profile": True}),
            "sqlite-large": ("large", {}),
            "postgres-small": ("small", {"postgres": True}),
            "sqlite-defaults-small": (
                "small",
                {"env": SQLITE_DEFAULTS, "app_module": "bench.sqlite_defaults:app", "rollback_journal": True},
            ),
        }
        for label, (size, how) in configs.items():
            if label not in wanted:
                continue
            base, patients, data = seeded[size]
            print(f"{label} ({patients} patients, {SESSIONS} sessions, {args.seconds} s x {args.runs})", flush=True)
            measured = run_config(label, base, data, args.runs, args.seconds, work, **how)
            results[label] = {"patients": patients, **measured}
    if "sqlite-small" in results and "sqlite-large" in results:
        small, large = results["sqlite-small"], results["sqlite-large"]
        results["growth"] = small["actions_per_s"]["median"] / large["actions_per_s"]["median"]
    save("load", {"sessions": SESSIONS, "configs": results})
    for label, result in results.items():
        if isinstance(result, dict):
            rate = result["actions_per_s"]
            print(f"{label}: {rate['median']:.0f} actions/s (min {rate['min']:.0f}, max {rate['max']:.0f})")


if __name__ == "__main__":
    main()
