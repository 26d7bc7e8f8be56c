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
import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import pyarrow as pa

from glashaus.catalog.names import Name
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
)
from glashaus.frames import to_arrow

ARROW_STREAM = "application/vnd.apache.arrow.stream"
#: Rows per record batch on the wire (a batch is one chunk of a streamed response).
BATCH_ROWS = 64 * 1024


class WireError(ValueError):
    """A value does not have the shape its type hint asks for."""


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
                except (TypeError, ValueError, pa.ArrowException) as exc:
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
            return dt.timedelta(seconds=value)
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
    except (TypeError, ValueError, pa.ArrowException) as exc:
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


class _Sink:
    """A write-only file that hands out what was written since the last ``take``."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        return len(chunk)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def ipc_chunks(table: pa.Table, *, batch_rows: int = BATCH_ROWS) -> Iterator[bytes]:
    """An Arrow IPC stream of ``table``, one piece per record batch (for a streamed body)."""
    sink = _Sink()
    with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), table.schema) as writer:
        yield sink.take()
        for batch in table.to_batches(max_chunksize=batch_rows):
            writer.write_batch(batch)
            yield sink.take()
    yield sink.take()


def ipc_bytes(table: pa.Table) -> bytes:
    return b"".join(ipc_chunks(table))


def read_ipc(data: bytes | Any) -> pa.Table:
    """A table from an Arrow IPC stream (bytes or a readable file object)."""
    source = pa.py_buffer(data) if isinstance(data, bytes | bytearray) else data
    return pa.ipc.open_stream(source).read_all()


class ChunkReader:
    """A readable file over an iterator of byte chunks (a streamed HTTP body)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""
        self.closed = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

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
}


def status_of(exc: GlashausError) -> int:
    """The HTTP status of an error: 400 for anything the caller can fix in the request."""
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 400


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
