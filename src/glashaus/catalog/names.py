"""Three-level names (``catalog.schema.object``), validated once, used everywhere.

Names are case-insensitive and stored in lower case, as in Unity Catalog. Each part
is a plain identifier (letters, digits, underscores; not starting with a digit), so a
name can never smuggle a path (``..``, ``/``) or SQL into a storage location or query.

>>> parse_name("Main.Shop.Orders")
Name(catalog='main', schema='shop', object='orders')
>>> parse_name("main.shop.orders@v3").version
3

Numbers that name things (table and model versions, experiment ids, page offsets) are
64-bit signed integers, as in every store below (SQLite, PostgreSQL ``BIGINT``, Delta,
Arrow): :func:`parse_number` reads one from text and :func:`check_int64` checks one, so
that a number too large for storage is the caller's error, never the database's crash.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from glashaus.errors import InvalidArgumentError, InvalidNameError

_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_VERSION = re.compile(r"^(?P<name>[^@]+)@[vV](?P<version>[0-9]+)$")

_EXAMPLE = "Use catalog.schema.object, e.g. 'main.shop.orders'."

#: The range of every integer Glashaus stores or binds (and of integers on the wire).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def check_int64(value: int, *, what: str) -> int:
    """``value`` if it fits 64 bits, else :class:`InvalidArgumentError` naming ``what``.

    >>> check_int64(3, what="version")
    3
    """
    if not INT64_MIN <= value <= INT64_MAX:
        raise InvalidArgumentError(
            f"{what} {value!r:.40} is out of range: numbers here are 64-bit integers ({INT64_MIN} to {INT64_MAX})."
        )
    return value


def parse_number(text: str, *, what: str, minimum: int = 0) -> int:
    """A whole number written in ASCII digits, at least ``minimum`` and within 64 bits.

    ``str.isdigit`` alone is not enough: it accepts '²' (which ``int`` refuses) and
    numbers no store can hold.

    >>> parse_number("42", what="version", minimum=1)
    42
    """
    raw = text.strip() if isinstance(text, str) else ""
    if not raw or not raw.isascii() or not raw.isdigit():
        raise InvalidArgumentError(f"{what} must be a whole number like 3, got {text!r:.80}.")
    number = check_int64(int(raw), what=what)
    if number < minimum:
        raise InvalidArgumentError(f"{what} must be at least {minimum}, got {number}.")
    return number


@dataclass(frozen=True)
class Name:
    """A validated catalog, schema or object name, with an optional table version."""

    catalog: str
    schema: str | None = None
    object: str | None = None
    version: int | None = None

    @classmethod
    def of(cls, parts: Sequence[str], *, version: int | None = None) -> Name:
        """The name of one to three already validated parts.

        >>> Name.of("main.shop.orders".split("."))
        Name(catalog='main', schema='shop', object='orders')
        """
        schema, obj = (*parts[1:], None, None)[:2]
        return cls(parts[0], schema, obj, version=version)

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(p for p in (self.catalog, self.schema, self.object) if p is not None)

    @property
    def level(self) -> str:
        return ("catalog", "schema", "object")[len(self.parts) - 1]

    @property
    def full(self) -> str:
        """The dotted name without version, e.g. ``main.shop.orders``."""
        return ".".join(self.parts)

    @property
    def parent(self) -> Name | None:
        if self.object is not None:
            return Name(self.catalog, self.schema)
        if self.schema is not None:
            return Name(self.catalog)
        return None

    def __str__(self) -> str:
        return self.full if self.version is None else f"{self.full}@v{self.version}"

    def __repr__(self) -> str:
        extra = "" if self.version is None else f", version={self.version}"
        return f"Name(catalog={self.catalog!r}, schema={self.schema!r}, object={self.object!r}{extra})"


def validate_part(part: str, *, what: str = "name part") -> str:
    """Return ``part`` in lower case, or raise :class:`InvalidNameError`.

    >>> validate_part("Orders")
    'orders'
    """
    if not isinstance(part, str) or not part:
        raise InvalidNameError(f"{what} is empty. {_EXAMPLE}")
    if not _PART.match(part):
        raise InvalidNameError(
            f"{what} {part!r} is not a valid identifier: use letters, digits and "
            "underscores, not starting with a digit, at most 128 characters."
        )
    return part.lower()


def parse_name(
    text: str,
    *,
    levels: int | tuple[int, ...] = 3,
    allow_version: bool = True,
) -> Name:
    """Parse and validate a dotted name with ``levels`` parts (1, 2 or 3).

    >>> parse_name("main.shop", levels=2).full
    'main.shop'
    """
    if not isinstance(text, str):
        raise InvalidNameError(f"name must be a string, got {type(text).__name__}. {_EXAMPLE}")
    wanted = (levels,) if isinstance(levels, int) else levels
    raw = text.strip()
    version = None
    match = _VERSION.match(raw)
    if match:
        if not allow_version:
            raise InvalidNameError(f"name {text!r} may not carry a version here.")
        raw = match["name"]
        try:
            version = parse_number(match["version"], what=f"the version in {text!r:.80}")
        except InvalidArgumentError as exc:
            raise InvalidNameError(str(exc)) from None
    elif "@" in raw:
        raise InvalidNameError(f"name {text!r} has an unknown suffix after '@': use '@v<N>' for a table version.")
    parts = raw.split(".")
    if len(parts) not in wanted:
        expected = " or ".join(("catalog", "catalog.schema", "catalog.schema.object")[n - 1] for n in wanted)
        raise InvalidNameError(f"name {text!r} has {len(parts)} part(s); expected {expected}.")
    what = ("catalog name", "schema name", "object name")
    clean = [validate_part(p, what=f"{what[i]} in {text!r}") for i, p in enumerate(parts)]
    return Name.of(clean, version=version)
