"""The plant shop's recommender: trained on the gold features, tracked with MLflow, registered, served.

:func:`train_and_serve` runs after the pipeline (``pipeline.py``) and does what a data
scientist would, with the tools they already have:

1. starts ``glashaus serve`` in-process and points the unmodified ``mlflow`` client at
   it (``MLFLOW_TRACKING_URI`` + ``MLFLOW_TRACKING_TOKEN``);
2. trains a scikit-learn classifier that recommends a plant category from
   ``main.plant_shop.customer_features`` and logs params, metrics and the model to the
   experiment ``main.plant_shop.recommender_training`` through the MLflow client;
3. registers the files the client logged as ``main.plant_shop.recommender`` with lineage
   to the exact version of the feature table it learned from, and points ``@champion`` at it;
4. serves ``@champion`` at ``POST /serving/recommender/invocations``, sends traffic
   (one customer per request, MLflow's ``dataframe_split`` format) and shows the
   inference table ``main.plant_shop.recommender_inference`` filling.

The example below takes a minute (it trains, starts a server and a model process), so it is
not run as a doctest; ``tests/test_demo.py`` runs the same steps end to end.

>>> report = train_and_serve(lh, requests=5, say=lambda line: None)   # doctest: +SKIP
>>> report.version, report.requests, report.inference_rows            # doctest: +SKIP
(1, 5, 5)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from glashaus.lakehouse import services

SCHEMA = "main.plant_shop"
FEATURES_TABLE = f"{SCHEMA}.customer_features"
EXPERIMENT = f"{SCHEMA}.recommender_training"
MODEL = f"{SCHEMA}.recommender"
ENDPOINT = "recommender"
INFERENCE_TABLE = f"{SCHEMA}.recommender_inference"
NUMERIC = ["views", "carts", "purchases", "units", "spend_eur"]
C = 1.0
CATEGORICAL = ["region", "age_band"]


@dataclass
class MlReport:
    run_id: str
    accuracy: float
    version: int
    lineage: list[str]
    requests: int
    inference_rows: int
    sample_prediction: Any
    notes: list[str] = field(default_factory=list)


def training_frame(lh: Any) -> Any:
    """Customers with a favourite category (the label), as pandas."""
    cols = ", ".join([*NUMERIC, *CATEGORICAL, "favourite_category"])
    return lh.sql(
        f"SELECT {cols} FROM {FEATURES_TABLE} WHERE favourite_category IS NOT NULL ORDER BY customer_id"
    ).to_pandas()


def build_model() -> Any:
    """One-hot region and age band, scaled counts, a multinomial logistic regression.

    (A linear model saves with skops using only types skops trusts; tree ensembles would
    need their node arrays trusted explicitly.)
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = ColumnTransformer(
        [("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL), ("counts", StandardScaler(), NUMERIC)]
    )
    return Pipeline([("features", features), ("classifier", LogisticRegression(max_iter=1000, C=C))])


@contextlib.contextmanager
def mlflow_client_env(url: str, token: str) -> Iterator[None]:
    """Point the MLflow client at a Glashaus server for the duration (restores the environment)."""
    wanted = {"MLFLOW_TRACKING_URI": url, "MLFLOW_TRACKING_TOKEN": token, "MLFLOW_DISABLE_TELEMETRY": "true"}
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def train_and_serve(lh: Any, *, requests: int = 200, say: Callable[[str], None] = print) -> MlReport:
    """Train, track, register, serve and call the recommender (see the module docstring)."""
    import httpx
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.model_selection import train_test_split

    from glashaus.server.app import ServerThread, create_app

    data = training_frame(lh)
    X = data[[*NUMERIC, *CATEGORICAL]].astype(dict.fromkeys(NUMERIC, "float64"))  # counts may be missing later
    y = data["favourite_category"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=7)
    features_version = lh.describe(FEATURES_TABLE).version
    token = lh.create_token(lh.user, expires_in=3600, comment="plant-shop demo (MLflow client)")
    app = create_app(lh)
    with ServerThread(app) as server, mlflow_client_env(server.url, token):
        say(f"MLflow client -> {server.url} (glashaus serve, in-process)")
        mlflow.set_experiment(EXPERIMENT)
        with mlflow.start_run(run_name="logistic-regression") as run:
            model = build_model()
            params = {
                "model": "logistic_regression",
                "C": C,
                "features_table": FEATURES_TABLE,
                "features_version": features_version,
            }
            mlflow.log_params(params)
            model.fit(X_train, y_train)
            accuracy = float((model.predict(X_test) == y_test).mean())
            mlflow.log_metrics({"accuracy": accuracy, "train_rows": len(X_train)})
            signature = infer_signature(X_test.head(5), model.predict(X_test.head(5)))
            logged = mlflow.sklearn.log_model(
                model, name="model", signature=signature, input_example=X_test.head(3), serialization_format="skops"
            )
        say(f"run {run.info.run_id}: accuracy {accuracy:.3f} on {len(X_test):,} held-out customers")

        # Register exactly the files the MLflow client logged, with lineage to the feature table's version.
        files = f"{services(lh).layout.experiment_location(run.info.experiment_id)}/models/{logged.model_id}/artifacts"
        version = lh.models.register_files(
            files,
            MODEL,
            training_set=[f"{FEATURES_TABLE}@v{features_version}"],
            run_id=run.info.run_id,
            description="Recommends a plant category per customer.",
        )
        lh.models.set_alias(MODEL, "champion", version.version, reason="first model of the demo")
        lineage = [
            f"{e.source}@v{e.source_version} -> {e.target}@v{e.target_version}"
            for e in lh.lineage(MODEL, direction="upstream", depth=2)
        ]
        say(f"registered {MODEL} v{version.version} (@champion), trained on {FEATURES_TABLE}@v{features_version}")

        lh.serving.create_endpoint(ENDPOINT, model=f"{MODEL}@champion", inference_table=INFERENCE_TABLE)
        sample = X_test.head(1)
        first = None
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            for i in range(requests):
                row = X_test.iloc[[i % len(X_test)]]
                r = http.post(
                    f"/serving/{ENDPOINT}/invocations",
                    json={"dataframe_split": row.to_dict(orient="split", index=False)},
                )
                r.raise_for_status()
                if first is None:
                    first = r.json()["predictions"][0]
        app.state.serving.flush()
        rows = lh.sql(f"SELECT count(*) FROM {INFERENCE_TABLE}").scalar()
        say(f"served {requests} requests at /serving/{ENDPOINT}/invocations; {rows} rows in {INFERENCE_TABLE}")
    return MlReport(
        run_id=run.info.run_id,
        accuracy=accuracy,
        version=version.version,
        lineage=lineage,
        requests=requests,
        inference_rows=int(rows),
        sample_prediction=first,
        notes=[f"sample customer {sample.to_dict(orient='records')[0]} -> {first}"],
    )
