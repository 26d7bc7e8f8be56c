"""The catalog: what exists, who owns it, and what is said about it.

Only names and metadata live here (in the metastore); the data lives in storage and
is reached through the ``tables`` capability, which authorizes every access.

>>> cat = Catalog(metastore)
>>> cat.create("catalog", parse_name("dev", levels=1), owner="alice").full_name
'dev'
"""

from __future__ import annotations

import builtins  # the method `list` below hides the builtin inside the class
import datetime as dt
import difflib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from glashaus.catalog.names import Name
from glashaus.catalog.rows import ColumnCommentRow, SecurableRow, TagRow, utcnow
from glashaus.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from glashaus.metastore import Metastore

Kind = Literal["catalog", "schema", "table", "view", "volume", "model", "experiment"]
OBJECT_KINDS: tuple[str, ...] = ("table", "view", "volume", "model", "experiment")
_LEVEL_KIND = {1: "catalog", 2: "schema"}
#: Built once: every first authorization check of a request loads the containers with it.
_BY_NAMES = sa.select(SecurableRow).where(SecurableRow.full_name.in_(sa.bindparam("names", expanding=True)))


@dataclass(frozen=True)
class Securable:
    """A catalog, schema, table, view or volume, as the metastore knows it."""

    id: str
    kind: str
    name: Name
    owner: str
    comment: str | None
    properties: dict[str, str]
    spec: dict[str, Any]
    storage_location: str | None
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    tags: dict[str, str] = field(default_factory=dict)
    column_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    column_comments: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return self.name.full


class Catalog:
    """Create, find, list, describe and drop securables in the metastore."""

    def __init__(self, metastore: Metastore) -> None:
        self.metastore = metastore

    # -- create / drop ----------------------------------------------------------

    def create(
        self,
        kind: Kind,
        name: Name,
        *,
        owner: str,
        comment: str | None = None,
        properties: dict[str, str] | None = None,
        spec: dict[str, Any] | None = None,
        storage_location: str | None = None,
        if_not_exists: bool = False,
    ) -> Securable:
        """Register a securable under its parent; the parent must exist."""
        _check_level(kind, name)
        try:
            return self._create(
                kind,
                name,
                owner=owner,
                comment=comment,
                properties=properties,
                spec=spec,
                storage_location=storage_location,
                if_not_exists=if_not_exists,
            )
        except sa.exc.IntegrityError:
            # Another process registered the same name between our check and insert.
            if if_not_exists:
                return self.get(name, kind=kind)
            raise AlreadyExistsError(f"{kind} {name.full!r} already exists") from None

    def _create(
        self,
        kind: Kind,
        name: Name,
        *,
        owner: str,
        comment: str | None,
        properties: dict[str, str] | None,
        spec: dict[str, Any] | None,
        storage_location: str | None,
        if_not_exists: bool,
    ) -> Securable:
        with self.metastore.session() as s:
            parent_id = None
            if name.parent is not None:
                parent = self._row(s, name.parent)
                if parent.kind not in ("catalog", "schema"):
                    raise InvalidArgumentError(f"{name.parent.full} is a {parent.kind}, not a container.")
                parent_id = parent.id
            existing = s.scalar(sa.select(SecurableRow).where(SecurableRow.full_name == name.full))
            if existing is not None:
                if if_not_exists and existing.kind == kind:
                    return self._load(s, existing)
                raise AlreadyExistsError(
                    f"{existing.kind} {name.full!r} already exists"
                    + ("" if existing.kind != kind else "; use IF NOT EXISTS / if_not_exists=True to keep it.")
                )
            now = utcnow()
            row = SecurableRow(
                id=uuid.uuid4().hex,
                kind=kind,
                full_name=name.full,
                parent_id=parent_id,
                owner=owner,
                comment=comment,
                properties=dict(properties or {}),
                spec=dict(spec or {}),
                storage_location=storage_location,
                created_at=now,
                created_by=owner,
                updated_at=now,
            )
            s.add(row)
            s.flush()
            return self._load(s, row)

    def drop(self, name: Name, *, kind: str | None = None, cascade: bool = False) -> list[Securable]:
        """Remove a securable (and, with ``cascade``, its children); returns what went."""
        with self.metastore.session() as s:
            row = self._row(s, name, kind=kind)
            children = list(s.scalars(sa.select(SecurableRow).where(SecurableRow.parent_id == row.id)))
            if children and not cascade:
                raise InvalidArgumentError(
                    f"{row.kind} {name.full!r} is not empty (it holds {children[0].full_name!r}"
                    f"{' and more' if len(children) > 1 else ''}); drop those first or use CASCADE."
                )
            rows = self._descendants(s, row)
            gone = [self._load(s, r) for r in rows]
            for r in reversed(rows):
                s.delete(r)
                s.flush()  # children first, one by one, so the database's own cascade never runs ahead
            return gone

    def _descendants(self, s: Session, row: SecurableRow) -> list[SecurableRow]:
        found = [row]
        for child in s.scalars(sa.select(SecurableRow).where(SecurableRow.parent_id == row.id)):
            found.extend(self._descendants(s, child))
        return found

    # -- find ---------------------------------------------------------------------

    def get(
        self,
        name: Name,
        *,
        kind: str | tuple[str, ...] | None = None,
        details: bool = True,
        visible: Callable[[Securable], bool] | None = None,
    ) -> Securable:
        """The securable called ``name``; a clear :class:`NotFoundError` otherwise.

        ``details=False`` skips tags and column comments (the query path needs neither).
        ``visible`` says which securables the caller may see: a not-found error suggests
        only a close name among those ("Did you mean ...?"), and none without it.
        """
        with self.metastore.session() as s:
            return self._load(s, self._row(s, name, kind=kind, visible=visible), details=details)

    def containers(self, name: Name) -> list[Securable]:
        """The schema and catalog around ``name``, innermost first, in one query (no tags or comments).

        >>> [s.full_name for s in cat.containers(parse_name("main.shop.orders"))]
        ['main.shop', 'main']
        """
        names, parent = [], name.parent
        while parent is not None:
            names.append(parent.full)
            parent = parent.parent
        if not names:
            return []
        with self.metastore.session() as s:
            rows = {r.full_name: r for r in s.scalars(_BY_NAMES, {"names": names})}
            missing = [n for n in names if n not in rows]
            if missing:
                raise NotFoundError(f"{_LEVEL_KIND[missing[0].count('.') + 1]} {missing[0]!r} does not exist.")
            return [self._load(s, rows[n], details=False) for n in names]

    def exists(self, name: Name) -> bool:
        with self.metastore.session() as s:
            return s.scalar(sa.select(SecurableRow.id).where(SecurableRow.full_name == name.full)) is not None

    def list(self, *, parent: Name | None = None, kind: str | None = None) -> list[Securable]:
        """Children of ``parent`` (catalogs when ``None``), sorted by name."""
        with self.metastore.session() as s:
            query = sa.select(SecurableRow).order_by(SecurableRow.full_name)
            if parent is None:
                query = query.where(SecurableRow.parent_id.is_(None))
            else:
                query = query.where(SecurableRow.parent_id == self._row(s, parent).id)
            if kind is not None:
                query = query.where(SecurableRow.kind == kind)
            return [self._load(s, r) for r in s.scalars(query)]

    def search(self, *, kind: str | None = None) -> builtins.list[Securable]:
        """Every securable of ``kind`` in the metastore."""
        with self.metastore.session() as s:
            query = sa.select(SecurableRow).order_by(SecurableRow.full_name)
            if kind is not None:
                query = query.where(SecurableRow.kind == kind)
            return [self._load(s, r) for r in s.scalars(query)]

    # -- describe -------------------------------------------------------------------

    def update(
        self,
        name: Name,
        *,
        comment: str | None = None,
        owner: str | None = None,
        properties: dict[str, str] | None = None,
        spec: dict[str, Any] | None = None,
        storage_location: str | None = None,
    ) -> Securable:
        """Change comment, owner, location, properties (merged) or spec (merged)."""
        with self.metastore.session() as s:
            row = self._row(s, name)
            if comment is not None:
                row.comment = comment
            if owner is not None:
                row.owner = owner
            if properties:
                row.properties = {**row.properties, **{str(k): str(v) for k, v in properties.items()}}
            if spec:
                row.spec = {**row.spec, **spec}
            if storage_location is not None:
                row.storage_location = storage_location
            row.updated_at = utcnow()
            s.flush()
            return self._load(s, row)

    def set_tags(self, name: Name, tags: dict[str, str], *, column: str | None = None) -> Securable:
        """Add or replace tags on a securable or on one of its columns."""
        with self.metastore.session() as s:
            row = self._row(s, name)
            col = (column or "").lower()
            for key, value in tags.items():
                key = str(key).strip()
                if not key:
                    raise InvalidArgumentError("a tag key may not be empty.")
                tag = s.scalar(
                    sa.select(TagRow).where(TagRow.securable_id == row.id, TagRow.column_name == col, TagRow.key == key)
                )
                if tag is None:
                    s.add(TagRow(securable_id=row.id, column_name=col, key=key, value=str(value or "")))
                else:
                    tag.value = str(value or "")
            s.flush()
            return self._load(s, row)

    def unset_tags(self, name: Name, keys: builtins.list[str], *, column: str | None = None) -> Securable:
        with self.metastore.session() as s:
            row = self._row(s, name)
            s.execute(
                sa.delete(TagRow).where(
                    TagRow.securable_id == row.id,
                    TagRow.column_name == (column or "").lower(),
                    TagRow.key.in_(keys),
                )
            )
            return self._load(s, row)

    def set_column_comment(self, name: Name, column: str, comment: str) -> Securable:
        with self.metastore.session() as s:
            row = self._row(s, name)
            existing = s.get(ColumnCommentRow, (row.id, column.lower()))
            if existing is None:
                s.add(ColumnCommentRow(securable_id=row.id, column_name=column.lower(), comment=comment))
            else:
                existing.comment = comment
            s.flush()
            return self._load(s, row)

    # -- internals ------------------------------------------------------------------

    def _row(
        self,
        s: Session,
        name: Name,
        *,
        kind: str | tuple[str, ...] | None = None,
        visible: Callable[[Securable], bool] | None = None,
    ) -> SecurableRow:
        row = s.scalar(sa.select(SecurableRow).where(SecurableRow.full_name == name.full))
        kinds = (kind,) if isinstance(kind, str) else kind
        if row is not None and kinds and row.kind not in kinds:
            raise NotFoundError(f"{name.full!r} is a {row.kind}, not a {' or '.join(kinds)}.")
        if row is None:
            raise NotFoundError(self._not_found(s, name, kinds, visible))
        return row

    def _not_found(
        self, s: Session, name: Name, kinds: tuple[str, ...] | None, visible: Callable[[Securable], bool] | None
    ) -> str:
        what = " or ".join(kinds) if kinds else _LEVEL_KIND.get(len(name.parts), "object")
        # Say which level is missing: a missing catalog explains a missing table.
        for level in (name.parent.parent if name.parent else None, name.parent):
            if (
                level is not None
                and s.scalar(sa.select(SecurableRow.id).where(SecurableRow.full_name == level.full)) is None
            ):
                return (
                    f"{what} {name.full!r} does not exist: "
                    f"{_LEVEL_KIND[len(level.parts)]} {level.full!r} does not exist."
                )
        if visible is None:
            return f"{what} {name.full!r} does not exist."
        # Suggest only names of the same level (a schema is no answer to a missing table),
        # and only names the caller may see: an error must not reveal the others.
        siblings = [
            n for n in s.scalars(sa.select(SecurableRow.full_name)).all() if n.count(".") == name.full.count(".")
        ]
        for close in difflib.get_close_matches(name.full, siblings, n=5):
            row = s.scalar(sa.select(SecurableRow).where(SecurableRow.full_name == close))
            if row is not None and visible(self._load(s, row, details=False)):
                return f"{what} {name.full!r} does not exist. Did you mean {close!r}?"
        return f"{what} {name.full!r} does not exist."

    def _load(self, s: Session, row: SecurableRow, *, details: bool = True) -> Securable:
        tags: dict[str, str] = {}
        column_tags: dict[str, dict[str, str]] = {}
        comments: dict[str, str] = {}
        if details:
            for tag in s.scalars(sa.select(TagRow).where(TagRow.securable_id == row.id).order_by(TagRow.key)):
                if tag.column_name:
                    column_tags.setdefault(tag.column_name, {})[tag.key] = tag.value
                else:
                    tags[tag.key] = tag.value
            comments = {
                c.column_name: c.comment
                for c in s.scalars(sa.select(ColumnCommentRow).where(ColumnCommentRow.securable_id == row.id))
            }
        parts = row.full_name.split(".")
        return Securable(
            id=row.id,
            kind=row.kind,
            name=Name.of(parts),
            owner=row.owner,
            comment=row.comment,
            properties=dict(row.properties or {}),
            spec=dict(row.spec or {}),
            storage_location=row.storage_location,
            created_at=row.created_at,
            created_by=row.created_by,
            updated_at=row.updated_at,
            tags=tags,
            column_tags=column_tags,
            column_comments=comments,
        )


def _check_level(kind: str, name: Name) -> None:
    expected = {"catalog": 1, "schema": 2}.get(kind, 3)
    if len(name.parts) != expected:
        shape = ("catalog", "catalog.schema", "catalog.schema.name")[expected - 1]
        raise InvalidArgumentError(f"a {kind} name has the form {shape}; got {name.full!r}.")
