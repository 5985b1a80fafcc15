"""Single-user page latency over HTTP through gunicorn, on a clinic seeded with `flask seed demo`.

gunicorn starts exactly as `make run` starts it (gunicorn.conf.py) on a free port, over a temporary instance
seeded with N patients (two years of appointments for the demo dentists). One client logs in through the real
form (with its CSRF token) and GETs every page route of the app's url_map, its path arguments filled with
realistic ids (a patient with appointments, plans, payments; today's date), `--rounds` times each (one block per
page, pages in shuffled order). Reports p50 / p95 per page in milliseconds (SPEC 10: p95 < 25 ms; reports < 500 ms).
"""

import argparse
import http.cookiejar
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
ADMIN, PASSWORD = "bench-admin", "senha-do-benchmark-123"
# Pages measured with extra query arguments (view variants of one route).
VARIANTS = {
    "agenda.day": [{}, {"view": "week"}],
}
SKIPPED = {"auth.login", "auth.setup", "static", "health.healthz"}
SLOW_PAGES = ("reports.",)  # SPEC 10 allows reports 500 ms


def environment(folder: Path) -> dict:
    """Environment for the flask CLI and gunicorn on the temporary instance."""
    return {
        **os.environ,
        "SORRISO_ENV": "production",
        "SORRISO_INSTANCE_PATH": str(folder),
        "SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "AUDIT_HMAC_KEY": "bench-audit-key-0123456789abcdef",
    }


def flask(env: dict, *args: str) -> str:
    """Run `flask --app wsgi ...` and return its output (fails loudly)."""
    command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    return subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout


def prepare(folder: Path, patients: int) -> dict:
    """A migrated instance with `patients` demo patients and an admin account for the benchmark."""
    env = environment(folder)
    flask(env, "db", "upgrade")
    flask(env, "seed", "demo", "--patients", str(patients), "--seed", "7", "--yes")
    script = (
        "from app import create_app\n"
        "from app.db.actor import acting_as\n"
        "from app.services import users\n"
        "app = create_app()\n"
        "with app.app_context(), acting_as(None):\n"
        f"    users.create_user({ADMIN!r}, 'Benchmark', 'admin', {PASSWORD!r})\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True)
    return env


def python_output(env: dict, script: str) -> str:
    """The last line a Python snippet prints, run against the instance in `env`."""
    command = [sys.executable, "-c", script]
    output = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return output.stdout.strip().splitlines()[-1]


def sample_ids(env: dict) -> dict[str, str]:
    """Realistic path arguments: the busiest patient and rows that belong to them, from the seeded files."""
    script = r"""
import json
from sqlalchemy import func, select
from app import create_app
from app.extensions import db
from app.models import pacientes as m
from app.models.users import User
app = create_app()
with app.app_context():
    patient = db.session.scalar(select(m.Appointment.patient_id).group_by(m.Appointment.patient_id)
                                .order_by(func.count().desc()).limit(1))
    first = lambda stmt: db.session.scalar(stmt.limit(1))
    plan = first(select(m.TreatmentPlan.id).where(m.TreatmentPlan.patient_id == patient))
    ids = {
        "patient_id": patient,
        "appointment_id": first(select(m.Appointment.id).where(m.Appointment.patient_id == patient)),
        "plan_id": plan,
        "item_id": first(select(m.TreatmentItem.id).where(m.TreatmentItem.plan_id == plan)),
        "payment_id": first(select(m.Payment.id).where(m.Payment.plan_id == plan)),
        "procedure_id": first(select(m.Procedure.id)),
        "user_id": first(select(User.id).order_by(User.id)),
        "tooth": 36,
    }
    print(json.dumps({key: str(value) for key, value in ids.items() if value is not None}))
"""
    return json.loads(python_output(env, script))


def page_urls(env: dict, ids: dict[str, str]) -> dict[str, str]:
    """endpoint (+ variant) → path, for every GET route whose arguments have a sample."""
    script = r"""
import json
from app import create_app
app = create_app()
rules = [(r.endpoint, r.rule, sorted(r.arguments)) for r in app.url_map.iter_rules() if "GET" in r.methods]
print(json.dumps(rules))
"""
    urls = {}
    for endpoint, rule, arguments in json.loads(python_output(env, script)):
        if endpoint in SKIPPED or any(arg not in ids for arg in arguments):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda match: ids[match.group(1)], rule)
        for variant in VARIANTS.get(endpoint, [{}]):
            label = endpoint + ("?" + urllib.parse.urlencode(variant) if variant else "")
            urls[label] = path + ("?" + urllib.parse.urlencode(variant) if variant else "")
    return urls


def start_server(env: dict, log_path: Path) -> tuple[subprocess.Popen, int]:
    """gunicorn with gunicorn.conf.py on a free port; returns the process and the port."""
    with log_path.open("w") as log:
        command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", "127.0.0.1:0"]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = LISTENING.search(log_path.read_text())
        if found:
            time.sleep(1.0)  # both workers booted
            return process, int(found.group(1))
        time.sleep(0.2)
    process.kill()
    raise SystemExit(f"gunicorn did not start; see {log_path}")


def logged_in_opener(base: str) -> urllib.request.OpenerDirector:
    """A cookie-keeping client logged in through the real login form."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(f"{base}/login").read().decode()
    token = CSRF.search(page).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "username": ADMIN, "password": PASSWORD}).encode()
    opener.open(f"{base}/login", data=form).read()
    return opener


def measure(base: str, urls: dict[str, str], rounds: int) -> dict[str, list[float]]:
    """Milliseconds per GET, `rounds` passes over every page in shuffled order (non-200 answers are reported)."""
    opener = logged_in_opener(base)
    samples: dict[str, list[float]] = {label: [] for label in urls}
    failures: dict[str, int] = {}
    rng = random.Random(3)
    for label in urls:  # warm-up: templates compiled, caches filled
        opener.open(base + urls[label]).read()
    # Each page's requests run in one block (pages in random order): a user stays on a view, and the agenda
    # saves the view a user switches to (an audited write), which alternating day and week would repeat.
    for label in rng.sample(list(urls), len(urls)):
        for _ in range(rounds):
            start = time.perf_counter()
            try:
                response = opener.open(base + urls[label])
                response.read()
                ok = response.status == 200 and response.url.endswith(urls[label])
            except urllib.error.HTTPError:
                ok = False
            elapsed = (time.perf_counter() - start) * 1000
            if ok:
                samples[label].append(elapsed)
            else:
                failures[label] = failures.get(label, 0) + 1
    for label, count in failures.items():
        print(f"  ! {label}: {count} answers were not 200 on the page itself")
    return samples


def p95(values: list[float]) -> float:
    """95th percentile (the largest value for short lists)."""
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else max(values)


def main() -> None:
    """Seed, serve, measure every page, print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sorriso-pages-") as tmp:
        folder = Path(tmp)
        env = prepare(folder, args.patients)
        urls = page_urls(env, sample_ids(env))
        process, port = start_server(env, folder / "gunicorn.log")
        try:
            samples = measure(f"http://127.0.0.1:{port}", urls, args.rounds)
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"Single-user page latency over HTTP (gunicorn, {args.patients} patients, {args.rounds} rounds), ms")
    for label, values in sorted(samples.items()):
        if not values:
            continue
        limit = 500 if label.startswith(SLOW_PAGES) else 25
        verdict = "meets" if p95(values) < limit else "ABOVE"
        print(f"  {label:<40} p50 {statistics.median(values):7.1f}  p95 {p95(values):7.1f}  [{verdict} {limit} ms]")


if __name__ == "__main__":
    main()
