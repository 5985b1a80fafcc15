"""Operation metrics: /metrics (Prometheus' text format) for administrators and a token, the system page's
per-route table, the outbox gauges, and the percentile estimate from histogram buckets.

These apps run without PROMETHEUS_MULTIPROC_DIR: each keeps its own counters in memory. The multiprocess mode
of gunicorn's workers is tested through the real server in tests/web/test_server.py.
"""

import math
import re
import uuid
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from app import create_app, metrics
from app.db import PACIENTES, USERS, engine_of
from app.db.audit import outbox_table
from app.db.types import utcnow
from app.services.performance import histogram_quantile
from tests.conftest import IsolatedClient, build_app, dispose, sqlite_urls
from tests.factories import make_user
from tests.support import login_as

TOKEN = "token-de-monitoramento-0123456789"
DURATION = metrics.REQUEST_DURATION


def samples(response) -> list:
    """Every sample of a /metrics answer, parsed by prometheus_client's own parser."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/plain"
    families = text_string_to_metric_families(response.get_data(as_text=True))
    return [sample for family in families for sample in family.samples]


def requests_counted(found: list, endpoint: str, **labels) -> float:
    """The request count of an endpoint (every method and status, unless labels narrow it)."""
    wanted = {"endpoint": endpoint, **labels}
    return sum(
        s.value for s in found if s.name == f"{DURATION}_count" and all(s.labels.get(k) == v for k, v in wanted.items())
    )


def gauge(found: list, name: str, bind: str) -> float:
    (value,) = [s.value for s in found if s.name == name and s.labels == {"bind": bind}]
    return value


@pytest.fixture
def token_app(db_dir):
    """An app whose /metrics also admits `Authorization: Bearer TOKEN`."""
    app = build_app(db_dir, METRICS_TOKEN=TOKEN)
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
    dispose(app)


def bearer(token: str = TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_admin_sees_the_requests_of_a_route_just_requested(app, client):
    """Three visits to the patients list are three GETs answered 2xx, in the duration histogram's count."""
    login_as(client, "admin")
    for _ in range(3):
        assert client.get("/patients").status_code == 200
    found = samples(client.get("/metrics"))
    assert requests_counted(found, "patients.index", method="GET", status="2xx") == 3
    buckets = [s for s in found if s.name == f"{DURATION}_bucket" and s.labels["endpoint"] == "patients.index"]
    assert [s.labels["le"] for s in buckets] == [*map(str, metrics.BUCKETS[:-1]), "+Inf"]
    assert buckets[-1].value == 3


@pytest.mark.parametrize("role", ["receptionist", "dentist"])
def test_other_roles_are_refused_with_403(app, client, role):
    login_as(client, role)
    response = client.get("/metrics")
    assert response.status_code == 403
    assert DURATION not in response.get_data(as_text=True)


def test_anonymous_scraper_gets_401_with_a_bearer_challenge(app, client):
    """No session and no token: a 401 a monitoring program understands, not the login page."""
    make_user("admin")
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="sorriso"'
    assert DURATION not in response.get_data(as_text=True)


def test_the_token_opens_metrics_without_a_session(token_app):
    """A monitoring system sends the configured token; no account, cookie or CSRF token is needed."""
    client = token_app.test_client()
    client.get("/healthz")
    found = samples(client.get("/metrics", headers=bearer()))
    assert requests_counted(found, "health.healthz", method="GET", status="2xx") == 1


def test_the_token_works_before_first_run_setup(token_app):
    """A fresh install (no account yet) can already be monitored; pages still lead to setup."""
    client = token_app.test_client()
    assert client.get("/").location == "/setup"
    assert samples(client.get("/metrics", headers=bearer()))


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer ",
        "Bearer token-de-monitoramento-é",
        f"Basic {TOKEN}",
        TOKEN,
    ],
)
def test_a_wrong_token_is_refused(token_app, authorization):
    client = token_app.test_client()
    response = client.get("/metrics", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert DURATION not in response.get_data(as_text=True)


def test_a_wrong_token_is_refused_even_with_an_admin_session(token_app):
    """Credentials sent and wrong are refused outright (invalid_token), whatever the cookie says."""
    client = token_app.test_client()
    login_as(client, "admin")
    response = client.get("/metrics", headers=bearer("not-the-token-at-all"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_without_a_configured_token_no_token_opens_metrics(app, client):
    """METRICS_TOKEN unset: token access is off, even for an empty bearer or the placeholder of another app."""
    assert app.config["METRICS_TOKEN"] is None
    for headers in (bearer(TOKEN), bearer(""), {"Authorization": "Bearer None"}):
        assert client.get("/metrics", headers=headers).status_code == 401


def test_production_refuses_a_short_metrics_token(db_dir, monkeypatch):
    keys = {"SECRET_KEY": "k" * 32, "AUDIT_HMAC_KEY": "a" * 32}
    with pytest.raises(SystemExit, match="METRICS_TOKEN"):
        create_app("production", {**sqlite_urls(db_dir), **keys, "METRICS_TOKEN": "short"})
    create_app("production", {**sqlite_urls(db_dir), **keys, "METRICS_TOKEN": TOKEN})


def test_unknown_paths_and_methods_do_not_become_labels(token_app):
    """Labels are endpoint names: a 404 is "unmatched", a made-up method "other"; the raw path never appears."""
    client = token_app.test_client()
    client.get("/no-such-page-8f3a")
    client.open("/healthz", method="BREW")
    response = client.get("/metrics", headers=bearer())
    found = samples(response)
    assert requests_counted(found, metrics.UNMATCHED, status="4xx") == 2
    assert requests_counted(found, metrics.UNMATCHED, method="other", status="4xx") == 1
    assert "8f3a" not in response.get_data(as_text=True) and "BREW" not in response.get_data(as_text=True)


def test_each_app_counts_its_own_requests(db_dir):
    """Without the multiprocess folder, apps (a test's, another test's) share no counters and write no files."""
    assert metrics.MULTIPROCESS_DIR is None
    first, second = (build_app(db_dir, METRICS_TOKEN=TOKEN) for _ in range(2))
    for app in (first, second):
        app.test_client_class = IsolatedClient
    first.test_client().get("/healthz")
    assert requests_counted(samples(first.test_client().get("/metrics", headers=bearer())), "health.healthz") == 1
    assert requests_counted(samples(second.test_client().get("/metrics", headers=bearer())), "health.healthz") == 0
    assert not list(db_dir.rglob("*_*.db"))  # prometheus_client's files are named histogram_<pid>.db and so on
    dispose(first)
    dispose(second)


def _pending_outbox_row(bind: str, age: timedelta) -> None:
    """An outbox row written `age` ago that no relay has taken yet."""
    row = {"event_id": uuid.uuid4().hex, "created_at": utcnow() - age, "payload": '{"events": []}'}
    with engine_of(bind).begin() as conn:
        conn.execute(insert(outbox_table(bind)), row)


def test_outbox_depth_and_relay_lag_are_read_at_scrape_time(token_app):
    """Rows waiting in an outbox show as its depth, and the oldest one's age as the relay lag, per bind."""
    client = token_app.test_client()
    found = samples(client.get("/metrics", headers=bearer()))
    assert gauge(found, metrics.OUTBOX_PENDING, PACIENTES) == 0 and gauge(found, metrics.RELAY_LAG, PACIENTES) == 0
    _pending_outbox_row(PACIENTES, timedelta(minutes=10))
    _pending_outbox_row(PACIENTES, timedelta(seconds=5))
    found = samples(client.get("/metrics", headers=bearer()))
    assert gauge(found, metrics.OUTBOX_PENDING, PACIENTES) == 2
    assert gauge(found, metrics.RELAY_LAG, PACIENTES) >= 600  # the oldest row's age, measured after it was written
    assert gauge(found, metrics.OUTBOX_PENDING, USERS) == 0 and gauge(found, metrics.RELAY_LAG, USERS) == 0


def test_a_scrape_never_creates_a_missing_database(token_app, db_dir):
    """With pacientes.db gone, /metrics still answers (requests only) and does not create the file."""
    dispose(token_app)
    (db_dir / "pacientes.db").unlink()
    found = samples(token_app.test_client().get("/metrics", headers=bearer()))
    assert not (db_dir / "pacientes.db").exists()
    assert not [s for s in found if s.name in (metrics.OUTBOX_PENDING, metrics.RELAY_LAG)]


def test_system_page_shows_routes_with_percentiles_and_the_relay_lag(app, client):
    """The page's table is read from the same metrics: a row per endpoint with its count and p50/p95/p99."""
    login_as(client, "admin")
    for _ in range(4):
        client.get("/patients")
    _pending_outbox_row(PACIENTES, timedelta(minutes=2))
    page = client.get("/admin/system").get_data(as_text=True)
    table = page[page.index('id="route-performance"') :]
    row = re.search(r"<code>patients\.index</code></td>\s*<td class=\"num\">(\d+)</td>(.*?)</tr>", table, re.S)
    assert row, table[:2000]
    assert row.group(1) == "4"
    assert len(re.findall(r'<td class="num nowrap">[0-9.]+,[0-9] m?s</td>', row.group(2))) == 3
    assert "<code>auth.login</code>" in table  # the login itself: every route answered is counted
    lag = re.search(r'Atraso da auditoria</dt>\s*<dd><span class="badge badge-warning">([0-9.]+),[0-9] s</span>', page)
    assert lag and int(lag.group(1).replace(".", "")) >= 120
    assert "pacientes: 1 · users: 0" in page


# --- the percentile estimate ---------------------------------------------------------------------------------

INF = math.inf


@pytest.mark.parametrize(
    "q, buckets, expected",
    [
        (0.5, [(1.0, 10), (INF, 10)], 0.5),  # the lowest bucket starts at 0
        (0.5, [(0.1, 0), (0.2, 10), (INF, 10)], 0.15),  # halfway into the bucket holding every observation
        (0.25, [(0.1, 5), (0.2, 10), (0.4, 20), (INF, 20)], 0.1),  # the rank on a bucket's upper edge
        (0.75, [(0.1, 5), (0.2, 10), (0.4, 20), (INF, 20)], 0.3),
        (0.99, [(0.1, 5), (0.2, 10), (INF, 20)], 0.2),  # rank in +Inf: the highest finite bound
        (1.0, [(0.1, 5), (0.2, 10), (INF, 10)], 0.2),
        (0.5, [(-1.0, 4), (0.5, 8), (INF, 8)], -1.0),  # a bound at or below 0 is its own estimate
        (0.5, [(0.1, 0), (INF, 0)], None),  # nothing counted
    ],
)
def test_histogram_quantile_examples(q, buckets, expected):
    result = histogram_quantile(q, buckets)
    assert result == expected if expected is None else result == pytest.approx(expected)


@pytest.mark.parametrize(
    "q, buckets", [(0, [(1.0, 1), (INF, 1)]), (1.5, [(1.0, 1), (INF, 1)]), (0.5, [(INF, 3)]), (0.5, [(1.0, 3)])]
)
def test_histogram_quantile_refuses_nonsense(q, buckets):
    with pytest.raises(ValueError):
        histogram_quantile(q, buckets)


def _buckets_of(values: list[float]) -> list[tuple[float, float]]:
    """The cumulative buckets prometheus_client would count these observations in."""
    return [(bound, sum(v <= bound for v in values)) for bound in metrics.BUCKETS]


OBSERVATIONS = st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=200)
QUANTILE = st.floats(min_value=0.001, max_value=1.0)
EPSILON = 1e-12


@given(values=OBSERVATIONS, q=QUANTILE)
def test_the_estimate_lies_in_the_bucket_of_the_true_quantile(values, q):
    """The q-quantile of the observations (the ceil(q n)-th smallest) lies in a bucket; the estimate stays in it
    (the highest finite bound when that bucket is +Inf)."""
    ordered = sorted(values)
    true_value = ordered[max(math.ceil(q * len(values)), 1) - 1]
    upper_index = next(i for i, bound in enumerate(metrics.BUCKETS) if true_value <= bound)
    lower = metrics.BUCKETS[upper_index - 1] if upper_index else 0.0
    upper = metrics.BUCKETS[upper_index]
    estimate = histogram_quantile(q, _buckets_of(values))
    if upper == INF:
        assert estimate == lower
    else:
        assert lower - EPSILON <= estimate <= upper + EPSILON  # lower + (upper - lower) may round past upper


@given(values=OBSERVATIONS, low=QUANTILE, high=QUANTILE)
def test_the_estimate_grows_with_the_quantile(values, low, high):
    low, high = sorted((low, high))
    buckets = _buckets_of(values)
    assert histogram_quantile(low, buckets) <= histogram_quantile(high, buckets) + EPSILON
