"""Service write throughput with auditing on and off, and the cost of synchronous=FULL vs NORMAL.

Each configuration registers patients through the real service (create_patient: patient, anamnesis,
timeline line) on fresh migrated SQLite files; runs are interleaved and the median is reported with the spread.
The floor: a raw `sqlite3` loop inserting one row per transaction (BEGIN IMMEDIATE, INSERT, COMMIT) on a WAL
file with the same synchronous setting, i.e. what the disk's fsync alone allows.
"""

import argparse
import atexit
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import event
from sqlalchemy.orm import Session

from app import create_app
from app.db import BIND_KEYS, HISTORY, dispose_engines, engine_of
from app.db import audit as audit_module
from app.db.actor import acting_as
from app.db.chain import verify_chain
from app.db.relay import pending_counts, relay_all
from app.services.patients import create_patient
from bench.common import save, spread


@contextmanager
def auditing_disabled():
    """Switch off audit capture and the outbox for a baseline (benchmark only)."""
    event.remove(Session, "after_flush", audit_module._capture_changes)
    original = audit_module._write_outbox
    audit_module._write_outbox = lambda *_args, **_kwargs: None
    try:
        yield
    finally:
        audit_module._write_outbox = original
        event.listen(Session, "after_flush", audit_module._capture_changes)


def make_app(folder: Path, synchronous: str, relay_mode: str = "inline"):
    """A migrated app on files in `folder` with the given synchronous setting on every bind."""
    folder.mkdir(parents=True)
    urls = {f"{b.upper()}_DATABASE_URL": f"sqlite:///{folder / f'{b}.db'}" for b in BIND_KEYS}
    pragmas = {
        b: {"journal_mode": "WAL", "synchronous": synchronous, "busy_timeout": 5000, "foreign_keys": "ON"}
        for b in BIND_KEYS
    }
    app = create_app("testing", {**urls, "SQLITE_PRAGMAS": pragmas, "AUDIT_RELAY_MODE": relay_mode})
    with app.app_context():
        upgrade()
    return app


def writes_per_second(root: Path, label: str, count: int, synchronous: str, audit: str) -> float:
    """Register `count` patients, one service call each; the clock stops once history holds every event."""
    app = make_app(root / label, synchronous, "inline" if audit == "off" else audit)
    with app.app_context(), acting_as(None):
        create_patient({"full_name": "Aquecimento"})  # warm-up: imports, pools, statement cache
        with auditing_disabled() if audit == "off" else _nothing():
            start = time.perf_counter()
            for n in range(count):
                create_patient({"full_name": f"Paciente Benchmark {n}", "phone": "(11) 98765-4321"})
            if audit != "off":
                relay_all()  # drain whatever is still pending
            elapsed = time.perf_counter() - start
        if audit != "off":
            assert sum(pending_counts().values()) == 0
            assert verify_chain(engine_of(HISTORY), app.config["AUDIT_HMAC_KEY"]).ok
        worker = app.extensions.get("sorriso_relay")
        if worker is not None:  # stop the relay thread now: at exit its files are gone
            worker.drain()
            atexit.unregister(worker.drain)
        dispose_engines()
    return count / elapsed


@contextmanager
def _nothing():
    yield


CONFIGS = {
    "off, FULL": ("FULL", "off"),
    "inline, FULL": ("FULL", "inline"),
    "background, FULL": ("FULL", "background"),
    "off, NORMAL": ("NORMAL", "off"),
    "inline, NORMAL": ("NORMAL", "inline"),
    "background, NORMAL": ("NORMAL", "background"),
}


def raw_inserts_per_second(folder: Path, count: int, synchronous: str) -> float:
    """The floor: one row per committed transaction with the sqlite3 module alone (no ORM, no audit)."""
    import sqlite3

    folder.mkdir(parents=True)
    conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("CREATE TABLE patient (id INTEGER PRIMARY KEY, full_name TEXT NOT NULL, phone TEXT)")
    start = time.perf_counter()
    for n in range(count):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO patient (full_name, phone) VALUES (?, ?)", (f"Paciente {n}", "11987654321"))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed


def main() -> None:
    """Run every configuration `--runs` times, interleaved, and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--writes", type=int, default=200)
    args = parser.parse_args()
    results = {label: [] for label in CONFIGS}
    with tempfile.TemporaryDirectory(prefix="sorriso-bench-") as tmp:
        for run in range(args.runs):
            for label, (synchronous, audited) in CONFIGS.items():
                slug = label.replace(" ", "").replace(",", "_") + f"-{run}"
                results[label].append(writes_per_second(Path(tmp), slug, args.writes, synchronous, audited))
            for sync in ("FULL", "NORMAL"):
                raw = raw_inserts_per_second(Path(tmp) / f"raw-{sync}-{run}", args.writes, sync)
                results.setdefault(f"raw sqlite3, {sync}", []).append(raw)
    medians = {label: statistics.median(values) for label, values in results.items()}
    print(f"Service write throughput: create_patient, {args.writes} writes x {args.runs} runs, median writes/s")
    print("  (audit: off = no capture; inline = the request relays; background = relay thread; the clock stops")
    print("   only when history.db holds every event, and the chain is verified after each run)")
    for label, values in results.items():
        print(f"  audit {label:<20} {medians[label]:8.1f} /s   (min {min(values):.0f}, max {max(values):.0f})")
    for sync in ("FULL", "NORMAL"):
        for mode in ("inline", "background"):
            ratio = medians[f"{mode}, {sync}"] / medians[f"off, {sync}"]
            verdict = "meets" if ratio >= 0.6 else "BELOW"
            print(f"  ratio audit {mode} / off ({sync}): {ratio:.2f}  [{verdict} SPEC 10's 0.6]")
    print(f"  FULL / NORMAL (audit background): {medians['background, FULL'] / medians['background, NORMAL']:.2f}")
    ratios = {
        "audit inline / off (FULL)": medians["inline, FULL"] / medians["off, FULL"],
        "audit background / off (FULL)": medians["background, FULL"] / medians["off, FULL"],
        "audit background / off (NORMAL)": medians["background, NORMAL"] / medians["off, NORMAL"],
        "FULL / NORMAL (audit background)": medians["background, FULL"] / medians["background, NORMAL"],
        "service (audit background, FULL) / raw sqlite3 floor (FULL)": (
            medians["background, FULL"] / medians["raw sqlite3, FULL"]
        ),
    }
    save("writes", {"writes": args.writes, "configs": {k: spread(v) for k, v in results.items()}, "ratios": ratios})


if __name__ == "__main__":
    main()
