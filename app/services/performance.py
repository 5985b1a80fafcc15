"""The system page's operation figures: requests and latency percentiles per route, the audit relay's backlog.

Read from the very metrics /metrics exposes (`app.metrics.collect`: every gunicorn worker's, merged), so the page
and a clinic's Prometheus never disagree. Percentiles are estimated from the histogram's buckets the way
Prometheus' `histogram_quantile` does it.
"""

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from flask import current_app

from app import metrics

PERCENTILES = (0.5, 0.95, 0.99)


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The q-quantile (0 < q <= 1) of a histogram given as cumulative (upper bound, count) pairs in ascending
    order, the last bound +Inf; None when it counted nothing.

    As Prometheus: linear interpolation inside the bucket where the rank q * total falls, the lowest bucket
    starting at 0 (or being its bound, when that is not positive); a rank in the +Inf bucket gives the highest
    finite bound.
    """
    if not 0 < q <= 1:
        raise ValueError(f"a quantile is above 0 and at most 1, got {q}")
    if len(buckets) < 2 or buckets[-1][0] != math.inf:
        raise ValueError("a histogram needs a finite bucket and the +Inf bucket last")
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for index, (upper, count) in enumerate(buckets):
        if count >= rank:
            if upper == math.inf:
                return lower
            if index == 0 and upper <= 0:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return lower  # not reached: the +Inf bucket counts everything, so its count is at least the rank


@dataclass(frozen=True)
class RoutePerformance:
    """One endpoint's answered requests and latency percentiles in seconds (None before its first request)."""

    endpoint: str
    requests: int
    p50: float | None
    p95: float | None
    p99: float | None


@dataclass(frozen=True)
class Performance:
    """Routes by number of requests, and per audited bind the outbox rows waiting and their oldest's age."""

    routes: list[RoutePerformance]
    outbox_pending: dict[str, int]
    relay_lag_seconds: dict[str, float]

    @property
    def relay_lag(self) -> float | None:
        """The oldest waiting outbox row's age in seconds, over every bind; None when the outboxes were unreadable."""
        return max(self.relay_lag_seconds.values()) if self.relay_lag_seconds else None


def route_performance(families) -> list[RoutePerformance]:
    """Rows of the request histogram's families, every method and status of an endpoint added up."""
    buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for family in families:
        if family.name != metrics.REQUEST_DURATION:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                buckets[sample.labels["endpoint"]][float(sample.labels["le"])] += sample.value
    rows = []
    for endpoint, by_bound in buckets.items():
        pairs = sorted(by_bound.items())
        p50, p95, p99 = (histogram_quantile(q, pairs) for q in PERCENTILES)
        rows.append(RoutePerformance(endpoint, int(pairs[-1][1]), p50, p95, p99))
    return sorted(rows, key=lambda row: (-row.requests, row.endpoint))


def _per_bind(families, name: str) -> dict[str, float]:
    return {s.labels["bind"]: s.value for family in families if family.name == name for s in family.samples}


def performance() -> Performance:
    """Collect the metrics once (all workers) and read the page's figures from them."""
    families = metrics.collect(current_app)
    pending = {bind: int(value) for bind, value in _per_bind(families, metrics.OUTBOX_PENDING).items()}
    return Performance(route_performance(families), pending, _per_bind(families, metrics.RELAY_LAG))
