"""The web shell's model, version and endpoint pages in a real browser against a real server.

One lakehouse, one server and one browser per module (as in test_web.py). The people:
alice (admin, owns everything), ana (USE SCHEMA and EXECUTE on the model, nothing on
the experiment or the inference table), bob (USE SCHEMA only).
"""

from __future__ import annotations

import json
import os

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from browser import XSS, as_user, needs_chromium, table_text
from sklearn.linear_model import LogisticRegression

import glashaus
from glashaus.server.app import ServerThread, create_app

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

MODEL = "main.shop.reco"
TRAIN = "main.shop.plants"
RAW = "main.shop.raw_plants"
COLUMNS = ["light", "water"]

pytestmark = needs_chromium


def _data(n: int, seed: int) -> pd.DataFrame:
    X = pd.DataFrame(np.random.default_rng(seed).normal(size=(n, 2)), columns=COLUMNS)
    return X.assign(y=((X["light"] + X["water"]) > 0).astype("int64"))


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    lh = glashaus.connect(tmp_path_factory.mktemp("web_models") / "lh", user="alice")
    lh.create_schema("main.shop")
    for user in ("ana", "bob"):
        lh.create_user(user)
        lh.grant("USE SCHEMA", on="main.shop", to=user)
    first = _data(60, 1)
    lh.create_table(RAW, data=pa.Table.from_pandas(first, preserve_index=False))
    lh.sql(f"CREATE TABLE {TRAIN} AS SELECT * FROM {RAW}")
    trained_on = [lh.describe(TRAIN).version]
    lh.experiments.create("main.shop.reco_training")
    run = lh.runs.start("main.shop.reco_training", name="baseline")
    lh.runs.log_params(run.run_id, {"C": 0.5, "penalty": "l2"})
    lh.runs.log_metrics(run.run_id, {"auc": 0.91, "rmse": 0.31})
    lh.runs.end(run.run_id)
    X = first[COLUMNS]
    lh.models.create(MODEL, description="Plants a buyer may like.", tags={"team": "reco"})
    lh.models.register(
        LogisticRegression(C=0.5).fit(X, first["y"]),
        MODEL,
        training_set=TRAIN,
        input_example=X.head(2),
        run_id=run.run_id,
        description="The baseline.",
    )
    second = _data(40, 2)
    lh.write(TRAIN, pa.Table.from_pandas(second, preserve_index=False))
    trained_on.append(lh.describe(TRAIN).version)
    both = pd.concat([first, second])
    lh.models.register(
        LogisticRegression().fit(both[COLUMNS], both["y"]), MODEL, training_set=TRAIN, input_example=X.head(2)
    )
    lh.models.set_alias(MODEL, "champion", 1, reason="first model")
    lh.models.set_alias(MODEL, "champion", 2, reason="AUC 0.93 > 0.91")
    lh.models.create("main.shop.notes", description=XSS)
    lh.grant("EXECUTE", on=MODEL, to="ana")
    lh.grant("EXECUTE", on="main.shop.notes", to="ana")
    lh.serving.create_endpoint("reco", model=MODEL, traffic={"champion": 80, "1": 20}, shadow="1")
    try:
        yield {"lh": lh, "run": run, "X": X, "trained_on": trained_on, "raw": lh.describe(RAW).version}
    finally:
        lh.close()


@pytest.fixture(scope="module")
def app(lake):
    return create_app(lake["lh"], max_auth_failures=1000)


@pytest.fixture(scope="module")
def server(app):
    with ServerThread(app) as running:
        yield running


@pytest.fixture(scope="module")
def tokens(lake):
    return {user: lake["lh"].create_token(user) for user in ("alice", "ana", "bob")}


# -- models ---------------------------------------------------------------------------------------


def test_the_models_list_is_reached_from_the_nav_bar_and_shows_latest_version_and_aliases(page, server, tokens):
    as_user(page, server, tokens, "ana", "/catalog")
    with page.expect_navigation():
        page.click("nav >> text=Models")
    assert page.url == server.url + "/models"
    rows = {row[0]: row for row in table_text(page, "#models")}
    assert sorted(rows) == ["main.shop.notes", MODEL]
    assert rows[MODEL][1:4] == ["2", "@champion → 2", "alice"]
    assert rows["main.shop.notes"][1] == "none"


def test_a_model_in_the_catalog_browser_links_to_its_page(page, server, tokens):
    as_user(page, server, tokens, "alice", "/catalog/main.shop")
    with page.expect_navigation():
        page.click("#children >> text=reco")
    assert page.url == server.url + f"/models/{MODEL}"
    page.goto(server.url + f"/catalog/{MODEL}")  # the catalog's own address for it leads there too
    assert page.url == server.url + f"/models/{MODEL}" and page.inner_text("h1") == f"Model {MODEL}"


def test_the_model_page_shows_versions_and_the_full_alias_history(page, server, tokens, lake):
    as_user(page, server, tokens, "alice", f"/models/{MODEL}")
    assert page.inner_text(".comment") == "Plants a buyer may like."
    assert page.inner_text("#owner") == "alice" and page.inner_text("#aliases") == "@champion → 2"
    assert page.inner_text("#tags") == "team=reco"
    versions = table_text(page, "#versions")
    first, second = lake["trained_on"]
    assert first < second
    assert [(v[0], v[1], v[3], v[5], v[6]) for v in versions] == [
        ("2", "READY", "alice", "@champion", f"{TRAIN}@v{second}"),
        ("1", "READY", "alice", "", f"{TRAIN}@v{first}"),
    ]
    history = [row[1:] for row in table_text(page, "#alias-history")]  # newest first; [0] is the time
    assert history == [
        ["@champion", "set", "1", "2", "alice", "AUC 0.93 > 0.91"],
        ["@champion", "set", "—", "1", "alice", "first model"],
    ]


def test_lineage_walks_from_the_model_to_the_training_table_and_its_raw_table_with_versions(page, server, tokens, lake):
    as_user(page, server, tokens, "alice", f"/models/{MODEL}")
    assert table_text(page, "#upstream") == [  # the latest write of each pair: version 2's registration
        [TRAIN, str(lake["trained_on"][1]), MODEL, "2", "model.register", "1"],
        [RAW, str(lake["raw"]), TRAIN, str(lake["trained_on"][0]), "CREATE TABLE AS SELECT", "2"],
    ]
    assert table_text(page, "#downstream") == [["No lineage recorded."]]
    with page.expect_navigation():
        page.click(f"#upstream >> text={TRAIN} >> nth=0")
    assert page.url == server.url + f"/catalog/{TRAIN}"


def test_the_version_page_shows_its_run_signature_example_and_provenance(page, server, tokens, lake):
    as_user(page, server, tokens, "alice", f"/models/{MODEL}/versions/1")
    assert page.inner_text("h1") == f"{MODEL} version 1" and page.inner_text(".comment") == "The baseline."
    assert page.inner_text("#run-id") == lake["run"].run_id
    assert table_text(page, "#params") == [["C", "0.5"], ["penalty", "l2"]]
    assert table_text(page, "#metrics") == [["auc", "0.91", "0"], ["rmse", "0.31", "0"]]
    assert table_text(page, "#inputs") == [["light", "double", "yes"], ["water", "double", "yes"]]
    assert table_text(page, "#outputs") == [["", "long", "yes"]]
    assert [th.inner_text() for th in page.query_selector_all("#example thead th")] == COLUMNS
    example = table_text(page, "#example")
    assert len(example) == 2 and float(example[0][0]) == pytest.approx(lake["X"]["light"].iloc[0])
    assert page.inner_text("#flavors") == "python_function, sklearn"
    assert page.inner_text("#format").startswith("skops") and page.inner_text("#trust") == "needs no review"
    assert table_text(page, "#training-set") == [[TRAIN, str(lake["trained_on"][0]), "table", "input"]]
    assert page.inner_text("#source") == "python object"
    packages = dict(table_text(page, "#packages"))
    assert "scikit-learn" in packages and "skops" in packages
    page.goto(server.url + f"/models/{MODEL}/versions/2")
    assert page.inner_text("#run-id") == "none" and "No run recorded" in page.inner_text("main")
    assert table_text(page, "#training-set") == [[TRAIN, str(lake["trained_on"][1]), "table", "input"]]


def test_a_run_the_caller_may_not_read_shows_the_refusal_in_its_place(page, server, tokens):
    response = as_user(page, server, tokens, "ana", f"/models/{MODEL}/versions/1")
    assert response.status == 200
    assert "ana lacks EXECUTE on experiment main.shop.reco_training" in page.inner_text("#run-error")
    assert not page.is_visible("#params")
    assert table_text(page, "#inputs")[0] == ["light", "double", "yes"]  # the rest of the page is there


def test_a_user_without_execute_sees_no_model_and_is_refused_its_pages(page, server, tokens):
    as_user(page, server, tokens, "bob", "/models")
    assert table_text(page, "#models") == [["No models you may use."]]
    response = page.goto(server.url + f"/models/{MODEL}")
    assert response.status == 403 and page.inner_text("h1") == "Permission denied"
    assert f"bob lacks EXECUTE on model {MODEL}" in page.inner_text("#message")
    response = page.goto(server.url + f"/models/{MODEL}/versions/1")
    assert response.status == 403
    page.goto(server.url + "/catalog/main.shop")
    assert "reco" not in {row[0] for row in table_text(page, "#children")}


def test_unknown_models_and_versions_are_404_without_naming_others(page, server, tokens):
    as_user(page, server, tokens, "ana", "/models/main.shop.recp")  # close to main.shop.reco
    assert page.inner_text("h1") == "Not found"
    assert page.inner_text("#message") == "model 'main.shop.recp' does not exist."
    response = page.goto(server.url + f"/models/{MODEL}/versions/9")
    assert response.status == 404 and "version 9 of model main.shop.reco does not exist" in page.inner_text("#message")
    response = page.goto(server.url + f"/models/{MODEL}/versions/abc")
    assert response.status == 400 and "after '/' comes a version number" in page.inner_text("#message")
    assert "Traceback" not in page.content()


def test_a_model_description_with_a_script_is_shown_as_text(page, server, tokens):
    as_user(page, server, tokens, "ana", "/models")
    assert XSS in [row[4] for row in table_text(page, "#models")]
    page.goto(server.url + "/models/main.shop.notes")
    assert page.inner_text(".comment") == XSS
    assert table_text(page, "#versions") == [["No versions yet."]]
    assert page.locator("main script, main img").count() == 0
    assert page.evaluate("window.__xss === undefined")


# -- endpoints ------------------------------------------------------------------------------------


def _invoke(server, token: str, X: pd.DataFrame) -> str:
    response = httpx.post(
        f"{server.url}/serving/reco/invocations",
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
        json={"dataframe_split": X.to_dict(orient="split", index=False)},
    )
    assert response.status_code == 200, response.text
    return response.headers["X-Request-Id"]


def test_the_endpoint_page_shows_traffic_split_and_the_newest_inference_rows(page, server, tokens, app, lake):
    sent = {_invoke(server, tokens["alice"], lake["X"].head(n)) for n in (1, 2)}
    app.state.serving.wait_for_shadows()
    app.state.serving.flush()
    as_user(page, server, tokens, "alice", "/endpoints")
    assert table_text(page, "#endpoints") == [
        ["reco", MODEL, "@champion 80%, @1 20%", "@1", "main.shop.reco_inference", "alice"]
    ]
    with page.expect_navigation():
        page.click("#endpoints >> text=reco")
    assert page.inner_text("#url") == "POST /serving/reco/invocations"
    assert page.inner_text("#owner") == "alice" and page.inner_text("#model") == MODEL
    assert table_text(page, "#traffic") == [["@champion", "80%", "version 2"], ["@1", "20%", "version 1"]]
    assert "@1 (version 1)" in page.inner_text("#shadow")
    header = [th.inner_text() for th in page.query_selector_all("#inferences thead th")]
    rows = [dict(zip(header, row, strict=True)) for row in table_text(page, "#inferences")]
    answered = [r for r in rows if r["shadow"] == "False"]
    assert {r["request_id"] for r in answered} == sent
    assert {r["principal"] for r in rows} == {"alice"} and {r["status_code"] for r in answered} == {"200"}
    assert sorted(len(json.loads(r["response"])["predictions"]) for r in answered) == [1, 2]
    assert {r["variant"] for r in rows if r["shadow"] == "True"} == {"1"}


def test_the_endpoint_page_shows_the_refusal_instead_of_rows_the_caller_may_not_read(page, server, tokens):
    response = as_user(page, server, tokens, "ana", "/endpoints/reco")
    assert response.status == 200 and table_text(page, "#traffic")[0][:2] == ["@champion", "80%"]
    assert "ana lacks SELECT on table main.shop.reco_inference" in page.inner_text("#inference-error")
    assert not page.is_visible("#inferences")


def test_endpoints_are_hidden_from_users_without_execute_on_their_model(page, server, tokens):
    as_user(page, server, tokens, "bob", "/endpoints")
    assert table_text(page, "#endpoints") == [["No endpoints you may use."]]
    response = page.goto(server.url + "/endpoints/reco")
    assert response.status == 403 and f"bob lacks EXECUTE on model {MODEL}" in page.inner_text("#message")
    response = page.goto(server.url + "/endpoints/nope")
    assert response.status == 404 and "serving endpoint 'nope' does not exist" in page.inner_text("#message")
    response = page.goto(server.url + "/endpoints/Bad!")
    assert response.status == 400 and "invalid endpoint name" in page.inner_text("#message")
