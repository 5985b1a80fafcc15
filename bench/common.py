"""What the HTTP benchmarks share: a seeded temporary instance, gunicorn started as `make run` starts it, a
logged-in client, percentiles, and the results file `make bench` turns into docs/BENCHMARKS.md."""

import http.cookiejar
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
BOOTED = re.compile(r"Booting worker with pid: (\d+)")
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
ADMIN, PASSWORD = "bench-admin", "senha-do-benchmark-123"
SEED = 7


def environment(folder: Path, extra: dict | None = None) -> dict:
    """Environment for the flask CLI and gunicorn on the temporary instance in `folder`."""
    return {
        **os.environ,
        "SORRISO_ENV": "production",
        "SORRISO_INSTANCE_PATH": str(folder),
        "SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "AUDIT_HMAC_KEY": "bench-audit-key-0123456789abcdef",
        **(extra or {}),
    }


def flask(env: dict, *args: str) -> str:
    """Run `flask --app wsgi ...` and return its output (fails loudly)."""
    command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    return subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout


def python_output(env: dict, script: str) -> str:
    """The last line a Python snippet prints, run against the instance in `env`."""
    command = [sys.executable, "-c", script]
    output = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return output.stdout.strip().splitlines()[-1]


def prepare(folder: Path, patients: int) -> dict:
    """A migrated instance with `patients` demo patients and an admin account for the benchmark."""
    env = environment(folder)
    flask(env, "db", "upgrade")
    flask(env, "seed", "demo", "--patients", str(patients), "--seed", str(SEED), "--yes")
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


def copy_instance(source: Path, target: Path) -> None:
    """A fresh copy of a seeded instance (its databases only), so that every run starts from the same data."""
    target.mkdir(parents=True)
    for path in source.glob("*.db"):
        shutil.copy2(path, target / path.name)


class Server:
    """gunicorn with gunicorn.conf.py on a free port, as `make run` starts it (optionally another WSGI app)."""

    def __init__(self, env: dict, log_path: Path, app_module: str | None = None):
        self.log_path = log_path
        command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", "127.0.0.1:0"]
        with log_path.open("w") as log:
            self.process = subprocess.Popen(
                [*command, *([app_module] if app_module else [])],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = log_path.read_text()
            found = LISTENING.search(text)
            if found and len(BOOTED.findall(text)) >= 2:
                time.sleep(1.0)  # both workers have imported the app
                self.port = int(found.group(1))
                self.base = f"http://127.0.0.1:{self.port}"
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.process.kill()
        raise SystemExit(f"gunicorn did not start; see {log_path}:\n{log_path.read_text()[-2000:]}")

    def worker_pids(self) -> list[int]:
        """The worker processes' ids (children of the master)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def stop(self) -> None:
        """A clean stop (SIGTERM), as an operator's Ctrl-C."""
        self.process.terminate()
        self.process.wait(timeout=60)


def peak_rss_mb(pid: int) -> float | None:
    """A live process's peak resident memory (VmHWM) in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """A live process's CPU time so far (user + system), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def logged_in_opener(base: str, username: str = ADMIN, password: str = PASSWORD) -> urllib.request.OpenerDirector:
    """A cookie-keeping client logged in through the real login form."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(f"{base}/login").read().decode()
    token = CSRF.search(page).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "username": username, "password": password}).encode()
    opener.open(f"{base}/login", data=form).read()
    return opener


def p95(values: list[float]) -> float:
    """95th percentile (the largest value for short lists)."""
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else max(values)


def spread(values: list[float]) -> dict:
    """Median of repeated runs with their spread (min, max), as docs/BENCHMARKS.md reports every figure."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": list(values)}


def machine() -> dict:
    """Facts about this machine and the software versions, for the report's header."""
    import sqlite3

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), platform.processor())
    memory = next(
        (int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line),
        None,
    )
    versions = {}
    for package in ("flask", "sqlalchemy", "gunicorn", "locust", "psycopg"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:  # noqa: BLE001 - a missing optional package is reported as such
            versions[package] = "—"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mb": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        **versions,
    }


def save(name: str, data: dict) -> Path:
    """Write one benchmark's results to bench/results/NAME.json (docs/BENCHMARKS.md is built from these)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"measured_at": time.strftime("%Y-%m-%d %H:%M"), **data}, indent=2, default=str))
    return path
