"""Where a version registered from files may come from: inside managed storage, readable by the caller.

A source is a folder holding an MLmodel file, named as

- ``/Volumes/<catalog>/<schema>/<volume>/<path>`` (Unity Catalog's volume paths), or
- a path or URI under the lakehouse root that lies inside a volume, a registered
  model or an experiment (run artifacts, logged models).

Anything else is refused, and the refusal audited: a path outside the root, one with
``..`` or NUL in it, or one inside the root that belongs to no such securable (the
metastore, table files, system tables). The caller needs the right to read what holds
the source: READ VOLUME on the volume, EXECUTE on the model or experiment. Symbolic
links are resolved first, so a link cannot lead outside.

>>> resolve(tables, alice, "/Volumes/main/shop/uploads/reco", action="model.register")
Traceback (most recent call last):
glashaus.errors.NotFoundError: volume 'main.shop.uploads' does not exist...
"""

from __future__ import annotations

import os
from typing import Any

from glashaus.access import Principal
from glashaus.access.guard import USE, Check
from glashaus.catalog import Name, Securable, parse_name
from glashaus.errors import InvalidArgumentError
from glashaus.tables import TablesService
from glashaus.tables.volumes import check_path

#: Securables whose folders may hold model files.
SOURCE_KINDS = ("volume", "model", "experiment")


def resolve(tables: TablesService, who: Principal, source: Any, *, action: str) -> tuple[str, Securable]:
    """The source's location and the securable holding it, after checking the caller may read it."""
    if not isinstance(source, str) or not source.strip():
        raise InvalidArgumentError("source must be a path or URI of a model folder in the lakehouse's managed storage.")
    refusal = _malformed(source)
    if refusal:
        _refuse(tables, who, source, refusal, action)
    # READ VOLUME on a volume, EXECUTE on a model or experiment.
    if source.startswith("/Volumes/"):
        name, rel = _volume_path(source)
        volume = tables.guard.allow(who, Check(USE, action, kinds=("volume",)), name, details={"source": source}).found
        base = (volume.storage_location or "").rstrip("/")
        return (f"{base}/{rel}" if rel else base), volume
    location, holder = _storage_path(tables, who, source, action)
    tables.guard.allow(who, Check(USE, action, kinds=SOURCE_KINDS), holder, details={"source": source})
    return location, holder


def _malformed(source: str) -> str | None:
    if "\x00" in source or "\\" in source:
        return "it contains a NUL or a backslash"
    path = source.split("://", 1)[-1]
    if ".." in path.split("/"):
        return "it contains '..'"
    return None


def _volume_path(source: str) -> tuple[Name, str]:
    """The volume a ``/Volumes/<catalog>/<schema>/<volume>/<path>`` names, and the path inside it."""
    parts = source.removeprefix("/Volumes/").split("/", 3)
    if len(parts) < 3:
        raise InvalidArgumentError(f"{source!r}: a volume path reads /Volumes/<catalog>/<schema>/<volume>/<folder>.")
    rel = parts[3].strip("/") if len(parts) == 4 else ""
    return parse_name(".".join(parts[:3]), allow_version=False), check_path(rel) if rel else ""


def _storage_path(tables: TablesService, who: Principal, source: str, action: str) -> tuple[str, Securable]:
    layout = tables.layout
    if layout.is_local:
        path = source.removeprefix("file://")
        if not os.path.isabs(path):
            _refuse(tables, who, source, "it is not an absolute path (or a /Volumes/... path)", action)
        path, root = os.path.realpath(path), os.path.realpath(layout.root)
        if os.path.commonpath([path, root]) != root:
            _refuse(tables, who, source, "it is outside the lakehouse's managed storage", action)
    else:
        path, root = source.rstrip("/"), layout.root
        if not path.startswith(root + "/"):
            _refuse(tables, who, source, "it is outside the lakehouse's managed storage", action)
    for kind in SOURCE_KINDS:
        for securable in tables.catalog.search(kind=kind):
            where = securable.storage_location
            if not where:
                continue
            where = os.path.realpath(where) if layout.is_local else where.rstrip("/")
            if path == where or path.startswith(where + "/"):
                return path, securable
    _refuse(tables, who, source, "it lies in no volume, registered model or experiment of the lakehouse", action)
    raise AssertionError("unreachable")


def _refuse(tables: TablesService, who: Principal, source: str, why: str, action: str) -> None:
    reason = (
        f"model source {source!r} is refused: {why}. Register from a folder in managed storage, e.g. upload it "
        "to a volume (lh.put_file) and pass '/Volumes/<catalog>/<schema>/<volume>/<folder>'."
    )
    tables.access.refuse(who, action=action, reason=reason, details={"source": source})
    raise InvalidArgumentError(reason)

