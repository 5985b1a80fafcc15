"""Patient search and list latency at 1,000 and 100,000 patients (SPEC 10: p95 < 50 ms; growth <= 2x).

Seeds realistic demo data with `seed_demo`, then times `search_patients` (the service behind the patient
list and search-as-you-type) for accent-free name terms, CPF and phone fragments and the unfiltered first
page. Reports p50 and p95 per size and the 100k/1k ratio.
"""

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from app.extensions import db
from app.ops.seed import seed_demo
from app.services.patients import search_patients
from bench.run import make_app

QUERIES = ["joao", "CONCEICAO", "maria silva", "ana", "souza", "jose", "", "123", "119", "pereira"]


def timings(count: int, rounds: int, folder: Path) -> list[float]:
    """Milliseconds per search over `rounds` passes of QUERIES on a clinic of `count` patients."""
    app = make_app(folder, "FULL")
    with app.app_context():
        seed_demo(count, batch_size=2000, seed=7)
        rng = random.Random(1)
        samples = []
        for _ in range(rounds):
            for query in rng.sample(QUERIES, len(QUERIES)):
                start = time.perf_counter()
                search_patients(query, page=1, per_page=20)
                samples.append((time.perf_counter() - start) * 1000)
                db.session.rollback()
        for engine in db.engines.values():
            engine.dispose()
    return samples


def p95(values: list[float]) -> float:
    """95th percentile."""
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    """Seed both sizes, time the searches, print medians, p95 and the growth ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="sorriso-search-") as tmp:
        for count in (1_000, args.large):
            results[count] = timings(count, args.rounds, Path(tmp) / str(count))
    print(f"Patient search (search_patients, {len(QUERIES)} queries x {args.rounds} rounds), milliseconds")
    for count, values in results.items():
        verdict = "meets" if p95(values) < 50 else "ABOVE"
        print(
            f"  {count:>7} patients: p50 {statistics.median(values):6.1f}  p95 {p95(values):6.1f}  "
            f"[{verdict} SPEC 10's 50 ms]"
        )
    growth = p95(results[args.large]) / p95(results[1_000])
    print(f"  p95 growth {args.large} / 1000: {growth:.1f}x  [{'meets' if growth <= 2 else 'ABOVE'} SPEC 10's 2x]")


if __name__ == "__main__":
    main()
