"""``glashaus models``: ls, show, versions, alias, rollback, score, and their error lines.

The real CLI (Typer's CliRunner) against a real lakehouse holding a tiny registered model.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import glashaus
from glashaus.cli.main import app

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

MODEL = "main.shop.reco"


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> str:
    """main.shop.reco with versions 1 and 2 (@champion on 1), main.shop.candidates (50 rows), user bob."""
    root = str(tmp_path_factory.mktemp("cli_models") / "lh")
    rng = np.random.default_rng(0)
    data = pa.table({"id": np.arange(50), "x1": rng.normal(size=50), "x2": rng.normal(size=50)})
    x = data.select(["x1", "x2"]).to_pandas()
    with glashaus.connect(root, user="alice") as lh:
        lh.create_schema("main.shop")
        lh.create_table("main.shop.candidates", data=data)
        for c in (1.0, 0.1):
            model = LogisticRegression(C=c).fit(x, (x["x1"] > 0).astype("int64"))
            lh.models.register(
                model, MODEL, training_set="main.shop.candidates", input_example=x.head(2), description=f"C={c}"
            )
        lh.models.set_alias(MODEL, "champion", 1, reason="baseline")
        lh.create_user("bob")
        lh.grant("USE SCHEMA", on="main.shop", to="bob")
        lh.grant("EXECUTE", on=MODEL, to="bob")
    return root


def run(lake: str, *args: str, user: str = "alice"):
    env = {"GLASHAUS_LAKEHOUSE": None, "GLASHAUS_USER": None, "GLASHAUS_METASTORE": None, "COLUMNS": "200"}
    return CliRunner().invoke(app, ["models", *args, "--lakehouse", lake, "--user", user], env=env)


def test_ls_lists_models_with_latest_version_and_aliases(lake):
    result = run(lake, "ls", "main.shop")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if MODEL in line)
    assert "2" in line and "@champion → 1" in line and "alice" in line
    assert run(lake, "ls").stdout.count(MODEL) == 1


def test_show_and_versions_describe_the_model(lake):
    shown = run(lake, "show", MODEL)
    assert shown.exit_code == 0, shown.output
    for text in (
        "main.shop.reco (model)",
        "versions of main.shop.reco",
        "latest alias moves",
        "baseline",
        "main.shop.candidates@v1",
        "skops",
    ):
        assert text in shown.stdout, text
    listed = run(lake, "versions", MODEL)
    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.stdout.splitlines() if "READY" in line]
    assert [row.split()[1] for row in rows] == ["2", "1"] and "@champion" in rows[1] and "C=0.1" in rows[0]


def test_alias_set_history_rollback_and_delete(lake):
    moved = run(lake, "alias", MODEL, "challenger", "2", "--reason", "try it")
    assert moved.exit_code == 0, moved.output
    assert moved.stdout.strip() == "main.shop.reco@challenger → version 2"
    assert run(lake, "alias", MODEL, "challenger", "1").stdout.strip() == (
        "main.shop.reco@challenger → version 1 (was version 2)"
    )
    history = run(lake, "alias", MODEL, "challenger")
    assert history.exit_code == 0, history.output
    assert "try it" in history.stdout and "history of main.shop.reco@challenger" in history.stdout
    back = run(lake, "rollback", MODEL, "challenger", "--reason", "oops")
    assert back.stdout.strip() == "main.shop.reco@challenger → version 2 (was version 1)"
    gone = run(lake, "alias", MODEL, "challenger", "--delete")
    assert gone.stdout.strip() == "main.shop.reco@challenger removed (was version 2)"
    with glashaus.connect(lake, user="alice") as lh:
        assert [m.reason for m in lh.models.alias_history(MODEL, alias="challenger")] == [None, "oops", None, "try it"]


def test_score_writes_the_output_table(lake):
    result = run(
        lake,
        "score",
        f"{MODEL}@champion",
        "--table",
        "main.shop.candidates",
        "--output",
        "main.shop.cli_scores",
        "--keep",
        "id",
        "--batch-size",
        "20",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith(
        "scored 50 rows of main.shop.candidates@v1 with main.shop.reco/1 into main.shop.cli_scores@v"
    )
    with glashaus.connect(lake, user="alice") as lh:
        assert lh.read("main.shop.cli_scores").column_names == ["id", "prediction"]


@pytest.mark.parametrize(
    ("args", "user", "message"),
    [
        (("show", "main.shop.nope"), "alice", "error: model 'main.shop.nope' does not exist"),
        (("alias", MODEL, "champion", "2"), "bob", "error: bob lacks MANAGE on model main.shop.reco"),
        (("rollback", MODEL, "nobody"), "alice", "error: model main.shop.reco has no alias 'nobody'"),
        (("alias", MODEL, "latest", "1"), "alice", "error: alias 'latest'"),
        (
            ("score", MODEL, "--table", "main.shop.candidates", "--output", "main.shop.x"),
            "bob",
            "error: bob lacks CREATE TABLE on schema main.shop",
        ),
        (("versions", "main.shop.reco/2"), "alice", "error: 'main.shop.reco/2' names a model version"),
    ],
)
def test_errors_print_one_line_and_exit_1(lake, args, user, message):
    result = run(lake, *args, user=user)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines
