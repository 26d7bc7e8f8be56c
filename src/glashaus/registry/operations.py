"""The model registry's operations on ``lh.models`` (see :mod:`glashaus.declare`).

Each names a :class:`~glashaus.registry.api.Models` method, which calls
:class:`~glashaus.registry.service.RegistryService` and its guard checks. Paths follow Unity
Catalog's: models by their three-part name, versions under them; a version reference
(``main.shop.reco@champion``, ``main.shop.reco/3``) is the last segment of its path.
"""

from __future__ import annotations

from glashaus.declare import Operation


def _op(name: str, http: str = "", path: str = "", **kw: object) -> Operation:
    return Operation("models", name, http, path, tag="models", **kw)  # type: ignore[arg-type]


OPERATIONS = [
    _op("create", "POST", "/models", privilege="CREATE MODEL", audit="model.create"),
    _op("list", "GET", "/models", cli="glashaus models ls", privilege="USE", audit="{kind}.list"),
    _op("get", "GET", "/models/{name}", cli="glashaus models show", privilege="EXECUTE", audit="model.get"),
    _op("delete", "DELETE", "/models/{name}", privilege="MANAGE", audit="model.drop"),
    _op("set_description", "PUT", "/models/{name}/description", privilege="MANAGE", audit="model.comment"),
    _op("set_tags", "PUT", "/models/{name}/tags", privilege="MANAGE", audit="model.tag"),
    _op("unset_tags", "DELETE", "/models/{name}/tags", privilege="MANAGE", audit="model.untag"),
    _op(
        "register",
        embedded_only="it takes a live Python model object; save it with mlflow, put the folder "
        "in a volume and call register_files",
        privilege="MANAGE",
        audit="model.version.create",
    ),
    _op("register_files", "POST", "/models/{name}/versions", privilege="MANAGE", audit="model.version.create"),
    _op(
        "versions",
        "GET",
        "/models/{name}/versions",
        cli="glashaus models versions",
        privilege="EXECUTE",
        audit="model.versions",
    ),
    _op("version", "GET", "/model-versions/{ref:path}", privilege="EXECUTE", audit="model.version.get"),
    _op(
        "delete_version",
        "DELETE",
        "/models/{name}/versions/{version}",
        privilege="MANAGE",
        audit="model.version.delete",
    ),
    _op("set_trusted", "PUT", "/models/{name}/versions/{version}/trusted", privilege="MANAGE", audit="model.trust"),
    _op(
        "set_alias",
        "PUT",
        "/models/{name}/aliases/{alias}",
        cli="glashaus models alias",
        privilege="MANAGE",
        audit="model.alias.set",
    ),
    _op("delete_alias", "DELETE", "/models/{name}/aliases/{alias}", privilege="MANAGE", audit="model.alias.delete"),
    _op(
        "rollback",
        "POST",
        "/models/{name}/aliases/{alias}/rollback",
        cli="glashaus models rollback",
        privilege="MANAGE",
        audit="model.alias.rollback",
    ),
    _op("alias_history", "GET", "/models/{name}/alias-history", privilege="EXECUTE", audit="model.alias.history"),
    _op(
        "load",
        embedded_only="it returns a live Python model; serve the model (lh.serving) or read its files",
        privilege="EXECUTE",
        audit="model.load",
    ),
    _op("files", "GET", "/model-files/{ref:path}", privilege="EXECUTE", audit="model.files"),
    _op("read_file", "GET", "/model-file", privilege="EXECUTE", audit="model.files"),
    # The server runs the scoring; a progress callback stays with the caller (not sent).
    _op(
        "score",
        "POST",
        "/model-scoring",
        local=("progress",),
        cli="glashaus models score",
        privilege="EXECUTE",
        audit="model.score",
    ),
]
