"""Three-level names (``catalog.schema.object``), validated once, used everywhere.

Names are case-insensitive and stored in lower case, as in Unity Catalog. Each part
is a plain identifier (letters, digits, underscores; not starting with a digit), so a
name can never smuggle a path (``..``, ``/``) or SQL into a storage location or query.

>>> parse_name("Main.Shop.Orders")
Name(catalog='main', schema='shop', object='orders')
>>> parse_name("main.shop.orders@v3").version
3
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from glashaus.errors import InvalidNameError

_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_VERSION = re.compile(r"^(?P<name>[^@]+)@[vV](?P<version>\d+)$")

_EXAMPLE = "Use catalog.schema.object, e.g. 'main.shop.orders'."


@dataclass(frozen=True)
class Name:
    """A validated catalog, schema or object name, with an optional table version."""

    catalog: str
    schema: str | None = None
    object: str | None = None
    version: int | None = None

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
        return (
            f"Name(catalog={self.catalog!r}, schema={self.schema!r}, "
            f"object={self.object!r}{extra})"
        )


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
        raw, version = match["name"], int(match["version"])
    elif "@" in raw:
        raise InvalidNameError(
            f"name {text!r} has an unknown suffix after '@': use '@v<N>' for a table version."
        )
    parts = raw.split(".")
    if len(parts) not in wanted:
        expected = " or ".join(("catalog", "catalog.schema", "catalog.schema.object")[n - 1] for n in wanted)
        raise InvalidNameError(f"name {text!r} has {len(parts)} part(s); expected {expected}.")
    what = ("catalog name", "schema name", "object name")
    clean = [validate_part(p, what=f"{what[i]} in {text!r}") for i, p in enumerate(parts)]
    return Name(*clean, version=version)  # type: ignore[arg-type]

