"""How values cross the wire between ``glashaus serve`` and the remote client.

- Arguments and results are JSON, shaped by the Lakehouse method's type hints: a
  dataclass becomes an object of its fields, a datetime an ISO string, a timedelta
  seconds, a ``Name`` its dotted string, a ``pyarrow.Schema`` base64 Arrow IPC. Where
  the hint says ``Any`` (e.g. the values of a history entry) non-JSON values carry a
  tag (``{"$datetime": "..."}``) so that the client gets back exactly what an
  embedded call returns.
- Rows travel as Arrow IPC streams (``application/vnd.apache.arrow.stream``), one
  message per record batch.
- Errors are ``{"error_code": GlashausError.code, "message": ...}`` with an HTTP status
  from :func:`status_of`; the client raises the same exception class.

>>> to_wire(dt.timedelta(minutes=1), dt.timedelta)
60.0
>>> from_wire("2026-11-27T10:00:00+00:00", dt.datetime)
datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime as dt
import json
import logging
import re
import types
import typing
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import pyarrow as pa

from glashaus.catalog.names import INT64_MAX, INT64_MIN, Name
from glashaus.errors import (
    AlreadyExistsError,
    AuthenticationError,
    ConcurrentWriteError,
    GlashausError,
    InvalidArgumentError,
    MetastoreError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RequestTooLargeError,
    StorageError,
    ServiceUnavailableError,
)
from glashaus.frames import to_arrow

log = logging.getLogger("glashaus.server")

ARROW_STREAM = "application/vnd.apache.arrow.stream"
#: Integers on the wire are 64-bit, as everywhere below (Arrow, Delta, DuckDB, the metastore).
INT_MIN, INT_MAX = INT64_MIN, INT64_MAX
#: Most rows per record batch on the wire (``benchmarks/server_read.py``: fewer, larger batches
#: cost less per row to send than 64 Ki-row ones; a 10M-row read was ~15% faster).
BATCH_ROWS = 256 * 1024


class WireError(ValueError):
    """A value does not have the shape its type hint asks for."""


#: The deepest nesting of arrays and objects a request's JSON may have. Python's parser (and
#: everything that walks a parsed value) recurses once per level and fails with RecursionError
#: around 1,000, which is a crash, not an answer; no message Glashaus, MLflow or a scoring format
#: takes nests anywhere near this deep (a 5-d tensor is 6 levels).
MAX_JSON_DEPTH = 64

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_PAIRS = (b"[]", b"{}")


def _no_constant(name: str) -> Any:
    raise WireError(f"{name} is not a JSON number; send a finite number")


def check_json_depth(text: str | bytes, *, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`WireError` if JSON ``text`` nests arrays and objects deeper than ``limit``.

    Runs before any parser sees the text, at C speed: strings are cut out, every byte but
    brackets dropped, then innermost pairs are removed ``limit`` times; pairs still left nest
    deeper. (Brackets that never pair up are broken JSON: few of them are left to the parser
    to report, many are refused here, since the parser would recurse into them first.)

    >>> check_json_depth(b'{"a": [[1], "]]]"]}', limit=3)
    >>> check_json_depth("[[[[]]]]", limit=3)
    Traceback (most recent call last):
    ...
    glashaus.server.wire.WireError: JSON nested deeper than 3 levels: send flatter data
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
    raise WireError(f"JSON nested deeper than {limit} levels: send flatter data")


def loads(text: str | bytes, *, strict: bool = True) -> Any:
    """JSON from a caller, nested at most :data:`MAX_JSON_DEPTH` deep (:class:`WireError` otherwise).

    ``strict``: ``NaN`` and ``Infinity`` (which Python's json accepts) are refused too.

    >>> loads("[1, 2.5]")
    [1, 2.5]
    """
    check_json_depth(text)
    return json.loads(text, parse_constant=_no_constant) if strict else json.loads(text)


def read_json(body: str | bytes, *, what: str = "the request body", strict: bool = True) -> Any:
    """:func:`loads` for a request: any problem is :class:`InvalidArgumentError` naming ``what``.

    >>> read_json(b'{"query": "SELECT 1"}')
    {'query': 'SELECT 1'}
    """
    try:
        return loads(body, strict=strict)
    except WireError as exc:
        raise InvalidArgumentError(f"{what} cannot be used: {exc}.") from None
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidArgumentError(f"{what} is not valid JSON: {exc}.") from None


# -- JSON values ------------------------------------------------------------------------


def _is_any(hint: Any) -> bool:
    return hint is Any or hint is object or isinstance(hint, typing.TypeVar)


def _members(hint: Any) -> tuple[Any, ...] | None:
    """The alternatives of a Union / ``X | Y`` hint, else None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return None


def _matches(value: Any, hint: Any) -> bool:
    if _is_any(hint):
        return True
    if hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    if origin is Literal:
        return value in typing.get_args(hint)
    if origin is typing.Annotated:
        return _matches(value, typing.get_args(hint)[0])
    cls = origin or hint
    return isinstance(cls, type) and isinstance(value, cls)


def _is_frame(value: Any) -> bool:
    return type(value).__module__.split(".")[0] in ("pandas", "polars")


def to_wire(value: Any, hint: Any = Any) -> Any:
    """``value`` as JSON-ready data, shaped by ``hint`` (tags only where the hint is ``Any``)."""
    tagged = _is_any(hint)
    members = _members(hint)
    if members is not None:
        chosen = next((m for m in members if m is not type(None) and _matches(value, m)), Any)
        return to_wire(value, chosen)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()} if tagged else value.isoformat()
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()} if tagged else value.isoformat()
    if isinstance(value, dt.timedelta):
        return {"$seconds": value.total_seconds()} if tagged else value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        text = base64.b64encode(bytes(value)).decode()
        return {"$bytes": text} if tagged else text
    if isinstance(value, Name):
        return str(value)
    if isinstance(value, pa.Schema):
        text = base64.b64encode(value.serialize().to_pybytes()).decode()
        return {"$schema": text} if tagged else text
    if isinstance(value, pa.Table | pa.RecordBatch) or _is_frame(value):
        return {"$arrow": base64.b64encode(ipc_bytes(as_table(value))).decode()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        hints = _field_hints(type(value))
        return {f.name: to_wire(getattr(value, f.name), hints.get(f.name, Any)) for f in dataclasses.fields(value)}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(value, dict):
        inner = args[1] if origin is dict and len(args) == 2 else Any
        return {str(k): to_wire(v, inner) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        inner = args[0] if args and origin in (list, tuple, set, frozenset) else Any
        return [to_wire(v, inner) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return to_wire(value.item(), hint)
    return str(value)


_TAGS = {
    "$datetime": dt.datetime.fromisoformat,
    "$date": dt.date.fromisoformat,
    "$seconds": lambda v: dt.timedelta(seconds=v),
    "$bytes": base64.b64decode,
    "$schema": lambda v: pa.ipc.read_schema(pa.py_buffer(base64.b64decode(v))),
    "$arrow": lambda v: read_ipc(base64.b64decode(v)),
}


def _untag(value: Any) -> Any:
    if isinstance(value, list):
        return [_untag(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            key = next(iter(value))
            if key in _TAGS:
                try:
                    return _TAGS[key](value[key])
                except (TypeError, ValueError, OverflowError, OSError, pa.ArrowException) as exc:
                    raise WireError(f"bad {key} value: {exc}") from None
        return {k: _untag(v) for k, v in value.items()}
    return value


def _field_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - a hint we cannot resolve is just not checked
        return {}


def _short(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def from_wire(value: Any, hint: Any) -> Any:
    """The Python value ``hint`` describes, rebuilt from JSON data; :class:`WireError` if it does not fit."""
    if _is_any(hint):
        return _untag(value)
    members = _members(hint)
    if members is not None:
        if value is None:
            if type(None) in members:
                return None
            raise WireError(f"a value is required ({_short(hint)})")
        problems = []
        for member in members:
            if member is type(None):
                continue
            try:
                return from_wire(value, member)
            except WireError as exc:
                problems.append(str(exc))
        raise WireError(problems[0] if len(problems) == 1 else f"expected {_short(hint)}, got {value!r:.80}")
    if hint is type(None):
        if value is not None:
            raise WireError(f"expected null, got {value!r:.80}")
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return from_wire(value, args[0])
    if origin is Literal:
        if value not in args:
            raise WireError(f"expected one of {', '.join(map(repr, args))}, got {value!r:.80}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise WireError(f"expected true or false, got {value!r:.80}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise WireError(f"expected an integer, got {value!r:.80}")
        if not INT_MIN <= value <= INT_MAX:
            raise WireError(f"{value!r:.80} is out of range: integers are 64-bit ({INT_MIN} to {INT_MAX})")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WireError(f"expected a number, got {value!r:.80}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise WireError(f"expected a string, got {value!r:.80}")
        return value
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _TAGS:
        value = _untag(value)
    try:
        if hint is dt.datetime:
            return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
        if hint is dt.date:
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
        if hint is dt.timedelta:
            if isinstance(value, dt.timedelta):
                return value
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise WireError(f"expected a duration in seconds, got {value!r:.80}")
            try:
                return dt.timedelta(seconds=value)
            except OverflowError:
                raise WireError(f"a duration of {value!r:.80} seconds is out of range") from None
        if hint is bytes:
            return value if isinstance(value, bytes) else base64.b64decode(value, validate=True)
        if hint is pa.Schema:
            if isinstance(value, pa.Schema):
                return value
            return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(value, validate=True)))
        if hint is pa.Table:
            return value if isinstance(value, pa.Table) else read_ipc(base64.b64decode(value, validate=True))
        if hint is Name:
            return value if isinstance(value, Name) else _name(value)
    except WireError:
        raise
    except (TypeError, ValueError, OverflowError, OSError, pa.ArrowException) as exc:  # Arrow's IPC errors: OSError
        raise WireError(f"expected {_short(hint)}: {exc}") from None
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple):
        if not isinstance(value, list | tuple):
            raise WireError(f"expected a list, got {value!r:.80}")
        inner = args[0] if args else Any
        items = [from_wire(v, inner) for v in value]
        return (origin or hint)(items)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise WireError(f"expected an object, got {value!r:.80}")
        inner = args[1] if len(args) == 2 else Any
        return {k: from_wire(v, inner) for k, v in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise WireError(f"expected a {hint.__name__} object, got {value!r:.80}")
        hints = _field_hints(hint)
        names = {f.name for f in dataclasses.fields(hint)}
        unknown = set(value) - names
        if unknown:
            raise WireError(f"unknown {hint.__name__} fields {sorted(unknown)}")
        return hint(**{k: from_wire(v, hints.get(k, Any)) for k, v in value.items()})
    return value


def _name(text: str) -> Name:
    if not isinstance(text, str):
        raise WireError(f"expected a dotted name, got {text!r:.80}")
    raw, _, version = text.partition("@v")
    parts = raw.split(".")
    if not 1 <= len(parts) <= 3:
        raise WireError(f"expected a dotted name, got {text!r:.80}")
    parts += [None] * (3 - len(parts))
    return Name(parts[0], parts[1], parts[2], int(version) if version else None)


# -- Arrow IPC ----------------------------------------------------------------------------


def as_table(data: Any) -> pa.Table:
    """Arrow, pandas or polars data (what ``lh.write`` accepts) as a pyarrow Table."""
    try:
        return to_arrow(data)
    except InvalidArgumentError as exc:
        raise WireError(str(exc)) from None


#: Pieces of an IPC stream smaller than this are joined; larger ones (column buffers) go out as they are.
_SMALL_PIECE = 64 * 1024


class _Sink:
    """A write-only file that hands out what was written since the last ``take``."""

    def __init__(self) -> None:
        self.parts: list[Any] = []
        self.closed = False

    def write(self, data: Any) -> int:
        # Arrow hands over its own (immutable) buffers for the column data: keep them as they are.
        self.parts.append(data)
        return memoryview(data).nbytes

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> list[bytes | memoryview]:
        """The pieces written since the last call: column buffers as they are (no copy), small
        pieces (message headers, padding) joined, so a server sends a batch without copying it."""
        out: list[bytes | memoryview] = []
        small: list[Any] = []
        for part in self.parts:
            view = memoryview(part)
            if view.nbytes < _SMALL_PIECE:
                small.append(view)
                continue
            if small:
                out.append(b"".join(small))
                small = []
            out.append(view)
        if small:
            out.append(b"".join(small))
        self.parts = []
        return out


#: Custom metadata of the empty record batch that ends a stream which failed half-way.
ERROR_CODE_KEY, ERROR_MESSAGE_KEY = b"glashaus.error_code", b"glashaus.message"


class StreamAborted(Exception):
    """Raised after an error trailer was sent: the HTTP body must end broken, never look complete."""


def ipc_stream(
    schema: pa.Schema, batches: Iterable[pa.RecordBatch], *, batch_rows: int = BATCH_ROWS,
    hidden: Iterable[str] = (),
) -> Iterator[list[bytes | memoryview]]:
    """An Arrow IPC stream, read from ``batches`` as it is sent: per record batch, its pieces in
    order (the column buffers themselves, uncopied; send each, or join them: :func:`ipc_bytes`).

    If ``batches`` fails with a :class:`GlashausError` after the stream began (the status
    line is out), the stream ends with an empty batch whose custom metadata carries the
    error (:data:`ERROR_CODE_KEY`, :data:`ERROR_MESSAGE_KEY`; :func:`read_stream` raises
    it) and then :class:`StreamAborted`, so that the HTTP body is cut short: no client
    can take a truncated result for a whole one. The paths in ``hidden`` (the lakehouse
    root) are replaced in that message as in every other error (:func:`hide_paths`).

    >>> pieces = ipc_stream(pa.schema([("n", pa.int64())]), [pa.record_batch({"n": [1]})])
    >>> read_stream(b"".join(p for batch in pieces for p in batch)).num_rows
    1
    """
    sink = _Sink()
    writer = pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), schema)
    yield sink.take()
    try:
        for batch in batches:
            for offset in range(0, max(batch.num_rows, 1), batch_rows):
                writer.write_batch(batch.slice(offset, batch_rows) if batch.num_rows > batch_rows else batch)
                yield sink.take()
    except GlashausError as exc:
        failure: tuple[str, str] = (exc.code, hide_paths(str(exc), hidden))
    except Exception as exc:  # noqa: BLE001 - a bug: the server log has it, the client gets the code
        failure = ("INTERNAL_ERROR", f"the result stream failed half-way ({type(exc).__name__}); "
                   "the server log has the details.")
        log.exception("a result stream failed half-way")
    else:
        writer.close()
        yield sink.take()
        return
    empty = pa.RecordBatch.from_pylist([], schema=schema)
    writer.write_batch(empty, custom_metadata={ERROR_CODE_KEY: failure[0].encode(),
                                               ERROR_MESSAGE_KEY: failure[1].encode()})
    yield sink.take()
    raise StreamAborted(f"{failure[0]}: {failure[1]}")


def ipc_chunks(table: pa.Table, *, batch_rows: int = BATCH_ROWS, hidden: Iterable[str] = ()
               ) -> Iterator[list[bytes | memoryview]]:
    """An Arrow IPC stream of ``table``, the pieces of one record batch at a time (see :func:`ipc_stream`)."""
    return ipc_stream(table.schema, table.to_batches(max_chunksize=batch_rows), batch_rows=batch_rows,
                      hidden=hidden)


def ipc_bytes(table: pa.Table) -> bytes:
    """``table`` as one Arrow IPC stream."""
    return b"".join(piece for pieces in ipc_chunks(table) for piece in pieces)


def read_ipc(data: bytes | Any) -> pa.Table:
    """A table from an Arrow IPC stream (bytes or a readable file object)."""
    source = pa.py_buffer(data) if isinstance(data, bytes | bytearray) else data
    return pa.ipc.open_stream(source).read_all()


def read_stream(data: bytes | Any) -> pa.Table:
    """A table from a streamed response body; raises the error a failed stream ends with.

    >>> read_stream(ipc_bytes(pa.table({"n": [1]}))).num_rows
    1
    """
    source = pa.py_buffer(data) if isinstance(data, bytes | bytearray) else data
    reader = pa.ipc.open_stream(source)
    batches = []
    while True:
        try:
            batch, metadata = reader.read_next_batch_with_custom_metadata()
        except StopIteration:
            break
        if metadata is not None and ERROR_CODE_KEY in metadata:
            raise error_class(metadata[ERROR_CODE_KEY].decode())(metadata.get(ERROR_MESSAGE_KEY, b"").decode())
        batches.append(batch)
    return pa.Table.from_batches(batches, schema=reader.schema)


class ChunkReader:
    """A readable file over an iterator of byte chunks (a streamed HTTP body)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._parts: collections.deque[bytes | memoryview] = collections.deque()
        self._size = 0
        self.closed = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        # Chunks are joined once per read (never re-copied while a large message arrives).
        while size < 0 or self._size < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            if chunk:
                self._parts.append(chunk)
                self._size += len(chunk)
        if size < 0 or size >= self._size:
            out = b"".join(self._parts)
            self._parts.clear()
            self._size = 0
            return out
        pieces, wanted = [], size
        while wanted:
            part = self._parts.popleft()
            if len(part) <= wanted:
                pieces.append(part)
                wanted -= len(part)
            else:
                view = memoryview(part)
                pieces.append(view[:wanted])
                self._parts.appendleft(view[wanted:])
                wanted = 0
        self._size -= size
        return b"".join(pieces)

    def close(self) -> None:
        self.closed = True


# -- errors ---------------------------------------------------------------------------------

_STATUS: dict[type[GlashausError], int] = {
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    AlreadyExistsError: 409,
    ConcurrentWriteError: 409,
    RequestTooLargeError: 413,
    RateLimitedError: 429,
    StorageError: 500,
    MetastoreError: 503,
    ServiceUnavailableError: 503,
}


def status_of(exc: GlashausError) -> int:
    """The HTTP status of an error: 400 for anything the caller can fix in the request."""
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 400


def hide_paths(message: str, hidden: Iterable[str], *, shown: str = "<lakehouse>") -> str:
    """``message`` with each of the ``hidden`` prefixes (a lakehouse root, longest first) as ``shown``.

    >>> hide_paths("no file at /srv/lh/volumes/x", ["/srv/lh"])
    'no file at <lakehouse>/volumes/x'
    """
    for prefix in hidden:
        if len(prefix) > 1:  # a root of '/' would hide every slash
            message = message.replace(prefix, shown)
    return message


def error_body(code: str, message: str) -> dict[str, str]:
    return {"error_code": code, "message": message}


def error_class(code: str) -> type[GlashausError]:
    """The exception class whose ``code`` is ``code`` (GlashausError for codes it does not know)."""
    todo: list[type[GlashausError]] = [GlashausError]
    while todo:
        cls = todo.pop(0)
        if cls.code == code:
            return cls
        todo.extend(cls.__subclasses__())
    return GlashausError
