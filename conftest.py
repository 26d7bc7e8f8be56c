"""The world the docstring examples of ``src/glashaus`` run in (``pytest`` collects them as doctests).

Examples that need a lakehouse find one here, fresh for each docstring and built only when the
example names it: ``lh`` (connected as ``alice``, its admin) holding the schema ``main.shop`` with
the tables ``orders`` and ``customers``, the volume ``images``, the user ``bob`` and the group
``analysts``. Examples of a service find it under the name the docstrings use (``svc``: the
service of the module's own capability). Nothing here reaches the network.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

ORDERS = pa.table(
    {
        "order_id": pa.array([1, 2, 3, 4], pa.int64()),
        "customer_id": pa.array([10, 11, 10, 12], pa.int64()),
        "region": ["north", "south", "north", "east"],
        "quantity": pa.array([1, 2, 12, 3], pa.int32()),
        "price": [10.0, 20.0, 30.0, 12.5],
    }
)
CUSTOMERS = pa.table(
    {
        "customer_id": pa.array([10, 11, 12], pa.int64()),
        "email": ["ann@example.com", "bo@example.com", "cy@example.com"],
        "region": ["north", "south", "east"],
    }
)

# Names an example may use that need the lakehouse to exist.
_NEEDS_LAKEHOUSE = re.compile(
    r"\b(lh|svc|vols|cat|metastore|directory|admin|registry|tracking|access|audit|store|guard|policies|"
    r"table|alice|bob|model|clf|X|exp_id|run_id|trace_id)\b"
)


def _model() -> tuple[Any, Any]:
    """A tiny scikit-learn classifier on plant features, and the features it was trained on."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"light": [0.1, 0.2, 0.8, 0.9, 0.3, 0.7], "water": [1.0, 0.9, 0.2, 0.1, 0.8, 0.3]})
    y = [0, 0, 1, 1, 0, 1]
    return LogisticRegression().fit(X, y), X


def _world(tmp: Path, module: str) -> dict[str, Any]:
    import glashaus
    from glashaus.access import Principal
    from glashaus.lakehouse import services

    lh = glashaus.connect(tmp / "lh", user="alice")
    lh.create_user("bob")
    lh.create_group("analysts")
    lh.add_member("analysts", "bob")
    lh.create_schema("main.shop")
    lh.create_table("main.shop.orders", data=ORDERS, primary_key=["order_id"])
    lh.create_table("main.shop.customers", data=CUSTOMERS, primary_key=["customer_id"])
    lh.create_volume("main.shop.images")
    parts = services(lh)  # the services the examples of internal modules show
    tables, tracking = parts.tables, parts.tracking
    world: dict[str, Any] = {
        "lh": lh,
        "alice": Principal.user("alice"),
        "bob": Principal.user("bob"),
        "svc": tracking if module.startswith("glashaus.tracking") else tables,
        "tables": tables,
        "tracking": tracking,
        "vols": parts.volumes,
        "cat": parts.catalog,
        "metastore": parts.metastore,
        "directory": parts.directory,
        "admin": parts.admin,
        "registry": parts.registry,
        "access": parts.access,
        "serving_service": parts.serving,
        "audit": parts.audit,
        "store": parts.store,
        "guard": tables.guard,
        "policies": tables.policies,
        "table": tables.get(Principal.user("alice"), "main.shop.orders"),
    }
    if module.startswith(("glashaus.registry", "glashaus.serving", "glashaus.server.mlflow")):
        # A registered model main.shop.reco, version 1 @champion, that bob may use.
        model, X = _model()
        registry = world["registry"]
        registry.register(world["alice"], model, "main.shop.reco", training_set=["main.shop.orders"])
        registry.set_alias(world["alice"], "main.shop.reco", "champion", 1)
        for privilege, on in (("USE SCHEMA", "main.shop"), ("EXECUTE", "main.shop.reco")):
            tables.grant(world["alice"], privilege, on=on, to="bob")
        world.update(model=model, X=X, clf=model, reco=tables.get(world["alice"], "main.shop.reco", kind="model"))
    if module.startswith("glashaus.tracking"):
        from glashaus.tracking.entities import Metric

        experiment = tracking.create_experiment(world["alice"], "main.shop.reco_training")
        run = tracking.create_run(world["alice"], experiment.experiment_id, run_name="baseline")
        world.update(Metric=Metric, exp_id=experiment.experiment_id, run=run, run_id=run.run_id, ts=1_767_225_600_000)
    if module.startswith("glashaus.tracing"):
        # An experiment main.shop.chatbot with one trace (its root span "answer"), as MLflow's client logs it.
        from glashaus.tracing import Span, TraceInfo

        tracing = parts.tracing
        experiment = tracking.create_experiment(world["alice"], "main.shop.chatbot")
        exp_id, trace_id = experiment.experiment_id, "tr-0af7651916cd43dd8448eb211c80319c"
        tracing.log_spans(world["alice"], exp_id, [Span(trace_id, "00f067aa0ba902b7", "answer", 1_767_225_600 * 10**9)])
        tracing.start_trace(world["alice"], TraceInfo(trace_id, exp_id, request_time=1_767_225_600_000))
        world.update(svc=tracing, exp_id=exp_id, trace_id=trace_id, Span=Span, TraceInfo=TraceInfo)
    return world


@pytest.fixture(autouse=True)
def _doctest_world(request: pytest.FixtureRequest, doctest_namespace: dict[str, Any], tmp_path_factory: Any) -> Any:
    """Fill the namespace of one docstring's examples; close its lakehouse afterwards."""
    test = getattr(request.node, "dtest", None)
    if test is None:
        yield
        return
    import glashaus

    doctest_namespace.clear()
    import sqlglot

    from glashaus.catalog.names import parse_name

    doctest_namespace.update(glashaus=glashaus, pa=pa, dt=dt, sqlglot=sqlglot, parse_name=parse_name)
    source = "\n".join(example.source for example in test.examples)
    lh = None
    module = test.globs.get("__name__", "")
    if _NEEDS_LAKEHOUSE.search(source) or (
        module.startswith("glashaus.tracking") and re.search(r"\b(svc|exp|run)\b", source)
    ):
        world = _world(tmp_path_factory.mktemp("doctest"), module)
        lh = world["lh"]
        doctest_namespace.update(world)
        if "model" not in doctest_namespace and re.search(r"\b(model|clf|X)\b", source):
            doctest_namespace["model"], doctest_namespace["X"] = _model()
            doctest_namespace["clf"] = doctest_namespace["model"]
    try:
        yield
    finally:
        if lh is not None:
            lh.close()
