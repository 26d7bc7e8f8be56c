"""How REST arguments and replies cross the wire: pydantic types derived from the Lakehouse's type hints.

:func:`wire_type` turns a method's type hint into the pydantic type that decodes,
validates, encodes and describes (JSON schema) it on the wire; :func:`arguments` builds,
per operation, one TypedDict of its parameters (``extra`` forbidden), which checks a
request's arguments and is the OpenAPI's request schema; :func:`adapter` gives the
``TypeAdapter`` for a reply (and for the client, for each argument). The shapes:

- integers are 64-bit, floats finite, strings and booleans strict (no ``"1"`` for 1);
- a datetime is an ISO string, a timedelta seconds, bytes and a ``pyarrow.Schema``
  base64 (the schema as an Arrow IPC message), a ``Name`` its dotted string;
- a dataclass or a NamedTuple is an object of its fields (each by its own hint), but a result that
  was a dict (:class:`~glashaus.deprecation.DictShaped`: ``lh.describe``, ``lh.history``, ...) is that dict;
- where the hint says ``Any`` (e.g. the values of a history entry) non-JSON values carry a
  tag (``{"$datetime": "..."}``, ``{"$arrow": base64 IPC}``, ...) so that the remote
  client gets back exactly what an embedded call returns.

>>> adapter(dt.timedelta).dump_python(dt.timedelta(minutes=1), mode="json")
60.0
>>> adapter(dt.datetime).validate_python("2026-11-27T10:00:00+00:00")
datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.timezone.utc)
>>> adapter(Any).dump_python({"at": dt.date(2026, 1, 2)}, mode="json")
{'at': {'$date': '2026-01-02'}}
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import functools
import inspect
import types
import typing
from typing import Annotated, Any, Literal, NotRequired, Required

import pyarrow as pa
from pydantic import (
    AfterValidator,
    AllowInfNan,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    Strict,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    WrapSerializer,
)
from pydantic_core import PydanticSerializationError
from typing_extensions import TypedDict

from glashaus.catalog.names import INT64_MAX, INT64_MIN, Name
from glashaus.deprecation import DictShaped
from glashaus.errors import InvalidArgumentError
from glashaus.frames import to_arrow
from glashaus.server import wire

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "accepts_str",
    "adapter",
    "arguments",
    "check",
    "dump",
    "encode_any",
    "problem",
    "wire_type",
]

#: Integers on the wire are 64-bit, as everywhere below (Arrow, Delta, DuckDB, the metastore).
INT_MIN, INT_MAX = INT64_MIN, INT64_MAX
_BAD = (TypeError, ValueError, OverflowError, OSError, pa.ArrowException)  # Arrow's IPC errors: OSError


# -- values where the hint says Any: tagged ------------------------------------------------------


def _is_frame(value: Any) -> bool:
    return type(value).__module__.split(".")[0] in ("pandas", "polars")


def encode_any(value: Any) -> Any:
    """``value`` as JSON data, non-JSON values tagged (see the module), dataclasses by their hints."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"$seconds": value.total_seconds()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, Name):
        return str(value)
    if isinstance(value, pa.Schema):
        return {"$schema": base64.b64encode(value.serialize().to_pybytes()).decode()}
    if isinstance(value, pa.Table | pa.RecordBatch) or _is_frame(value):
        return {"$arrow": base64.b64encode(wire.ipc_bytes(to_arrow(value))).decode()}
    if isinstance(value, DictShaped):
        return encode_any(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dump(value, type(value))
    if isinstance(value, dict):
        return {str(k): encode_any(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [encode_any(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return encode_any(value.item())
    return str(value)


def _read_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


_TAGS = {
    "$datetime": dt.datetime.fromisoformat,
    "$date": dt.date.fromisoformat,
    "$seconds": lambda v: dt.timedelta(seconds=v),
    "$bytes": base64.b64decode,
    "$schema": lambda v: pa.ipc.read_schema(pa.py_buffer(base64.b64decode(v))),
    "$arrow": lambda v: _read_ipc(base64.b64decode(v)),
}


def decode_any(value: Any) -> Any:
    """Tagged JSON data back as the values it stands for (the inverse of :func:`encode_any`)."""
    if isinstance(value, list):
        return [decode_any(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            key = next(iter(value))
            if key in _TAGS:
                try:
                    return _TAGS[key](value[key])
                except _BAD as exc:
                    raise ValueError(f"bad {key} value: {exc}") from None
        return {k: decode_any(v) for k, v in value.items()}
    return value


# -- the wire types ------------------------------------------------------------------------------


def _plain(cls: type, parse: Any, show: Any, schema: dict[str, Any]) -> Any:
    """``cls`` read by ``parse`` (values already of ``cls`` pass), written by ``show``, described by ``schema``."""

    def validate(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        try:
            return parse(decode_any(value) if isinstance(value, dict) else value)
        except _BAD as exc:
            raise ValueError(str(exc) or type(exc).__name__) from None

    return Annotated[cls, PlainValidator(validate), PlainSerializer(show), WithJsonSchema(schema)]


def _iso(cls: Any, what: str) -> Any:
    def parse(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            raise ValueError(f"expected {what} as an ISO string, got {value!r:.80}")
        return cls.fromisoformat(value)

    return parse


def _seconds(value: Any) -> dt.timedelta:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a duration in seconds, got {value!r:.80}")
    try:
        return dt.timedelta(seconds=value)
    except OverflowError:
        raise ValueError(f"a duration of {value!r:.80} seconds is out of range") from None


def _base64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"expected base64 text, got {value!r:.80}")
    return base64.b64decode(value, validate=True)


def _name(text: Any) -> Name:
    if not isinstance(text, str):
        raise ValueError(f"expected a dotted name, got {text!r:.80}")
    raw, _, version = text.partition("@v")
    parts = raw.split(".")
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"expected a dotted name, got {text!r:.80}")
    return Name.of(parts, version=int(version) if version else None)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


ANY = Annotated[Any, PlainValidator(decode_any), PlainSerializer(encode_any)]
INT = Annotated[int, Strict(), Field(ge=INT_MIN, le=INT_MAX)]
FLOAT = Annotated[float, Strict(), AllowInfNan(False)]
DATETIME = _plain(
    dt.datetime, _iso(dt.datetime, "a date-time"), dt.datetime.isoformat, {"type": "string", "format": "date-time"}
)
DATE = _plain(dt.date, _iso(dt.date, "a date"), dt.date.isoformat, {"type": "string", "format": "date"})
SECONDS = _plain(dt.timedelta, _seconds, dt.timedelta.total_seconds, {"type": "number", "description": "seconds"})
BYTES = _plain(bytes, _base64, _b64, {"type": "string", "format": "byte"})
NAME = _plain(Name, _name, str, {"type": "string", "description": "a dotted name: catalog[.schema[.object]]"})
SCHEMA = _plain(
    pa.Schema,
    lambda v: pa.ipc.read_schema(pa.py_buffer(_base64(v))),
    lambda s: _b64(s.serialize().to_pybytes()),
    {"type": "string", "format": "byte", "description": "an Arrow IPC schema message, base64"},
)
TABLE = _plain(
    pa.Table,
    lambda v: _read_ipc(_base64(v)),
    encode_any,
    {"type": "string", "format": "byte", "description": "an Arrow IPC stream, base64"},
)

_SIMPLE: dict[Any, Any] = {
    bool: Annotated[bool, Strict()],
    int: INT,
    float: FLOAT,
    str: Annotated[str, Strict()],
    type(None): None,
    dt.datetime: DATETIME,
    dt.date: DATE,
    dt.timedelta: SECONDS,
    bytes: BYTES,
    Name: NAME,
    pa.Schema: SCHEMA,
    pa.Table: TABLE,
}


def _members(hint: Any) -> tuple[Any, ...] | None:
    """The alternatives of a Union / ``X | Y`` hint, else None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return None


@functools.cache
def wire_type(hint: Any) -> Any:
    """The pydantic type of ``hint`` on the wire (see the module)."""
    if hint is Any or hint is object or isinstance(hint, typing.TypeVar):
        return ANY
    if hint in _SIMPLE:
        return _SIMPLE[hint]
    members = _members(hint)
    if members is not None:
        union: Any = typing.Union[tuple(wire_type(m) for m in members)]  # noqa: UP007 - built at run time from a tuple
        if len([m for m in members if m is not type(None)]) < 2:
            return union  # X | None
        return Annotated[union, Field(union_mode="left_to_right")]  # tried in order, as written: datetime before str
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return wire_type(args[0])
    if origin is Literal:
        return hint
    if origin in (list, set, frozenset) or hint in (list, set, frozenset):
        return list[wire_type(args[0]) if args else ANY]  # type: ignore[misc]  # a type built at run time
    if origin is tuple or hint is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple[wire_type(args[0]), ...]  # type: ignore[misc]  # a type built at run time
        return tuple[tuple(wire_type(a) for a in args)] if args else tuple[ANY, ...]  # type: ignore[misc]  # a type built at run time
    if origin is dict or hint is dict:
        return dict[str, wire_type(args[1]) if len(args) == 2 else ANY]  # type: ignore[misc]  # a type built at run time
    if isinstance(hint, type) and issubclass(hint, DictShaped):
        return _dict_shaped(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass(hint)
    if isinstance(hint, type) and issubclass(hint, tuple) and typing.get_type_hints(hint):
        return _named_tuple(hint)
    return ANY


def _dict_shaped(cls: type[DictShaped]) -> Any:
    """A result that was a dict travels as that dict (``to_dict()``, values tagged as under ``Any``), so its
    JSON stays what it was; the client reads it back with the class's ``from_dict``."""
    return _plain(
        cls,
        cls.from_dict,  # type: ignore[attr-defined]  # each result class defines its own
        lambda v: encode_any(v.to_dict()),
        {"type": "object", "additionalProperties": {}, "description": inspect.getdoc(cls) or cls.__name__},
    )


def _named_tuple(cls: type) -> Any:
    """A NamedTuple (a run's ``Metric``) as an object of its fields, built back into ``cls``."""
    hints = typing.get_type_hints(cls)
    fields = {}
    for name, param in inspect.signature(cls).parameters.items():
        kind = NotRequired if param.default is not inspect.Parameter.empty else Required
        fields[name] = kind[wire_type(hints.get(name, Any))]
    shape = TypedDict(cls.__name__, fields)  # type: ignore[misc]  # a type built at run time
    shape.__doc__ = inspect.getdoc(cls)
    names = list(fields)

    def fields_of(value: Any, write: Any) -> Any:
        if isinstance(value, tuple):  # the NamedTuple itself (a dict is already its fields)
            value = dict(zip(names, value, strict=True))
        return write(value)

    return Annotated[shape, WrapSerializer(fields_of), AfterValidator(lambda d: cls(**d))]


def _dataclass(cls: type) -> Any:
    """A dataclass as an object of its fields: a TypedDict of their wire types, built back into ``cls``."""
    hints = typing.get_type_hints(cls)
    fields = {}
    for f in dataclasses.fields(cls):
        optional = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        kind = NotRequired if optional else Required
        fields[f.name] = kind[wire_type(hints.get(f.name, Any))]
    shape = TypedDict(cls.__name__, fields)  # type: ignore[misc]  # built at run time from the dataclass's fields
    shape.__doc__ = inspect.getdoc(cls)

    def fields_of(value: Any, write: Any) -> Any:
        if isinstance(value, cls):
            value = {f.name: getattr(value, f.name) for f in dataclasses.fields(cls)}
        return write(value)

    return Annotated[shape, WrapSerializer(fields_of), AfterValidator(lambda d: cls(**d))]


@functools.cache
def adapter(hint: Any) -> TypeAdapter[Any]:
    """The ``TypeAdapter`` of ``hint``'s wire type (replies; the client's arguments)."""
    return TypeAdapter(wire_type(hint))


def dump(value: Any, hint: Any) -> Any:
    """``value`` (of type ``hint``) as JSON data.

    >>> dump(Name("main", "shop"), Name)
    'main.shop'
    """
    try:
        return adapter(hint).dump_python(value, mode="json", warnings="error")
    except PydanticSerializationError:  # a value its hint does not describe (a tuple for a list, ...)
        return encode_any(value)


# -- an operation's arguments ------------------------------------------------------------------


def accepts_str(hint: Any) -> bool:
    """Whether a text value (a path or query parameter) is meant as text for ``hint``, not as JSON.

    >>> accepts_str(str | None), accepts_str(int | None), accepts_str(Literal["a", "b"])
    (True, False, True)
    """
    for member in _members(hint) or (hint,):
        if member is str:
            return True
        if typing.get_origin(member) is Literal:
            return all(isinstance(a, str) for a in typing.get_args(member))
    return False


@functools.cache
def arguments(function: Any, skip: tuple[str, ...] = ()) -> TypeAdapter[Any]:
    """The TypedDict of ``function``'s parameters (but ``skip``) on the wire, as a ``TypeAdapter``.

    A parameter without a default is required, unless its hint allows None (then it is None when
    left out); others are optional. Unknown names are refused.
    """
    signature = inspect.signature(function)
    hints = typing.get_type_hints(function)
    fields = {}
    for name, param in signature.parameters.items():
        if name == "self" or name in skip:
            continue
        hint = hints.get(name, Any)
        nullable = type(None) in (_members(hint) or ())
        required = param.default is inspect.Parameter.empty and not nullable
        fields[name] = (Required if required else NotRequired)[wire_type(hint)]
    shape = TypedDict(function.__name__, fields)  # type: ignore[misc]  # built at run time from the parameters
    shape.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]  # pydantic's TypedDict config
    return TypeAdapter(shape)


def check(function: Any, given: dict[str, Any], *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """``given`` (JSON data per parameter name) as the arguments of ``function``, checked and converted;
    :class:`InvalidArgumentError` naming the parameter and what is wrong otherwise.

    >>> def history(name: str, *, limit: int | None = None) -> list[dict[str, Any]]: ...
    >>> check(history, {"name": "main.shop.t", "limit": 10})
    {'name': 'main.shop.t', 'limit': 10}
    >>> check(history, {"name": "main.shop.t", "limit": 10**23})
    Traceback (most recent call last):
    glashaus.errors.InvalidArgumentError: parameter 'limit' of history: ...
    """
    try:
        values = arguments(function, skip).validate_python(given)
    except ValidationError as exc:
        raise InvalidArgumentError(
            problem(
                function.__name__,
                exc,
                taken=[p for p in inspect.signature(function).parameters if p != "self" and p not in skip],
            )
        ) from None
    signature = inspect.signature(function)
    for name, param in signature.parameters.items():  # optional-by-None parameters without a default
        if name not in values and name != "self" and name not in skip and param.default is inspect.Parameter.empty:
            values[name] = None
    return values


def problem(method: str, exc: ValidationError, *, taken: list[str]) -> str:
    """One sentence for the first parameter a ValidationError is about (as the old codec said it)."""
    errors = exc.errors(include_url=False)
    name = str(errors[0]["loc"][0]) if errors and errors[0]["loc"] else "?"
    mine = [e for e in errors if e["loc"] and str(e["loc"][0]) == name]
    first = mine[0]
    if first["type"] == "missing":
        return f"{method} needs the parameter {name!r}."
    if first["type"] == "extra_forbidden":
        return f"{name!r} is not a parameter of {method} here; it takes {taken}."
    value = first.get("input")
    if first["type"] in ("less_than_equal", "greater_than_equal") and isinstance(value, int):
        text = f"{value!r:.80} is out of range: integers are 64-bit ({INT_MIN} to {INT_MAX})"
    elif len(mine) > 1 and all(len(e["loc"]) > 1 for e in mine) and len({e["loc"][1] for e in mine}) > 1:
        # one error per alternative of a union: say what would do
        text = f"expected one of {len(mine)} forms, got {value!r:.80} ({_message(first)})"
    else:
        where = ".".join(str(p) for p in first["loc"][1:] if isinstance(p, int) or "[" not in str(p))
        text = _message(first) + (f" at {where}" if where and where not in ("str", "int", "float") else "")
    return f"parameter {name!r} of {method}: {text}."


def _message(error: Any) -> str:
    return str(error["msg"]).removeprefix("Value error, ")
