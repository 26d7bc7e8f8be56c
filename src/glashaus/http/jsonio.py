"""JSON from callers, for every HTTP face: strict, and nested at most :data:`MAX_JSON_DEPTH` deep.

The REST API (bodies and query values), the MLflow protocol (bodies, and JSON inside
their strings), serving bodies and the web shell (signatures stored from uploaded MLmodel
files) read caller JSON through :func:`loads` or :func:`read_json`, so one bound holds
everywhere, checked on the raw bytes before any parser recurses into them.

>>> read_json(b'{"query": "SELECT 1"}')
{'query': 'SELECT 1'}
"""

from __future__ import annotations

import json
import re
from typing import Any

from glashaus.errors import InvalidArgumentError

#: The deepest nesting of arrays and objects a request's JSON may have. Python's parser (and
#: everything that walks a parsed value) recurses once per level and fails with RecursionError
#: around 1,000, which is a crash, not an answer; no message Glashaus, MLflow or a scoring format
#: takes nests anywhere near this deep (a 5-d tensor is 6 levels).
MAX_JSON_DEPTH = 64

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_PAIRS = (b"[]", b"{}")


class JsonError(ValueError):
    """JSON a caller sent that Glashaus does not read (too deep, or a non-finite number)."""


def _no_constant(name: str) -> Any:
    raise JsonError(f"{name} is not a JSON number; send a finite number")


def check_json_depth(text: str | bytes, *, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`JsonError` if JSON ``text`` nests arrays and objects deeper than ``limit``.

    Runs before any parser sees the text, at C speed: strings are cut out, every byte but
    brackets dropped, then innermost pairs are removed ``limit`` times; pairs still left nest
    deeper. (Brackets that never pair up are broken JSON: few of them are left to the parser
    to report, many are refused here, since the parser would recurse into them first.)

    >>> check_json_depth(b'{"a": [[1], "]]]"]}', limit=3)
    >>> check_json_depth("[[[[]]]]", limit=3)
    Traceback (most recent call last):
    ...
    glashaus.http.jsonio.JsonError: JSON nested deeper than 3 levels: send flatter data
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if data.count(b"[") + data.count(b"{") <= limit:  # the common case: too few brackets to matter
        return
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        shorter = brackets.replace(_PAIRS[0], b"").replace(_PAIRS[1], b"")
        if len(shorter) == len(brackets):
            break
        brackets = shorter
    if not brackets:
        return
    paired = len(brackets.replace(_PAIRS[0], b"").replace(_PAIRS[1], b"")) < len(brackets)
    if not paired and brackets.count(b"[") + brackets.count(b"{") <= limit:
        return  # brackets that do not pair up, and few: not JSON, which the parser reports
    raise JsonError(f"JSON nested deeper than {limit} levels: send flatter data")


def loads(text: str | bytes, *, strict: bool = True) -> Any:
    """JSON from a caller, nested at most :data:`MAX_JSON_DEPTH` deep (:class:`JsonError` otherwise).

    ``strict``: ``NaN`` and ``Infinity`` (which Python's json accepts) are refused too.

    >>> loads("[1, 2.5]")
    [1, 2.5]
    """
    check_json_depth(text)
    return json.loads(text, parse_constant=_no_constant) if strict else json.loads(text)


def read_json(body: str | bytes, *, what: str = "the request body", strict: bool = True) -> Any:
    """:func:`loads` for a request: any problem is :class:`InvalidArgumentError` naming ``what``.

    >>> read_json(b'[1, NaN]')
    Traceback (most recent call last):
    ...
    glashaus.errors.InvalidArgumentError: the request body cannot be used: NaN is not a JSON number; send a finite number.
    """
    try:
        return loads(body, strict=strict)
    except JsonError as exc:
        raise InvalidArgumentError(f"{what} cannot be used: {exc}.") from None
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidArgumentError(f"{what} is not valid JSON: {exc}.") from None
