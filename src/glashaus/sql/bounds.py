"""Bounds on the values that one function call builds, where DuckDB's memory limit does not look.

DuckDB's ``memory_limit`` covers what its buffer manager holds (hash tables, sorts,
aggregates, spilled data), not the value a scalar function builds: ``repeat('x',
2000000000)`` allocated 2 GB and ``len(range(300000000))`` 14 GB under a 500 MB limit,
and neither can be interrupted, as one call runs to its end. The functions whose
result size is set by an argument are therefore rewritten so that DuckDB checks the
size first and raises a clear error (:data:`MARK`) instead of allocating:

- ``repeat(s, n)``, ``space(n)``, ``lpad``/``rpad(s, n, c)``, ``bar(x, lo, hi, width)``,
  ``to_base(x, radix, min_length)``, ``bitstring(s, length)``: at most ``max_bytes``;
- ``range``/``generate_series`` as scalars (lists), ``list_resize``/``array_resize``,
  ``equi_width_bins``: at most ``max_bytes / 8`` elements (``FROM range(n)``, the table
  function, streams its rows and is bounded by the time limit instead);
- ``format``/``printf``: a literal format string whose widths stay under ``max_bytes``.

Arguments are evaluated once (they move into a one-element list comprehension), so a
volatile argument (``random()``) cannot pass the check with one value and build with
another. Values built up step by step from many small operations (``s || s`` in a
chain of CTEs) are bounded only by the time limit; a hard cap on them needs queries in
a process of their own with an OS memory limit.

>>> bound_values(sqlglot.parse_one("SELECT repeat('x', 3)"), max_bytes=1024).sql("duckdb")[:28]
'SELECT [CASE WHEN (CAST(LENG'
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sqlglot
from sqlglot import exp

from glashaus.access.sqltext import function_name
from glashaus.errors import QueryLimitError

DIALECT = "duckdb"

#: Starts the message of a value-size error, so that the engine can tell it from other errors.
MARK = "[glashaus value limit] "

_VAR = "__glashaus_v"
# size(args) as SQL over __glashaus_v.a0, .a1, ... (given the number of arguments): bytes for
# strings, elements for lists. Computed as DOUBLE: a product that overflows an integer type must
# still compare as too large.
_BYTES: dict[str, Callable[[int], str]] = {
    "repeat": lambda n: "CAST(LENGTH(CAST({v}.a0 AS VARCHAR)) AS DOUBLE) * {v}.a1",
    "space": lambda n: "CAST({v}.a0 AS DOUBLE)",
    "lpad": lambda n: "CAST({v}.a1 AS DOUBLE) * 4",
    "rpad": lambda n: "CAST({v}.a1 AS DOUBLE) * 4",
    "bar": lambda n: "CAST({v}.a3 AS DOUBLE) * 3" if n > 3 else "0",
    "to_base": lambda n: "CAST({v}.a2 AS DOUBLE)" if n > 2 else "0",
    "bitstring": lambda n: "CAST({v}.a1 AS DOUBLE) / 8",
}
_ELEMENTS: dict[str, Callable[[int], str]] = {
    "list_resize": lambda n: "CAST({v}.a1 AS DOUBLE)",
    "array_resize": lambda n: "CAST({v}.a1 AS DOUBLE)",
    "equi_width_bins": lambda n: "CAST({v}.a2 AS DOUBLE)",
}
_FMT_SPEC = re.compile(r"\{[^{}]*\}")
_PRINTF_SPEC = re.compile(r"%[-+ #0']*(\*|\d+)?(\.(\*|\d+))?[a-zA-Z]")
#: The argument slots of sqlglot's typed nodes, in DuckDB's argument order.
_SLOTS: dict[type, tuple[str, ...]] = {
    exp.Repeat: ("this", "times"),
    exp.Space: ("this",),
    exp.Pad: ("this", "expression", "fill_pattern"),
    exp.GenerateSeries: ("start", "end", "step"),
}


def bound_values(expression: exp.Expr, *, max_bytes: int) -> exp.Expr:
    """``expression`` with every size-setting call checked against ``max_bytes`` (changed in place)."""
    calls = [n for n in expression.find_all(exp.Func) if _bounded(n)]
    for call in reversed(calls):  # deepest first: an outer call then moves its (already bounded) arguments
        if function_name(call) in ("format", "printf"):
            _check_format(call, max_bytes)
            continue
        spot = exp.column("__glashaus_spot")
        if call is expression:
            expression = spot
        else:
            call.replace(spot)
        replacement = (
            _bounded_series(call, max_bytes // 8)
            if isinstance(call, exp.GenerateSeries)
            else _bounded_call(call, max_bytes)
        )
        if spot is expression:
            expression = replacement
        else:
            spot.replace(replacement)
    return expression


def _bounded(node: exp.Func) -> bool:
    if isinstance(node, exp.GenerateSeries):
        return not isinstance(node.parent, exp.Table)  # FROM range(n) streams its rows
    if isinstance(node, tuple(_SLOTS)):
        return True
    return (
        isinstance(node, exp.Anonymous) and function_name(node) in {*_BYTES, *_ELEMENTS, "printf"}
    ) or function_name(node) == "format"


def _name(node: exp.Func) -> str:
    if isinstance(node, exp.Pad):
        return "lpad" if node.args.get("is_left") else "rpad"
    return {exp.Repeat: "repeat", exp.Space: "space", exp.GenerateSeries: "range"}.get(type(node)) or function_name(
        node
    )


def _message(name: str, limit: int, unit: str) -> str:
    return (
        f"{MARK}{name}() would build a value of more than {limit} {unit}, the most one value may hold under "
        "this lakehouse's query memory limit (query memory / 2048, the rows DuckDB computes at once); "
        "build smaller values (FROM range(n) makes rows instead of a list), or raise the memory limit "
        "(glashaus serve --query-memory-mib, connect(query_memory_mib=...))."
    )


def _once(call: exp.Func, size_sql: str, limit: int, message: str) -> exp.Expr:
    """``[CASE WHEN size > limit THEN error(message) ELSE call END FOR v IN [{'a0': ..., ...}]][1]``.

    The call's arguments move into the one-element list (evaluated once); the call reads them
    back as ``v.a0``, ``v.a1``, ... in DuckDB's argument order.
    """
    if isinstance(call, exp.Anonymous):
        arguments = list(call.expressions)
        call.set("expressions", [exp.column(f"a{i}", table=_VAR) for i in range(len(arguments))])
    else:
        keys = [key for key in _SLOTS[type(call)] if call.args.get(key) is not None]
        arguments = [call.args[key] for key in keys]
        for i, key in enumerate(keys):
            call.set(key, exp.column(f"a{i}", table=_VAR))
    fields = ", ".join(f"'a{i}': __glashaus_arg{i}" for i in range(len(arguments)))
    template = sqlglot.parse_one(
        f"[CASE WHEN ({size_sql.format(v=_VAR)}) > {limit} THEN error(__glashaus_message) "
        f"ELSE __glashaus_call END FOR {_VAR} IN [{{{fields}}}]][1]",
        read=DIALECT,
    )
    values: dict[str, exp.Expr] = {f"__glashaus_arg{i}": a for i, a in enumerate(arguments)}
    values["__glashaus_message"] = exp.Literal.string(message)
    values["__glashaus_call"] = call
    for column in list(template.find_all(exp.Column)):
        if not column.table and column.name in values:
            column.replace(values[column.name])
    return template


def _bounded_call(call: exp.Func, max_bytes: int) -> exp.Expr:
    name = _name(call)
    count = (
        len(call.expressions)
        if isinstance(call, exp.Anonymous)
        else len([k for k in _SLOTS[type(call)] if call.args.get(k) is not None])
    )
    if name in _ELEMENTS:
        limit = max_bytes // 8
        return _once(call, _ELEMENTS[name](count), limit, _message(name, limit, "elements"))
    return _once(call, _BYTES[name](count), max_bytes, _message(name, max_bytes, "bytes"))


def _bounded_series(call: exp.GenerateSeries, limit: int) -> exp.Expr:
    """range/generate_series as a list: refused when it would hold more than ``limit`` elements.

    The list is longer than ``limit`` exactly when ``end`` lies beyond ``start + step * limit``
    in the step's direction (a0 = start, a1 = end, a2 = step); the comparison works for
    numbers and for dates and timestamps stepped by intervals alike.
    """
    if call.args.get("step") is None:
        call.set("step", exp.Literal.number(1))
    name = "range" if call.args.get("is_end_exclusive") else "generate_series"
    far = f"({{v}}.a0 + {{v}}.a2 * CAST({limit} AS BIGINT))"
    size = (
        f"CASE WHEN ({far} > {{v}}.a0 AND {{v}}.a1 >= {far}) OR ({far} < {{v}}.a0 AND {{v}}.a1 <= {far}) "
        f"THEN {limit + 1} ELSE 0 END"
    )
    return _once(call, size, limit, _message(name, limit, "elements"))


def _check_format(call: exp.Func, max_bytes: int) -> None:
    """format/printf: the format string must be a literal, its widths and precisions at most ``max_bytes``."""
    name = function_name(call)
    pattern = call.expressions[0] if isinstance(call, exp.Anonymous) and call.expressions else call.this
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise QueryLimitError(
            f"{name}() needs a literal format string here (a computed one could ask for any width); "
            "write the format into the query."
        )
    text = pattern.name.replace("{{", "").replace("}}", "").replace("%%", "")
    if "*" in "".join(m.group(0) for m in _PRINTF_SPEC.finditer(text)) or re.search(r"\{[^}]*\{", text):
        raise QueryLimitError(
            f"{name}() with a width or precision given as an argument is not supported; "
            "write the number into the format string."
        )
    specs = [m.group(0) for m in (*_PRINTF_SPEC.finditer(text), *_FMT_SPEC.finditer(text))]
    if any(int(n) > max_bytes for spec in specs for n in re.findall(r"\d+", spec)):
        raise QueryLimitError(_message(name, max_bytes, "bytes").removeprefix(MARK))
