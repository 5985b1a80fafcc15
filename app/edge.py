"""The request edge: what a request must look like before any route sees it, in one place.

- `IdConverter` (`<id:name>` in every route): a row id is written 1..MAX_ID, in ASCII digits without a sign or
  leading zero; anything else matches no route, so an impossible id is a 404 (for every method: Werkzeug answers
  405 before a converter could refuse a value, hence the bound lives in the pattern) and never reaches the
  database, where a number past 2**63 - 1 overflows SQLite and PostgreSQL alike.
- `positive_int`, `page_number`, `rows_per_page`, `query_date`: the one parser of query-string values.
  Garbage and silly values fall back to a default instead of becoming an error or an overflowing query.
- `refuse_file_parts`: no route takes uploads, so a request carrying a file part is a 400 here, for every
  form at once (a file where a text field is expected would otherwise crash the form's validators).
- `EdgeFlask`: the app class whose URL map has the `id` converter and no `//` → `/` redirect (Werkzeug builds
  that redirect from the Host header, so it would send visitors to whatever host a client claimed).
Body size (`MAX_CONTENT_LENGTH`) and accepted hosts (`TRUSTED_HOSTS`) are Flask settings, read in config.py.
"""

import re
from datetime import date

from flask import Flask, request
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import ImmutableDict
from werkzeug.routing import BaseConverter, Map

from app.blueprints.ui import error_page

# Ids have at most 18 digits: well inside the 64-bit integers SQLite and PostgreSQL (bigint) store.
ID_PATTERN = r"[1-9][0-9]{0,17}"
MAX_ID = 10**18 - 1
# Beyond this a page number is silly: page 1. It keeps OFFSET = (page - 1) * per_page (at most 100) tiny.
MAX_PAGE = 100_000
MIN_YEAR, MAX_YEAR = 1900, 2999  # a query date's next day and its UTC instant always exist
DIGITS = re.compile(r"[0-9]{1,19}")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def positive_int(raw: str | None, maximum: int = MAX_ID) -> int | None:
    """The number 1..maximum written in ASCII digits, else None (signs, spaces, other scripts, overflow)."""
    if raw is None or not DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if 1 <= value <= maximum else None


def page_number(raw: str | None) -> int:
    """A page number; missing, garbage or above MAX_PAGE is page 1 (a page past the last one shows no rows)."""
    return positive_int(raw, MAX_PAGE) or 1


def rows_per_page(raw: str | None, default: int, low: int = 10, high: int = 100) -> int:
    """Rows per page between `low` and `high`; `default` when missing or garbage."""
    value = positive_int(raw)
    return default if value is None else min(max(value, low), high)


def query_date(raw: str | None) -> date | None:
    """An aaaa-mm-dd date between MIN_YEAR and MAX_YEAR, else None (garbage is ignored, not an error)."""
    text = (raw or "").strip()
    if not ISO_DATE.fullmatch(text):
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:
        return None
    return value if MIN_YEAR <= value.year <= MAX_YEAR else None


class IdConverter(BaseConverter):
    """`<id:name>`: a row id, 1..MAX_ID as written by url_for; anything else matches no route (a 404)."""

    regex = ID_PATTERN
    weight = 50  # as Werkzeug's int converter: tried before catch-all text segments
    part_isolating = True

    def to_python(self, value: str) -> int:
        """The id as an int (the pattern already bounds it)."""
        return int(value)

    def to_url(self, value) -> str:
        """An id for url_for."""
        return str(int(value))


class EdgeMap(Map):
    """Sorriso's URL map: the `id` converter, and no redirect merging `//` (its Location echoes the Host)."""

    default_converters = ImmutableDict({**Map.default_converters, "id": IdConverter})

    def __init__(self, *args, **kwargs):
        """A Werkzeug Map with merge_slashes off unless asked for."""
        kwargs.setdefault("merge_slashes", False)
        super().__init__(*args, **kwargs)


class EdgeFlask(Flask):
    """Flask with Sorriso's URL map (set on the class: Flask adds the static route while it is built)."""

    url_map_class = EdgeMap


FILE_REFUSED = _l("Este formulário não aceita arquivos. Volte, preencha os campos de texto e envie de novo.")


def refuse_file_parts():
    """The one place uploads are refused: no form takes files, so a request with a file part is a 400."""
    if request.files:
        return error_page(400, str(FILE_REFUSED))
    return None


def init_edge(app: Flask) -> None:
    """Refuse file parts before any other hook (CSRF, login, policy) reads the form."""
    app.before_request(refuse_file_parts)
