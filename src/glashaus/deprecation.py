"""Old names kept working for one release, each with a DeprecationWarning that names the new one.

Three shapes of the same promise: :func:`warn` for any renamed thing, :func:`renamed_keywords`
for a keyword argument that got a new name, and :class:`DictShaped` for a result that used to
be a dict and is now a dataclass (indexing it like the old dict still works, and says which
attribute to use).

>>> @renamed_keywords(frm="from_")
... def revoke(privilege, *, from_):
...     return from_
>>> import warnings
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     revoke("SELECT", frm="bob")
'bob'
>>> str(caught[0].message)
'revoke(frm=...) is deprecated and will be removed in the next release; use revoke(from_=...)'
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypeVar

__all__ = ["DictShaped", "renamed_keywords", "warn"]

F = TypeVar("F", bound=Callable[..., Any])


def warn(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new`` (both as the user writes them).

    ``stacklevel`` 3 points at the caller of the function that calls this one: the user's line.
    """
    warnings.warn(
        f"{old} is deprecated and will be removed in the next release; use {new}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def renamed_keywords(**renames: str) -> Callable[[F], F]:
    """Accept each old keyword (``old="new"``) for one release, with a warning naming the new one.

    Passing both the old and the new name is a TypeError, as for any keyword given twice.
    """

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{function.__name__}() got both {old}= and {new}=; pass only {new}=.")
                    warn(f"{function.__name__}({old}=...)", f"{function.__name__}({new}=...)")
                    kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


class DictShaped:
    """A dataclass result that was a dict: ``to_dict()`` gives that dict; indexing still works, with a warning.

    A subclass lists the dict's keys that are not plain field names in ``_KEYS`` (key -> the
    attribute to use instead, as the warning should say it) and overrides :meth:`to_dict` if the
    dict leaves out fields or renames them.
    """

    _KEYS: ClassVar[dict[str, str]] = {}

    def to_dict(self) -> dict[str, Any]:
        """The result as the dict earlier releases returned (nested results as dicts too)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def _attribute(self, key: str) -> str:
        if key in self._KEYS:
            return self._KEYS[key]
        return f".{key}"

    def __getitem__(self, key: str) -> Any:
        data = self.to_dict()
        if key not in data:
            raise KeyError(key)
        warn(f"{type(self).__name__}[{key!r}]", f"{type(self).__name__}{self._attribute(key)}", stacklevel=3)
        return data[key]

    def get(self, key: str, default: Any = None) -> Any:
        """The old ``dict.get`` (deprecated: use the attribute)."""
        data = self.to_dict()
        if key in data:
            warn(f"{type(self).__name__}.get({key!r})", f"{type(self).__name__}{self._attribute(key)}", stacklevel=3)
        return data.get(key, default)

    def keys(self) -> Any:
        """The old dict's keys (so ``dict(result)`` still works; deprecated: use ``to_dict()``)."""
        warn(f"{type(self).__name__}.keys()", f"{type(self).__name__}.to_dict()", stacklevel=3)
        return self.to_dict().keys()

    def __contains__(self, key: object) -> bool:
        warn(f"'...' in {type(self).__name__}", f"{type(self).__name__}.to_dict()", stacklevel=3)
        return key in self.to_dict()

    def __iter__(self) -> Iterator[str]:
        # Iterating the old dict gave its keys; a dataclass has no iteration of its own to clash with.
        warn(f"iterating a {type(self).__name__}", f"{type(self).__name__}.to_dict()", stacklevel=3)
        return iter(self.to_dict())


def _plain(value: Any) -> Any:
    """Nested results as dicts, tuples as the lists the old dicts held."""
    if isinstance(value, DictShaped):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
