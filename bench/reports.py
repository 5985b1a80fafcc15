"""Report latency on the demo clinic (issue 12: each report for a 12-month period in < 500 ms at 100,000 patients).

Seeds realistic demo data with `seed_demo`, then times each report of app/services/reports.py (the queries behind
the reports page and its CSV downloads) over the last twelve months; reports the median and the slowest run.
"""

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from app.extensions import db
from app.ops.seed import seed_demo
from app.services import reports
from app.services.clock import clinic_day
from bench.run import make_app

LIMIT_MS = 500


def timings(count: int, rounds: int, folder: Path) -> dict[str, list[float]]:
    """Milliseconds per report over `rounds` runs on a clinic of `count` patients (a 12-month period)."""
    app = make_app(folder, "FULL")
    samples: dict[str, list[float]] = {name: [] for name in reports.REPORTS}
    with app.app_context():
        seed_demo(count, batch_size=2000, seed=7)
        today = clinic_day()
        period = reports.check_period(today - timedelta(days=364), today)
        for _ in range(rounds):
            for name in reports.REPORTS:
                start = time.perf_counter()
                reports.build(name, period)
                samples[name].append((time.perf_counter() - start) * 1000)
                db.session.rollback()
        for engine in db.engines.values():
            engine.dispose()
    return samples


def main() -> None:
    """Seed the clinic, time every report, print median and maximum against the 500 ms goal."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sorriso-reports-") as tmp:
        results = timings(args.large, args.rounds, Path(tmp) / "clinic")
    print(f"Reports over 12 months, {args.large} patients ({args.rounds} runs each), milliseconds")
    for name, values in results.items():
        verdict = "meets" if max(values) < LIMIT_MS else "ABOVE"
        print(f"  {name:<13} p50 {statistics.median(values):7.1f}  max {max(values):7.1f}  [{verdict} {LIMIT_MS} ms]")


if __name__ == "__main__":
    main()
