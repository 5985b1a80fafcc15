"""Patient search and list latency at 1,000 and 100,000 patients (SPEC 10: p95 < 25 ms at 100,000).

Seeds realistic demo data with `seed_demo`, then times `search_patients` (the service behind the patient
list and search-as-you-type) for accent-free name terms, CPF and phone fragments and the unfiltered first
page. Reports p50 and p95 per size (median of --runs runs, with the spread) and the 100k/1k ratio.
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
from bench.common import p95, save, spread
from bench.run import make_app

QUERIES = ["joao", "CONCEICAO", "maria silva", "ana", "souza", "jose", "", "123", "119", "pereira"]


def timings(count: int, rounds: int, runs: int, folder: Path) -> list[list[float]]:
    """Per run, milliseconds per search over `rounds` passes of QUERIES on a clinic of `count` patients."""
    app = make_app(folder, "FULL")
    results = []
    with app.app_context():
        seed_demo(count, batch_size=2000, seed=7)
        for run in range(runs):
            rng = random.Random(run)
            samples = []
            for _ in range(rounds):
                for query in rng.sample(QUERIES, len(QUERIES)):
                    start = time.perf_counter()
                    search_patients(query, page=1, per_page=20)
                    samples.append((time.perf_counter() - start) * 1000)
                    db.session.rollback()
            results.append(samples)
        for engine in db.engines.values():
            engine.dispose()
    return results


def main() -> None:
    """Seed both sizes, time the searches, print medians, p95 and the growth ratio; save bench/results/search.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = {}
    with tempfile.TemporaryDirectory(prefix="sorriso-search-") as tmp:
        for count in (1_000, args.large):
            runs = timings(count, args.rounds, args.runs, Path(tmp) / str(count))
            sizes[count] = {
                "p50": spread([statistics.median(v) for v in runs]),
                "p95": spread([p95(v) for v in runs]),
            }
    growth = sizes[args.large]["p95"]["median"] / sizes[1_000]["p95"]["median"]
    save("search", {"queries": QUERIES, "rounds": args.rounds, "sizes": sizes, "growth": growth})
    print(f"Patient search (search_patients, {len(QUERIES)} queries x {args.rounds} rounds), ms, median of runs")
    for count, found in sizes.items():
        verdict = "meets" if found["p95"]["median"] < 25 else "ABOVE"
        print(
            f"  {count:>7} patients: p50 {found['p50']['median']:6.1f}  p95 {found['p95']['median']:6.1f} "
            f"({found['p95']['min']:.1f}-{found['p95']['max']:.1f})  [{verdict} SPEC 10's 25 ms]"
        )
    print(f"  p95 growth {args.large} / 1000: {growth:.1f}x")


if __name__ == "__main__":
    main()
