"""The web shell's model registry pages: the models list, a model, one of its versions.

Faces over the registry's Lakehouse methods, as the signed-in caller: ``lh.models.list``,
``get``, ``versions``, ``version``, ``alias_history``; ``lh.lineage`` for the tables a
model came from (and what was made from it); ``lh.show_grants``; ``lh.runs.get`` for the params and metrics
of the run behind a version. A model the caller may not EXECUTE is neither listed nor
shown (403, or 404 when they cannot see it at all).

>>> signature_fields('[{"type": "double", "name": "light", "required": true}]')
[{'name': 'light', 'type': 'double', 'required': True}]
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from glashaus.errors import GlashausError
from glashaus.http import jsonio

if TYPE_CHECKING:
    from glashaus.web.pages import Caller

#: What the file format means for loading (see ``registry/safety.py``).
FORMATS = {
    "skops": "skops with scikit-learn types only: loads without review",
    "native": "the library's own file format, no pickle: loads without review",
    "pickle": "runs code when loaded (pickle or shipped Python)",
}


def models_page(caller: Caller) -> Response:
    """``/models``: every model the caller may use, with its latest version and aliases."""
    return caller.render("models.html", title="Models", active="models", models=caller.view.models.list())


def model_page(caller: Caller) -> Response:
    """``/models/<name>``: description, owner, tags, aliases, versions, alias history, lineage, grants."""
    lh = caller.view
    model = lh.models.get(caller.request.path_params["name"])
    return caller.render(
        "model.html",
        title=model.name,
        active="models",
        model=model,
        versions=lh.models.versions(model.name),
        moves=lh.models.alias_history(model.name),
        upstream=lh.lineage(model.name, direction="upstream"),
        downstream=lh.lineage(model.name, direction="downstream"),
        grants=lh.show_grants(model.name),
    )


def version_page(caller: Caller) -> Response:
    """``/models/<name>/versions/<n>``: everything recorded about how the version was made, and its run."""
    lh = caller.view
    params = caller.request.path_params
    mv = lh.models.version(f"{params['name']}/{params['version']}")
    run, run_error = None, None
    if mv.run_id:
        try:  # the run is governed by its experiment: the caller may use the model and still not read it
            run = lh.runs.get(mv.run_id)
        except GlashausError as exc:
            run_error = caller.message(exc)
    signature = mv.signature or {}
    return caller.render(
        "model_version.html",
        title=f"{mv.name} version {mv.version}",
        active="models",
        mv=mv,
        run=run,
        run_error=run_error,
        started=from_ms(run.start_time) if run else None,
        ended=from_ms(run.end_time) if run else None,
        inputs=signature_fields(signature.get("inputs")),
        outputs=signature_fields(signature.get("outputs")),
        signature_params=signature_fields(signature.get("params")),
        example=example_table(mv.input_example),
        format_note=FORMATS.get(mv.file_format, ""),
    )


def signature_fields(spec: Any) -> list[dict[str, Any]] | None:
    """The columns (or tensors, or params) of one side of an MLflow signature, for a table.

    MLflow keeps each side as JSON text; a tensor's type is its dtype and shape. None when absent.

    >>> signature_fields('[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 2]}}]')
    [{'name': '', 'type': 'tensor float64 [-1, 2]', 'required': True}]
    """
    if spec is None:
        return None
    try:  # stored from an uploaded MLmodel: parsed as any caller's JSON, nesting bounded
        items = jsonio.loads(spec, strict=False) if isinstance(spec, str) else spec
    except ValueError:
        return [{"name": "", "type": str(spec), "required": True}]
    if not isinstance(items, list):
        items = [items]
    fields = []
    for item in items:
        if not isinstance(item, dict):
            fields.append({"name": "", "type": str(item), "required": True})
            continue
        kind = str(item.get("type", ""))
        if kind == "tensor" and isinstance(item.get("tensor-spec"), dict):
            tensor = item["tensor-spec"]
            kind = f"tensor {tensor.get('dtype', '')} {tensor.get('shape', '')}".strip()
        elif "default" in item:  # a parameter of the model's predict()
            kind = f"{kind} (default {json.dumps(item['default'])})"
        fields.append({"name": str(item.get("name", "")), "type": kind, "required": item.get("required", True)})
    return fields


def example_table(example: Any) -> dict[str, Any] | None:
    """An input example in MLflow's split form (columns and rows) as a table; anything else as JSON text.

    >>> example_table({"columns": ["a"], "data": [[1], [2]]})
    {'columns': ['a'], 'rows': [[1], [2]], 'text': None}
    """
    if example is None:
        return None
    if isinstance(example, dict) and isinstance(example.get("columns"), list) and isinstance(example.get("data"), list):
        rows = [row if isinstance(row, list) else [row] for row in example["data"]]
        return {"columns": [str(c) for c in example["columns"]], "rows": rows, "text": None}
    return {"columns": [], "rows": [], "text": json.dumps(example, indent=2, default=str, ensure_ascii=False)}


def from_ms(value: int | None) -> dt.datetime | None:
    """MLflow's milliseconds since the epoch as a UTC time.

    >>> from_ms(0)
    datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    return None if value is None else dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
