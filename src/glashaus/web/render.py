"""Templates and value formatting for the web shell (Jinja2 with autoescaping on).

Every value reaches the page through a template, so user text (comments, tags, cell
values, error messages) is escaped; no page builds HTML by hand.

>>> cell(b"abc"), cell(None), cell(3.5)
('<3 bytes>', 'NULL', '3.5')
>>> columns, rows = table_rows(pa.table({"a": [1, 2, 3]}), limit=2)
>>> columns, rows
(['a'], [[1], [2]])
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from typing import Any

import jinja2
import pyarrow as pa
from starlette.responses import HTMLResponse

from glashaus.errors import GlashausError, NotFoundError
from glashaus.http.errors import hide_paths

_DID_YOU_MEAN = re.compile(r" Did you mean '[^']*'\?$")

#: Longer cell values are cut (the full value is one SQL query away).
MAX_CELL = 1000

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("glashaus.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

#: Headers on every page: no scripts at all, no framing, nothing cached (pages show governed data).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def cell(value: Any) -> str:
    """A value as the text of one table cell."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dict | list):
        text = json.dumps(value, default=str, ensure_ascii=False)
    else:
        text = str(value)
    return text if len(text) <= MAX_CELL else text[:MAX_CELL] + "…"


def when(value: Any) -> str:
    """A timestamp to the second."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return "" if value is None else str(value)


def size(num_bytes: Any) -> str:
    """A byte count for people.

    >>> size(1536)
    '1.5 KiB'
    """
    if not isinstance(num_bytes, int | float):
        return ""
    value = float(num_bytes)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return ""  # unreachable


ENV.filters.update(cell=cell, when=when, size=size)


def table_rows(table: pa.Table, *, limit: int) -> tuple[list[str], list[list[Any]]]:
    """Column names and the first ``limit`` rows (columns of the same name stay apart)."""
    head = table.slice(0, limit)
    columns = [c.to_pylist() for c in head.columns]
    return list(head.column_names), [list(row) for row in zip(*columns, strict=True)] if columns else []


def page(template: str, *, status: int = 200, headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    """Render ``templates/<template>`` as a response."""
    context.setdefault("user", None)
    context.setdefault("csrf", "")
    context.setdefault("active", "")
    html = ENV.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})


def public_message(exc: GlashausError, *, hidden: Iterable[str] = ()) -> str:
    """The error's message, minus a 'did you mean' hint (it may name a securable the caller cannot
    see) and with the ``hidden`` storage prefixes (the lakehouse root) as ``<lakehouse>``.

    >>> public_message(NotFoundError("model 'main.shop.recp' does not exist. Did you mean 'main.shop.reco'?"))
    "model 'main.shop.recp' does not exist."
    """
    message = hide_paths(str(exc), hidden)
    if isinstance(exc, NotFoundError):
        message = _DID_YOU_MEAN.sub("", message)
    return message
