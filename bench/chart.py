"""Opening a record's odontogram tab with 30 findings, at 100,000 patients (issue 11: p95 < 25 ms, one user).

Seeds demo data with `seed_demo`, charts 30 teeth of one patient (two findings each, so the latest-per-tooth
query has history to skip), logs a dentist in and times GET /patients/<id>/chart through the test client: the
whole request (policy, audited record opening, the chart query, the SVG template).
"""

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

from app.db.actor import acting_as
from app.ops.seed import seed_demo
from app.services import odontogram, users
from app.services.dental import PERMANENT_TEETH
from app.services.patients import create_patient
from bench.run import make_app
from bench.search import p95

PASSWORD = "senha-do-benchmark-1"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def timings(count: int, requests: int, folder: Path) -> list[float]:
    """Milliseconds per chart-tab request on a clinic of `count` patients."""
    app = make_app(folder, "FULL")
    with app.app_context():
        seed_demo(count, batch_size=2000, seed=7)
        with acting_as(None):
            dentist = users.create_user("bench.dentista", "Dra. Benchmark", "dentist", PASSWORD, cro="SP-99999")
            patient = create_patient({"full_name": "Paciente do Odontograma"})
        with acting_as(dentist.id):
            for finding in ("caries", "restoration"):
                for tooth in PERMANENT_TEETH[:30]:
                    odontogram.record_finding(patient.id, tooth, finding, "O")
        client = app.test_client()
        token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
        client.post("/login", data={"username": dentist.username, "password": PASSWORD, "csrf_token": token})
        path = f"/patients/{patient.id}/chart"
        for _ in range(5):  # warm-up: templates compiled, the record's opening audited once
            assert client.get(path).status_code == 200
        samples = []
        for _ in range(requests):
            start = time.perf_counter()
            response = client.get(path)
            samples.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
    return samples


def main() -> None:
    """Seed, time the tab, print p50 and p95 against the issue's 25 ms."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sorriso-chart-") as tmp:
        values = timings(args.patients, args.requests, Path(tmp) / "clinic")
    verdict = "meets" if p95(values) < 25 else "ABOVE"
    print(f"Odontogram tab with 30 findings, {args.patients} patients, {args.requests} requests, milliseconds")
    print(f"  p50 {statistics.median(values):6.1f}  p95 {p95(values):6.1f}  [{verdict} issue 11's 25 ms]")


if __name__ == "__main__":
    main()
