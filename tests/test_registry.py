"""The model registry: versions, aliases and their history, rights, lineage, model files, trust.

Real parts throughout: a real lakehouse per test, tiny scikit-learn models saved with
mlflow-skinny's flavors, and MLflow's own loader reading the folders back.
"""

from __future__ import annotations

import json
import os
import platform
import re
import warnings

import numpy as np
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from glashaus.errors import (
    InvalidArgumentError,
    InvalidNameError,
    NotFoundError,
    PermissionDeniedError,
)

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# MLflow's own advice when these tests save folders with it directly (not the registry's output).
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:mlflow.*", "ignore:Operation with range:Warning")

MODEL = "main.shop.reco"
TRAIN = "main.shop.train"


def _data(n: int = 60, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    return pa.table({"id": np.arange(n), "x1": x1, "x2": x2, "y": (x1 + 0.5 * x2 > 0).astype("int64")})


def _fit(data: pa.Table, c: float = 1.0) -> LogisticRegression:
    return LogisticRegression(C=c).fit(data.select(["x1", "x2"]).to_pandas(), data["y"].to_numpy())


def _x(data: pa.Table):
    return data.select(["x1", "x2"]).to_pandas()


@pytest.fixture
def trained(shop):
    """main.shop.train with 60 rows; returns (lakehouse, data, fitted model)."""
    data = _data()
    shop.create_table(TRAIN, data=data)
    return shop, data, _fit(data)


def _register(lh, model, data, **kwargs):
    return lh.models.register(model, MODEL, training_set=TRAIN, input_example=_x(data).head(3), **kwargs)


def _audit(lh, action: str) -> list[dict]:
    lh.flush()
    return lh.sql(
        "SELECT principal, action, privilege, securable, decision, reason FROM system.access.audit "
        f"WHERE action = '{action}' ORDER BY event_time"
    ).to_pylist()


def _upload(lh, folder: str, volume: str, prefix: str) -> str:
    """Put every file of a local folder into a volume (as a user uploading a saved model would)."""
    for base, _, files in os.walk(folder):
        for name in files:
            rel = os.path.relpath(os.path.join(base, name), folder)
            with open(os.path.join(base, name), "rb") as f:
                lh.put_file(volume, f"{prefix}/{rel}", f.read())
    catalog, schema, vol = volume.split(".")
    return f"/Volumes/{catalog}/{schema}/{vol}/{prefix}"


def _double(x):
    """A function of this test module: skops does not trust it, so the model falls back to a pickle."""
    return x * 2


# -- versions, signature, files --------------------------------------------------------------------


def test_register_records_signature_example_environment_commit_and_mlmodel_folder(trained):
    lh, data, model = trained
    mv = _register(lh, model, data, description="first try", tags={"stage": "dev"})
    assert (mv.name, mv.version, mv.status, mv.description, mv.tags) == (
        MODEL,
        1,
        "READY",
        "first try",
        {"stage": "dev"},
    )
    assert [c["name"] for c in json.loads(mv.signature["inputs"])] == ["x1", "x2"]
    assert mv.input_example["columns"] == ["x1", "x2"] and len(mv.input_example["data"]) == 3
    assert mv.file_format == "skops" and "sklearn" in mv.flavors
    assert mv.environment["packages"]["scikit-learn"] and mv.environment["python"].count(".") == 2
    assert re.fullmatch(r"[0-9a-f]{40}", mv.code_commit)  # the tests run inside the project's git checkout
    assert mv.training_set == [{"name": TRAIN, "kind": "table", "version": 1, "role": "input"}]
    model_id = lh.get(MODEL).id
    assert mv.storage_location == f"{lh.root}/models/main/shop/reco-{model_id[:8]}/versions/1"
    assert {"MLmodel", "model.skops", "requirements.txt"} <= {f.path for f in lh.models.files(f"{MODEL}/1")}
    assert b"serialization_format: skops" in lh.models.read_file(f"{MODEL}/1", "MLmodel")


def test_any_mlflow_tool_loads_the_saved_folder(trained):
    import mlflow.pyfunc

    lh, data, model = trained
    mv = _register(lh, model, data)
    plain = mlflow.pyfunc.load_model(mv.storage_location)
    np.testing.assert_array_equal(plain.predict(_x(data)), model.predict(_x(data)))
    np.testing.assert_array_equal(lh.models.load(f"{MODEL}/1").predict(_x(data)), model.predict(_x(data)))


def test_code_commit_is_none_outside_a_git_repository(trained, tmp_path, monkeypatch):
    lh, data, model = trained
    monkeypatch.chdir(tmp_path)
    assert _register(lh, model, data).code_commit is None


def test_versions_count_up_and_every_reference_form_resolves(trained):
    lh, data, model = trained
    _register(lh, model, data)
    _register(lh, _fit(data, c=0.1), data)
    assert [v.version for v in lh.models.versions(MODEL)] == [2, 1]
    assert lh.models.get(MODEL).latest_version == 2
    lh.models.set_alias(MODEL, "champion", 1)
    for ref, expected in [
        (f"{MODEL}/1", 1),
        (f"{MODEL}@2", 2),
        (f"{MODEL}@v1", 1),
        (f"{MODEL}/latest", 2),
        (MODEL, 2),
        (f"{MODEL}@champion", 1),
        (f"models:/{MODEL}@champion", 1),
        (f"models:/{MODEL}/2", 2),
    ]:
        assert lh.models.version(ref).version == expected, ref
    assert lh.models.version(f"{MODEL}/1").aliases == ["champion"]
    with pytest.raises(NotFoundError, match=r"version 7 of model main.shop.reco does not exist; its latest version is"):
        lh.models.load(f"{MODEL}/7")
    with pytest.raises(NotFoundError, match="no alias 'challenger'; its aliases are champion"):
        lh.models.load(f"{MODEL}@challenger")


def test_model_is_a_securable_with_description_and_tags(trained):
    lh, data, model = trained
    lh.models.create(MODEL, description="Plants a buyer may like.", tags={"team": "reco"})
    secured = lh.get(MODEL)
    assert (secured.kind, secured.comment, secured.tags) == ("model", "Plants a buyer may like.", {"team": "reco"})
    lh.models.set_description(MODEL, "Recommends plants.")
    lh.models.set_tags(MODEL, {"tier": "gold"})
    described = lh.models.get(MODEL)
    assert (described.description, described.tags) == ("Recommends plants.", {"team": "reco", "tier": "gold"})
    _register(lh, model, data)
    lh.models.set_description(MODEL, "v1 baseline", version=1)
    lh.models.set_tags(MODEL, {"validated": "yes"}, version=1)
    assert lh.models.version(f"{MODEL}/1").description == "v1 baseline"
    assert lh.models.version(f"{MODEL}/1").tags == {"validated": "yes"}
    assert [m.name for m in lh.models.list("main.shop")] == [MODEL]
    with pytest.raises(InvalidArgumentError, match="tag"):
        lh.models.set_tags(MODEL, {"x" * 300: "too long a key"}, version=1)


# -- aliases -------------------------------------------------------------------------------------


def test_alias_moves_are_kept_with_who_when_why_and_rollback_walks_them_back(trained):
    lh, data, _model = trained
    for c in (1.0, 0.5, 0.1):
        _register(lh, _fit(data, c), data)
    lh.models.set_alias(MODEL, "champion", 1, reason="baseline")
    lh.models.set_alias(MODEL, "champion", 2, reason="better AUC")
    lh.models.set_alias(MODEL, "champion", 3, reason="even better")
    history = lh.models.alias_history(MODEL, alias="champion")
    assert [(h.action, h.from_version, h.to_version, h.principal, h.reason) for h in history] == [
        ("set", 2, 3, "alice", "even better"),
        ("set", 1, 2, "alice", "better AUC"),
        ("set", None, 1, "alice", "baseline"),
    ]
    assert history[0].event_time >= history[-1].event_time

    move = lh.models.rollback(MODEL, "champion", reason="conversion dropped")
    assert (move.action, move.from_version, move.to_version, move.reason) == ("rollback", 3, 2, "conversion dropped")
    assert lh.models.version(f"{MODEL}@champion").version == 2
    assert lh.models.rollback(MODEL, "champion").to_version == 1
    with pytest.raises(InvalidArgumentError, match="no earlier version to roll back to"):
        lh.models.rollback(MODEL, "champion")

    lh.models.delete_alias(MODEL, "champion", reason="retired")
    with pytest.raises(NotFoundError):
        lh.models.version(f"{MODEL}@champion")
    assert lh.models.rollback(MODEL, "champion").to_version == 1  # a rollback undoes the delete
    assert [h.action for h in lh.models.alias_history(MODEL)][:3] == ["rollback", "delete", "rollback"]
    assert any(e["decision"] == "allow" for e in _audit(lh, "model.alias.rollback"))


def test_alias_names_follow_mlflow_rules(trained):
    lh, data, model = trained
    _register(lh, model, data)
    for bad in ("latest", "v3", "two words", "3", "x" * 300):
        with pytest.raises(InvalidArgumentError, match="alias"):
            lh.models.set_alias(MODEL, bad, 1)
    with pytest.raises(NotFoundError, match="version 5 of model"):
        lh.models.set_alias(MODEL, "champion", 5)


def test_deleting_a_version_removes_its_aliases_with_history_and_never_reuses_its_number(trained):
    lh, data, model = trained
    _register(lh, model, data)
    _register(lh, model, data)
    lh.models.set_alias(MODEL, "champion", 2)
    lh.models.delete_version(MODEL, 2)
    assert [v.version for v in lh.models.versions(MODEL)] == [1]
    assert lh.models.get(MODEL).aliases == {}
    assert lh.models.alias_history(MODEL)[0].reason == "version 2 was deleted"
    with pytest.raises(InvalidArgumentError, match="back to version 2: that version was deleted"):
        lh.models.rollback(MODEL, "champion")
    assert _register(lh, model, data).version == 3


# -- rights and audit ------------------------------------------------------------------------------


@pytest.fixture
def team(trained):
    """alice owns main.shop.reco (v1, v2); bob may use the schema; carol too, and has EXECUTE on the model."""
    lh, data, model = trained
    _register(lh, model, data)
    _register(lh, model, data)
    lh.models.set_alias(MODEL, "champion", 1)
    for user in ("bob", "carol"):
        lh.create_user(user)
        lh.grant("USE SCHEMA", on="main.shop", to=user)
    lh.grant("EXECUTE", on=MODEL, to="carol")
    return lh, data


def test_creating_a_model_needs_create_model_on_the_schema(team):
    lh, _data = team
    with lh.as_user("bob") as bob:
        with pytest.raises(PermissionDeniedError, match=r"bob lacks CREATE MODEL on schema main.shop"):
            bob.models.create("main.shop.bobs")
        lh.grant("CREATE MODEL", on="main.shop", to="bob")
        assert bob.models.create("main.shop.bobs").owner == "bob"
    assert [e["decision"] for e in _audit(lh, "model.create") if e["principal"] == "bob"] == ["deny", "allow"]


def test_without_execute_nobody_loads_sees_or_scores_and_each_attempt_is_audited(team):
    lh, data = team
    with lh.as_user("bob") as bob:
        with pytest.raises(PermissionDeniedError, match=r"bob lacks EXECUTE on model main.shop.reco"):
            bob.models.load(f"{MODEL}@champion")
        with pytest.raises(PermissionDeniedError, match="EXECUTE"):
            bob.models.versions(MODEL)
        assert bob.models.list("main.shop") == []
    denied = [e for e in _audit(lh, "model.load") if e["principal"] == "bob"]
    assert denied == [
        {
            "principal": "bob",
            "action": "model.load",
            "privilege": "EXECUTE",
            "securable": MODEL,
            "decision": "deny",
            "reason": denied[0]["reason"],
        }
    ]
    with lh.as_user("carol") as carol:
        assert carol.models.load(f"{MODEL}@champion").predict(_x(data)).shape == (60,)


def test_only_owners_and_managers_add_versions_and_move_aliases(team):
    lh, data = team
    with lh.as_user("carol") as carol:
        with pytest.raises(PermissionDeniedError, match=r"carol lacks MANAGE on model main.shop.reco"):
            carol.models.set_alias(MODEL, "champion", 2, reason="mine is better")
        with pytest.raises(PermissionDeniedError, match="MANAGE"):
            carol.models.rollback(MODEL, "champion")
        with pytest.raises(PermissionDeniedError, match="MANAGE"):
            carol.models.register(_fit(data), MODEL)
        with pytest.raises(PermissionDeniedError, match="MANAGE"):
            carol.models.set_description(MODEL, "hijacked")
        assert lh.models.version(f"{MODEL}@champion").version == 1
        assert [v.version for v in carol.models.versions(MODEL)] == [2, 1]
        lh.grant("MANAGE", on=MODEL, to="carol")
        assert carol.models.set_alias(MODEL, "champion", 2).principal == "carol"
    assert [e["decision"] for e in _audit(lh, "model.alias.set") if e["principal"] == "carol"] == ["deny", "allow"]


# -- lineage ------------------------------------------------------------------------------------------


def test_lineage_walks_from_the_model_to_the_raw_tables_and_back(shop):
    lh = shop
    lh.create_table("main.shop.raw", data=_data(80))
    lh.sql("CREATE TABLE main.shop.clean AS SELECT * FROM main.shop.raw WHERE x1 IS NOT NULL")
    lh.create_table("main.shop.feats", data=pa.table({"id": np.arange(80), "f": np.ones(80)}))
    lh.write("main.shop.feats", pa.table({"id": [80], "f": [2.0]}))  # feats is at version 2 now
    data = lh.read("main.shop.clean")
    mv = lh.models.register(
        _fit(data),
        MODEL,
        input_example=_x(data).head(2),
        training_set={"tables": ["main.shop.clean"], "features": ["main.shop.feats@v1"]},
    )
    assert mv.training_set == [
        {"name": "main.shop.clean", "kind": "table", "version": 1, "role": "input"},
        {"name": "main.shop.feats", "kind": "table", "version": 1, "role": "feature"},
    ]
    up = {(e.source, e.source_version, e.target, e.target_version, e.depth) for e in lh.lineage(MODEL)}
    assert up == {
        ("main.shop.clean", 1, MODEL, 1, 1),
        ("main.shop.feats", 1, MODEL, 1, 1),
        ("main.shop.raw", 1, "main.shop.clean", 1, 2),
    }
    down = lh.lineage("main.shop.raw", direction="downstream")
    assert ("main.shop.clean", MODEL, "model.register") in {(e.source, e.target, e.operation) for e in down}

    lh.create_user("carol")
    lh.grant("USE SCHEMA", on="main.shop", to="carol")
    lh.grant("EXECUTE", on=MODEL, to="carol")
    with lh.as_user("carol") as carol:  # sees the model, not the tables behind it
        assert {e.source for e in carol.lineage(MODEL)} == {"(restricted)"}


def test_training_set_needs_select_and_an_existing_version_and_a_refusal_leaves_no_model(trained):
    lh, _data, model = trained
    lh.create_user("bob")
    for privilege in ("USE SCHEMA", "CREATE MODEL"):
        lh.grant(privilege, on="main.shop", to="bob")
    with lh.as_user("bob") as bob, pytest.raises(PermissionDeniedError, match=f"bob lacks SELECT on table {TRAIN}"):
        bob.models.register(model, "main.shop.bobs", training_set=TRAIN)
    with pytest.raises(NotFoundError, match="version 9 does not exist"):
        lh.models.register(model, "main.shop.other", training_set=f"{TRAIN}@v9")
    with pytest.raises(InvalidArgumentError, match="training_set keys"):
        lh.models.register(model, "main.shop.other", training_set={"inputs": [TRAIN]})
    assert lh.list("main.shop", kind="model") == []


# -- trust: pickles, skops types, sources ---------------------------------------------------------


@pytest.fixture
def uploads(trained):
    lh, data, model = trained
    lh.create_volume("main.shop.uploads")
    return lh, data, model


def test_pickled_upload_is_refused_until_an_admin_trusts_exactly_those_files(uploads, tmp_path):
    import mlflow.sklearn

    lh, data, model = uploads
    folder = str(tmp_path / "saved")
    mlflow.sklearn.save_model(
        model,
        folder,
        serialization_format="cloudpickle",
        input_example=_x(data).head(2),
        pip_requirements=["scikit-learn"],
    )
    source = _upload(lh, folder, "main.shop.uploads", "reco-pickle")
    mv = lh.models.register_files(source, MODEL, training_set=TRAIN)
    assert (mv.file_format, mv.trusted, mv.source) == ("pickle", False, source)
    with pytest.raises(PermissionDeniedError, match=r"pickled files \(model.pkl\).*set_trusted\('main.shop.reco', 1\)"):
        lh.models.load(f"{MODEL}/1")
    assert [e["decision"] for e in _audit(lh, "model.load")] == ["allow", "deny"]

    lh.create_user("bob")
    with lh.as_user("bob") as bob, pytest.raises(PermissionDeniedError, match="admins"):
        bob.models.set_trusted(MODEL, 1)
    assert lh.models.set_trusted(MODEL, 1).trusted_by == "alice"
    np.testing.assert_array_equal(lh.models.load(f"{MODEL}/1").predict(_x(data)), model.predict(_x(data)))

    with open(os.path.join(mv.storage_location, "model.pkl"), "ab") as f:  # files swapped after the review
        f.write(b"\0")
    with pytest.raises(PermissionDeniedError, match="files changed since alice trusted them"):
        lh.models.load(f"{MODEL}/1")


def test_skops_upload_whose_mlmodel_trusts_foreign_types_is_refused(uploads, tmp_path):
    """MLflow would load it (the allow-list is in the uploaded MLmodel); the registry reads the file itself."""
    import mlflow.sklearn

    lh, data, _model = uploads
    risky = make_pipeline(FunctionTransformer(_double), LogisticRegression()).fit(_x(data), data["y"].to_numpy())
    folder = str(tmp_path / "saved")
    import skops.io

    foreign = skops.io.get_untrusted_types(data=skops.io.dumps(risky))
    mlflow.sklearn.save_model(
        risky, folder, serialization_format="skops", skops_trusted_types=foreign, pip_requirements=["scikit-learn"]
    )
    mv = lh.models.register_files(_upload(lh, folder, "main.shop.uploads", "risky"), MODEL)
    assert mv.file_format == "pickle"
    with pytest.raises(PermissionDeniedError, match=r"types outside scikit-learn \(.*_double"):
        lh.models.load(f"{MODEL}/1")


def test_estimators_skops_cannot_write_safely_fall_back_to_cloudpickle_and_need_trust(trained):
    lh, data, _ = trained
    risky = make_pipeline(FunctionTransformer(_double), LogisticRegression()).fit(_x(data), data["y"].to_numpy())
    with pytest.warns(UserWarning, match="saved with cloudpickle"):
        mv = lh.models.register(risky, MODEL, input_example=_x(data).head(2))
    assert mv.file_format == "pickle"
    with pytest.raises(PermissionDeniedError, match="trust"):
        lh.models.load(MODEL)
    lh.models.set_trusted(MODEL, 1)
    np.testing.assert_array_equal(lh.models.load(MODEL).predict(_x(data)), risky.predict(_x(data)))


def test_python_models_are_pickles_and_need_trust(trained):
    import mlflow.pyfunc

    class Constant(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return np.zeros(len(model_input))

    lh, data, _ = trained
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mv = lh.models.register(Constant(), MODEL, input_example=_x(data).head(2))
    assert (mv.file_format, mv.flavors) == ("pickle", ["python_function"])
    with pytest.raises(PermissionDeniedError, match=r"python_model|runs the model's own code"):
        lh.models.load(MODEL)


def test_sources_outside_managed_storage_are_refused_and_audited(uploads, tmp_path):
    import mlflow.sklearn

    lh, _data, model = uploads
    outside = str(tmp_path / "elsewhere")
    mlflow.sklearn.save_model(model, outside, pip_requirements=["scikit-learn"])
    with pytest.raises(InvalidArgumentError, match="outside the lakehouse's managed storage"):
        lh.models.register_files(outside, MODEL)
    with pytest.raises(InvalidArgumentError, match="not an absolute path"):
        lh.models.register_files("elsewhere", MODEL)
    table_folder = lh.get(TRAIN).storage_location
    with pytest.raises(InvalidArgumentError, match="lies in no volume, registered model or experiment"):
        lh.models.register_files(table_folder, MODEL)
    os.makedirs(lh.get("main.shop.uploads").storage_location)
    os.symlink(outside, os.path.join(lh.get("main.shop.uploads").storage_location, "link"))
    with pytest.raises(InvalidArgumentError, match="outside the lakehouse's managed storage"):
        lh.models.register_files(lh.get("main.shop.uploads").storage_location + "/link", MODEL)
    refused = _audit(lh, "model.version.create")
    assert [e["decision"] for e in refused] == ["deny"] * 4 and all("refused" in e["reason"] for e in refused)
    assert lh.list("main.shop", kind="model") == []  # nothing was created along the way


def test_path_traversal_in_names_paths_and_mlmodel_is_refused(uploads, tmp_path):
    import mlflow.sklearn

    lh, data, model = uploads
    for bad in ("/Volumes/main/shop/uploads/../../../etc", f"{lh.root}/volumes/../../x", "/Volumes/main/shop/x\x00"):
        with pytest.raises(InvalidArgumentError, match=r"'..'|NUL"):
            lh.models.register_files(bad, MODEL)
    for name in ("main.shop.../x", "main/shop/reco", "main.shop.reco/../x"):
        with pytest.raises(InvalidNameError):
            lh.models.register(model, name)
    _register(lh, model, data)
    with pytest.raises(InvalidArgumentError, match=r"'\.\.'"):
        lh.models.read_file(f"{MODEL}/1", "../../../_metastore.db")

    folder = str(tmp_path / "crafted")
    mlflow.sklearn.save_model(model, folder, pip_requirements=["scikit-learn"])
    mlmodel = os.path.join(folder, "MLmodel")
    with open(mlmodel) as f:
        text = f.read()
    with open(mlmodel, "w") as f:
        f.write(text.replace("model_path: model.skops", "model_path: ../../../../../tmp/evil.skops"))
    with pytest.raises(InvalidArgumentError, match="outside the model folder"):
        lh.models.register_files(_upload(lh, folder, "main.shop.uploads", "crafted"), MODEL)


def test_a_folder_with_a_symbolic_link_is_refused(uploads, tmp_path):
    import mlflow.sklearn

    lh, _data, model = uploads
    folder = os.path.join(lh.get("main.shop.uploads").storage_location, "linked")
    mlflow.sklearn.save_model(model, folder, pip_requirements=["scikit-learn"])
    os.symlink("/etc/hostname", os.path.join(folder, "extra.txt"))
    with pytest.raises(InvalidArgumentError, match="symbolic link"):
        lh.models.register_files("/Volumes/main/shop/uploads/linked", MODEL)


def test_reading_a_volume_source_needs_read_volume(uploads, tmp_path):
    import mlflow
    import mlflow.sklearn

    lh, _data, model = uploads
    folder = str(tmp_path / "saved")
    mlflow.sklearn.save_model(model, folder, pip_requirements=["scikit-learn"])
    source = _upload(lh, folder, "main.shop.uploads", "reco")
    lh.create_user("bob")
    for privilege in ("USE SCHEMA", "CREATE MODEL"):
        lh.grant(privilege, on="main.shop", to="bob")
    with lh.as_user("bob") as bob:
        with pytest.raises(PermissionDeniedError, match=r"bob lacks READ VOLUME on volume main.shop.uploads"):
            bob.models.register_files(source, "main.shop.bobs")
        lh.grant("READ VOLUME", on="main.shop.uploads", to="bob")
        mv = bob.models.register_files(source, "main.shop.bobs")
    assert (mv.file_format, mv.created_by) == ("skops", "bob")
    assert mv.environment == {"python": platform.python_version(), "packages": {"mlflow": mlflow.__version__}}


def test_failed_registrations_leave_no_model_and_no_version(uploads, tmp_path):
    lh, data, model = uploads
    with pytest.raises(InvalidArgumentError, match=r"cannot register a builtins.dict"):
        lh.models.register({"not": "a model"}, MODEL)
    with pytest.raises(InvalidArgumentError, match=r"signature= must be an mlflow.models.ModelSignature"):
        lh.models.register(model, MODEL, signature="x1 double")
    lh.put_file("main.shop.uploads", "empty/readme.txt", b"no model here")
    with pytest.raises(InvalidArgumentError, match="no MLmodel file"):
        lh.models.register_files("/Volumes/main/shop/uploads/empty", MODEL)
    assert lh.list("main.shop", kind="model") == []
    _register(lh, model, data)
    with pytest.raises(InvalidArgumentError, match="no MLmodel file"):
        lh.models.register_files("/Volumes/main/shop/uploads/empty", MODEL)
    assert [v.version for v in lh.models.versions(MODEL)] == [1]
    assert os.listdir(os.path.dirname(lh.models.version(MODEL).storage_location)) == ["1"]


# -- native formats (run where LightGBM / XGBoost are installed) ----------------------------------


def test_lightgbm_booster_is_saved_natively_and_loads_without_trust(trained):
    lgb = pytest.importorskip("lightgbm")
    lh, data, _ = trained
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 4},
        lgb.Dataset(_x(data), label=data["y"].to_numpy()),
        num_boost_round=3,
    )
    mv = lh.models.register(booster, MODEL, input_example=_x(data).head(2))
    assert (mv.file_format, "lightgbm" in mv.flavors) == ("native", True)
    np.testing.assert_allclose(lh.models.load(MODEL).predict(_x(data)), booster.predict(_x(data)))


def test_xgboost_model_is_saved_natively_and_loads_without_trust(trained):
    xgb = pytest.importorskip("xgboost")
    lh, data, _ = trained
    clf = xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(_x(data), data["y"].to_numpy())
    mv = lh.models.register(clf, MODEL, input_example=_x(data).head(2))
    assert (mv.file_format, "xgboost" in mv.flavors) == ("native", True)
    np.testing.assert_array_equal(lh.models.load(MODEL).predict(_x(data)), clf.predict(_x(data)))


# -- PostgreSQL metastore --------------------------------------------------------------------------


def test_the_registry_works_on_a_postgresql_metastore(tmp_path, pg_database):
    import glashaus

    with glashaus.connect(tmp_path / "lh", user="alice", metastore=pg_database) as lh:
        lh.create_schema("main.shop")
        data = _data()
        lh.create_table(TRAIN, data=data)
        for c in (1.0, 0.1):
            _register(lh, _fit(data, c), data, tags={"c": str(c)})
        lh.models.set_alias(MODEL, "champion", 1, reason="baseline")
        lh.models.set_alias(MODEL, "champion", 2)
        assert lh.models.rollback(MODEL, "champion").to_version == 1
        assert lh.models.version(f"{MODEL}@champion").tags == {"c": "1.0"}
        assert [m.action for m in lh.models.alias_history(MODEL)] == ["rollback", "set", "set"]
        lh.models.delete(MODEL)
        assert lh.models.list() == []


# -- object store ----------------------------------------------------------------------------------

from tests.test_object_store import s3  # noqa: E402,F401  (a local moto S3 server)


def test_model_files_live_in_the_object_store_and_load_from_there(s3, tmp_path):  # noqa: F811
    import mlflow.sklearn

    import glashaus

    with glashaus.connect("s3://lake/models", user="alice", metastore=f"sqlite:///{tmp_path / 'meta.db'}") as lh:
        lh.create_schema("main.shop")
        data = _data()
        lh.create_table(TRAIN, data=data)
        model = _fit(data)
        mv = _register(lh, model, data)
        assert mv.storage_location.startswith("s3://lake/models/models/main/shop/reco-")
        assert "MLmodel" in {f.path for f in lh.models.files(MODEL)}
        np.testing.assert_array_equal(lh.models.load(MODEL).predict(_x(data)), model.predict(_x(data)))
        lh.create_volume("main.shop.uploads")
        folder = str(tmp_path / "saved")
        mlflow.sklearn.save_model(model, folder, pip_requirements=["scikit-learn"])
        source = _upload(lh, folder, "main.shop.uploads", "reco")
        assert lh.models.register_files(source, MODEL).file_format == "skops"
        assert (
            lh.models.register_files(
                f"s3://lake/models/volumes/main/shop/uploads-{lh.get('main.shop.uploads').id[:8]}/reco", MODEL
            ).version
            == 3
        )
        with pytest.raises(InvalidArgumentError, match="outside the lakehouse's managed storage"):
            lh.models.register_files("s3://lake/elsewhere/reco", MODEL)


def test_model_files_missing_from_storage_are_a_storage_error_naming_the_version(trained):
    import os

    from glashaus.errors import StorageError
    from glashaus.serving.worker import ModelProcess

    lh, data, model = trained
    mv = _register(lh, model, data)
    os.remove(os.path.join(mv.storage_location, "model.skops"))
    with pytest.raises(StorageError, match="skops file cannot be read from storage"):
        lh.models.load(f"{MODEL}/1")  # the registry's check reads it first
    with pytest.raises(StorageError, match=rf"model {MODEL}/1 cannot be read from managed storage"):
        ModelProcess.start(mv.storage_location, ref=f"{MODEL}/1")  # MLflow's load, in a model process
    os.remove(os.path.join(mv.storage_location, "MLmodel"))
    with pytest.raises(StorageError, match=rf"stored files of model {MODEL}/1 are no longer a model.*admin"):
        lh.models.score(f"{MODEL}/1", table=TRAIN, output="main.shop.never")
    assert "main.shop.never" not in {t.full_name for t in lh.list("main.shop")}  # nothing half-written
