"""Operation metrics: request durations per route, the audit outboxes' depth and relay lag (/metrics, system page).

One histogram, `sorriso_http_request_duration_seconds`, labelled by endpoint name (never the raw path: a URL no
route matches is "unmatched"), method and status class, so the number of series stays bounded; its `_count` is
the request count. Each request costs one `observe()`, in the last after_request hook; static files are counted
too (one "static" row). The outboxes' depth and the age of their oldest event are read from the databases when
metrics are collected (`OutboxCollector`), never per request.

Under gunicorn each worker is a process with its own counters. prometheus_client's multiprocess mode keeps them
in files of PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py sets it to instance/metrics/ before any worker imports
this module, and empties it when the server starts), and collecting merges every worker's file. Without the
variable (tests, `flask run`, CLI commands) each app keeps its own counters in memory and writes no file.
/metrics and the system page read the same `collect()`.
"""

import logging
import os
import time
from datetime import datetime
from pathlib import Path

from flask import Flask, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.exc import SQLAlchemyError

from app.db import engine_of
from app.db.audit import AUDITED_BINDS
from app.db.probe import sqlite_path
from app.db.relay import outbox_backlog
from app.db.types import utcnow

log = logging.getLogger(__name__)

# Read once, as prometheus_client reads it when imported: a process's metrics all write files, or none does.
MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None

REQUEST_DURATION = "sorriso_http_request_duration_seconds"
OUTBOX_PENDING = "sorriso_audit_outbox_pending"
RELAY_LAG = "sorriso_audit_relay_lag_seconds"
UNMATCHED = "unmatched"  # the endpoint label of a request no route matched (a 404, a 405)
# Upper bounds in seconds, for pages that take 1 ms to 2 s; slower requests fall in +Inf.
BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, float("inf"))
# Any other method (clients may send anything) is labelled "other", to keep the label bounded.
METHODS = frozenset({"GET", "POST", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
EXTENSION = "sorriso_metrics"


class RequestMetrics:
    """One app's request histogram and the registry its metrics are collected from."""

    def __init__(self):
        self.histogram = Histogram(
            REQUEST_DURATION,
            "Time to answer a request, by endpoint name, method and status class",
            ("endpoint", "method", "status"),
            buckets=BUCKETS,
            registry=None,
        )
        self._series = {}  # (endpoint, method, status) -> the histogram's child (labels() takes a lock)
        self.registry = CollectorRegistry()
        if MULTIPROCESS_DIR:
            Path(MULTIPROCESS_DIR).mkdir(parents=True, exist_ok=True)
            MultiProcessCollector(self.registry, MULTIPROCESS_DIR)  # every worker's files, this one's included
        else:
            self.registry.register(self.histogram)
        self.registry.register(OutboxCollector())

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        key = (endpoint, method if method in METHODS else "other", f"{status // 100}xx")
        series = self._series.get(key)
        if series is None:
            series = self._series.setdefault(key, self.histogram.labels(*key))
        series.observe(seconds)


class OutboxCollector:
    """Per audited bind, at collection time: outbox rows waiting for the relay, and how old the oldest one is."""

    def collect(self):
        """Two gauge families; nothing when the databases cannot be read (the system page and /healthz say why)."""
        backlog = _readable_backlog()
        if backlog is None:
            return
        pending = GaugeMetricFamily(
            OUTBOX_PENDING, "Outbox rows (batches of audit events) waiting to be relayed to history", labels=["bind"]
        )
        lag = GaugeMetricFamily(
            RELAY_LAG, "Age of the oldest outbox row waiting for the relay (0 when none waits)", labels=["bind"]
        )
        now = utcnow()
        for bind, (count, oldest) in backlog.items():
            pending.add_metric([bind], count)
            lag.add_metric([bind], _age_seconds(oldest, now))
        yield pending
        yield lag


def _age_seconds(oldest: datetime | None, now: datetime) -> float:
    return max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0


def _readable_backlog() -> dict[str, tuple[int, datetime | None]] | None:
    """The outboxes' backlog, or None when a SQLite file is missing (reading would create it) or unreadable."""
    for bind in AUDITED_BINDS:
        path = sqlite_path(engine_of(bind))
        if path is not None and not path.exists():
            return None
    try:
        return outbox_backlog()
    except SQLAlchemyError as exc:
        log.warning("metrics: the audit outboxes could not be read: %s", getattr(exc, "orig", exc))
        return None


def collect(app: Flask) -> list:
    """Every metric family, as /metrics exposes them (all workers merged under gunicorn); needs an app context."""
    return list(app.extensions[EXTENSION].registry.collect())


def exposition(app: Flask) -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    return generate_latest(app.extensions[EXTENSION].registry), CONTENT_TYPE_LATEST


def init_metrics(app: Flask) -> None:
    """Time every request: install this first, so its clock starts before and stops after every other hook."""
    metrics = app.extensions[EXTENSION] = RequestMetrics()

    def start_clock():
        g.metrics_started = time.perf_counter()

    def observe(response):
        started = g.pop("metrics_started", None)
        if started is not None:
            rule = request.url_rule
            endpoint = rule.endpoint if rule is not None else UNMATCHED
            metrics.observe(endpoint, request.method, response.status_code, time.perf_counter() - started)
        return response

    app.before_request(start_clock)
    app.after_request(observe)
