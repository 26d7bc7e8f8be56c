"""``glashaus serving``: create, ls, show, update, delete, and their error lines, on a real lakehouse."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import glashaus
from glashaus.cli.main import app

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

MODEL = "main.shop.reco"


@pytest.fixture
def lake(tmp_path) -> str:
    """main.shop.reco v1 (@champion) and v2 (@challenger); user bob without EXECUTE."""
    root = str(tmp_path / "lh")
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"x1": rng.normal(size=40), "x2": rng.normal(size=40)})
    with glashaus.connect(root, user="alice") as lh:
        lh.create_schema("main.shop")
        for c in (1.0, 0.1):
            lh.models.register(
                LogisticRegression(C=c).fit(x, (x["x1"] > 0).astype("int64")), MODEL, input_example=x.head(2)
            )
        lh.models.set_alias(MODEL, "champion", 1)
        lh.models.set_alias(MODEL, "challenger", 2)
        lh.create_user("bob")
    return root


def run(lake: str, *args: str, user: str = "alice"):
    env = {"GLASHAUS_LAKEHOUSE": None, "GLASHAUS_USER": None, "GLASHAUS_METASTORE": None, "COLUMNS": "200"}
    return CliRunner().invoke(app, ["serving", *args, "--lakehouse", lake, "--user", user], env=env)


def test_create_update_show_list_delete(lake):
    created = run(lake, "create", "reco", MODEL, "--traffic", "champion=90", "--traffic", "challenger=10")
    assert created.exit_code == 0, created.output
    assert "champion 90%, challenger 10%" in created.stdout and "main.shop.reco_inference" in created.stdout
    updated = run(lake, "update", "reco", "--traffic", "champion=100", "--shadow", "challenger")
    assert updated.exit_code == 0, updated.output
    with glashaus.connect(lake, user="alice") as lh:
        endpoint = lh.serving.get_endpoint("reco")
        assert [(r.variant, r.traffic) for r in endpoint.routes] == [("champion", 100)]
        assert endpoint.shadow == "challenger"
        assert lh.get("main.shop.reco_inference").kind == "table"
    assert "/serving/reco/invocations" in run(lake, "show", "reco").stdout
    assert "reco" in run(lake, "ls").stdout
    assert run(lake, "delete", "reco").exit_code == 0
    assert "no serving endpoints" in run(lake, "ls").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "reco", MODEL, "--traffic", "champion:90"], "VARIANT=PERCENT"),
        (["create", "reco", MODEL, "--traffic", "champion=60"], "add up to 100"),
        (["create", "Bad Name", f"{MODEL}@champion"], "invalid endpoint name"),
        (["create", "reco", f"{MODEL}@nope"], "nope"),
        (["show", "missing"], "does not exist"),
    ],
)
def test_errors_are_one_line(lake, args, message):
    result = run(lake, *args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_without_execute_one_cannot_create_an_endpoint(lake):
    with glashaus.connect(lake, user="alice") as lh:
        lh.grant("USE SCHEMA", on="main.shop", to="bob")
    result = run(lake, "create", "bobs", f"{MODEL}@champion", user="bob")
    assert result.exit_code == 1 and "EXECUTE" in result.output
