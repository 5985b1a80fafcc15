"""Write docs/BENCHMARKS.md from the results the benchmarks saved in bench/results/ (`make bench` runs this last).

Every figure is the median of the runs with its spread (min–max); each SPEC 10 target is shown with its verdict.
A benchmark that did not run leaves its section saying so, never an old figure.
"""

import json
import time

from bench.common import RESULTS, ROOT, machine

TARGET_ACTIONS = 300
GROWTH_LIMIT = 1.2
PAGE_LIMIT_MS = 25
SEARCH_LIMIT_MS = 25
AUDIT_RATIO = 0.6
WAL_BOUND_MB = 64  # app/db/wal.py WAL_BOUND_BYTES
WAL_CONFIGS = ("sqlite-small", "sqlite-large")  # the others keep no WAL (PostgreSQL, a rollback journal)
LABELS = {
    "sqlite-small": "SQLite, 1,000 patients",
    "sqlite-large": "SQLite, 100,000 patients",
    "postgres-small": "PostgreSQL, 1,000 patients",
    "sqlite-defaults-small": "SQLite defaults (rollback journal, busy_timeout 0, deferred BEGIN), 1,000 patients",
}


def load(name: str) -> dict | None:
    """One benchmark's saved results, or None when it has not run."""
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def fig(found: dict, digits: int = 0, unit: str = "") -> str:
    """A median with its spread: `212 (198–220)`."""
    fmt = f"{{:,.{digits}f}}"
    median, low, high = (fmt.format(found[k]) for k in ("median", "min", "max"))
    return f"{median}{unit} ({low}–{high})" if low != high else f"{median}{unit}"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def load_section(results: dict | None) -> tuple[list[str], list[tuple[str, str, str]]]:
    """The load tables and the load targets' rows."""
    if results is None:
        return ["*Not run (`python -m bench.load`).*"], []
    configs = results["configs"]
    lines = [
        f"{results['sessions']} staff sessions (locust `FastHttpUser`, no think time) log in through the real form and "
        f"run the SPEC 10 mix for {next(iter(v['seconds'] for v in configs.values() if isinstance(v, dict)))} s "
        "against gunicorn started as `make run` starts it (2 `gthread` workers × 16 threads), after a 10 s warm-up "
        "that is not counted. Mix: search 20, open record 14, another tab of the open record 14, agenda day 11, "
        "dashboard 11 (70 %); register patient 7, edit patient 6, book 7, move 5, record payment 5 (30 %). Each "
        "session books in its own agenda days and pays on its own plans, so a refusal would be a real one.",
        "",
        '| Configuration | actions/s | failures | "database is locked" | server CPU per action | '
        "client CPU | peak RSS per worker | largest WAL after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, found in configs.items():
        if not isinstance(found, dict):
            continue
        lines.append(
            f"| {LABELS.get(label, label)} | {fig(found['actions_per_s'])} | {fig(found['failures'])} | "
            f"{fig(found['locked_in_log'])} | {fig(found['server_cpu_ms_per_action'], 1, ' ms')} | "
            f"{fig(found['client_cpu_s'], 1, ' s')} | {fig(found['worker_peak_rss_mb'], 0, ' MiB')} | "
            f"{fig(found['largest_wal_mb'], 1, ' MiB') if label in WAL_CONFIGS else '—'} |"
        )
    for label, found in configs.items():
        if not isinstance(found, dict):
            continue
        lines += ["", f"**{LABELS.get(label, label)}**, per action (ms):", ""]
        lines += ["| action | count | p50 | p95 | p99 | failures |", "|---|---|---|---|---|---|"]
        for name, action in found["actions"].items():
            lines.append(
                f"| {name} | {fig(action['count'])} | {fig(action['p50'])} | {fig(action['p95'])} | "
                f"{fig(action['p99'])} | {fig(action['failures'])} |"
            )
        if found["errors"]:
            lines += ["", "Errors by kind (all runs): " + "; ".join(f"{k}: {v}" for k, v in found["errors"].items())]
        else:
            lines += ["", "Errors by kind: none."]
    rows = []
    small = configs.get("sqlite-small")
    if small:
        rate = small["actions_per_s"]["median"]
        rows.append((f"Load ≥ {TARGET_ACTIONS} actions/s at 1,000 patients", f"{rate:.0f}/s", verdict(rate >= 300)))
        clean = small["failures"]["max"] == 0 and small["locked_in_log"]["max"] == 0
        rows.append(("Load: zero errors, zero \"database is locked\"", f"{small['failures']['max']} errors, "
                     f"{small['locked_in_log']['max']} locked (worst run)", verdict(clean)))  # fmt: skip
    if "growth" in configs:
        growth = configs["growth"]
        rows.append((f"100,000 patients within {GROWTH_LIMIT}× of 1,000", f"{growth:.2f}×", verdict(growth <= 1.2)))
    walls = [c["largest_wal_mb"]["max"] for label, c in configs.items() if label in WAL_CONFIGS]
    if walls:
        rows.append((f"WAL bound ({WAL_BOUND_MB} MiB) after a load run", f"{max(walls):.1f} MiB",
                     verdict(max(walls) <= WAL_BOUND_MB)))  # fmt: skip
    return lines, rows


def profile_section(results: dict | None) -> list[str]:
    """Where the server's CPU went during the first SQLite run."""
    found = (results or {}).get("configs", {}).get("sqlite-small", {}).get("profile")
    if not found:
        return ["*No profile (py-spy samples the first SQLite 1,000-patient run).*"]
    lines = [
        "py-spy sampled both workers at 200 Hz during the first SQLite 1,000-patient run, counting only the thread "
        "that held the GIL (`--gil`), i.e. the server's Python CPU. Each sample goes to the first of: a phase "
        "(the relay thread, loading the user per request, the logins' password hashing), else the library at the "
        "top of the stack.",
        "",
        "| where | share of CPU samples |",
        "|---|---|",
    ]
    lines += [f"| {label} | {share:.1f} % |" for label, share in found.items()]
    return lines


def pages_section(results: dict | None) -> tuple[list[str], list[tuple[str, str, str]]]:
    if results is None:
        return ["*Not run (`python -m bench.pages`).*"], []
    lines = [
        f"One logged-in client GETs every page route of `url_map` with realistic ids over HTTP (gunicorn as "
        f"`make run`), {results['patients']:,} patients, {results['rounds']} requests per page per run, "
        f"{results['runs']} runs.",
        "",
        "| page | p50 (ms) | p95 (ms) | limit | |",
        "|---|---|---|---|---|",
    ]
    over = []
    for label, page in results["pages"].items():
        ok = page["p95"]["median"] < page["limit_ms"]
        if not ok:
            over.append(label)
        lines.append(
            f"| {label} | {fig(page['p50'], 1)} | {fig(page['p95'], 1)} | {page['limit_ms']} ms | {verdict(ok)} |"
        )
    measured = f"{len(results['pages']) - len(over)} of {len(results['pages'])} pages" + (
        f"; over: {', '.join(over)}" if over else ""
    )
    return lines, [(f"Single user: every page p95 < {PAGE_LIMIT_MS} ms (reports < 500 ms) at 100,000", measured,
                    verdict(not over))]  # fmt: skip


def writes_section(results: dict | None) -> tuple[list[str], list[tuple[str, str, str]]]:
    if results is None:
        return ["*Not run (`python -m bench.run`).*"], []
    lines = [
        f"`create_patient` through the real service ({results['writes']} writes per run, fresh migrated files, runs "
        "interleaved). Audit *off* removes capture and outbox; *inline* relays in the request; *background* is "
        "the server's relay thread; the clock stops only when history.db holds every event. The floor is a raw "
        "`sqlite3` loop, one INSERT per committed transaction.",
        "",
        "| configuration | writes/s |",
        "|---|---|",
    ]
    lines += [f"| {label} | {fig(found)} |" for label, found in results["configs"].items()]
    lines += ["", "| ratio | value |", "|---|---|"]
    lines += [f"| {label} | {value:.2f} |" for label, value in results["ratios"].items()]
    ratio = results["ratios"]["audit background / off (FULL)"]
    return lines, [(f"Audit overhead: audited ≥ {AUDIT_RATIO:.0%} of unaudited (FULL, background relay)",
                    f"{ratio:.2f}", verdict(ratio >= AUDIT_RATIO))]  # fmt: skip


def search_section(results: dict | None) -> tuple[list[str], list[tuple[str, str, str]]]:
    if results is None:
        return ["*Not run (`python -m bench.search`).*"], []
    lines = [
        f"`search_patients` (the service behind the list and search-as-you-type), {len(results['queries'])} queries "
        f"(accent-free names, CPF and phone fragments, the unfiltered first page) × {results['rounds']} rounds.",
        "",
        "| patients | p50 (ms) | p95 (ms) |",
        "|---|---|---|",
    ]
    sizes = results["sizes"]
    lines += [f"| {int(count):,} | {fig(found['p50'], 1)} | {fig(found['p95'], 1)} |" for count, found in sizes.items()]
    lines += ["", f"p95 growth from 1,000 to {int(max(sizes, key=int)):,} patients: {results['growth']:.1f}×."]
    large = sizes[max(sizes, key=int)]["p95"]["median"]
    return lines, [(f"Search p95 < {SEARCH_LIMIT_MS} ms at 100,000 patients", f"{large:.1f} ms",
                    verdict(large < SEARCH_LIMIT_MS))]  # fmt: skip


def main() -> None:
    facts = machine()
    load_lines, load_rows = load_section(load("load"))
    page_lines, page_rows = pages_section(load("pages"))
    write_lines, write_rows = writes_section(load("writes"))
    search_lines, search_rows = search_section(load("search"))
    analysis = ROOT / "bench" / "analysis.md"
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {time.strftime('%Y-%m-%d')} (do not edit by hand: `bench/report.py` builds it "
        "from `bench/results/`; the analysis at the end is `bench/analysis.md`).",
        "",
        f"Machine: {facts['cpu']}, {facts['cores']} cores, {facts['memory_mb']:,} MiB, {facts['os']}. "
        f"Python {facts['python']}, SQLite {facts['sqlite']}, Flask {facts['flask']}, SQLAlchemy "
        f"{facts['sqlalchemy']}, gunicorn {facts['gunicorn']}, locust {facts['locust']}, psycopg {facts['psycopg']}.",
        "",
        "Every figure is the median of 3 runs with the spread (min–max) in brackets. These are figures, not tests: "
        "nothing here is asserted by `make test`.",
        "",
        "## SPEC 10 targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in (*load_rows, *page_rows, *search_rows, *write_rows)],
        "",
        "## Load",
        "",
        *load_lines,
        "",
        "## Where the time goes",
        "",
        *profile_section(load("load")),
        "",
        "## Single user",
        "",
        *page_lines,
        "",
        "## Writes",
        "",
        *write_lines,
        "",
        "## Search",
        "",
        *search_lines,
        "",
        *(analysis.read_text().splitlines() if analysis.exists() else []),
    ]
    target = ROOT / "docs" / "BENCHMARKS.md"
    target.write_text("\n".join(lines).rstrip() + "\n")
    print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
