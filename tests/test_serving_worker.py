"""Model processes: a served version is loaded and scored in a child process, over JSON frames."""

from __future__ import annotations

import json
import os
import sys

import cloudpickle
import pandas as pd
import pytest

from glashaus.errors import InvalidArgumentError, ServiceUnavailableError
from glashaus.serving.worker import ModelProcess

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def split(rows):
    return {"dataframe_split": {"columns": ["a", "b"], "data": rows}}


def _noisy_model():
    import mlflow.pyfunc

    class Noisy(mlflow.pyfunc.PythonModel):
        """Doubles column a, printing as it goes (as some models do)."""

        def predict(self, context, model_input, params=None):
            print("scoring", len(model_input), "rows")
            return (model_input["a"] * 2).tolist()

    return Noisy()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the child cannot import this test module
    path = tmp_path_factory.mktemp("models") / "noisy"
    example = pd.DataFrame({"a": [1.0], "b": [2.0]})
    mlflow.pyfunc.save_model(path, python_model=_noisy_model(), signature=infer_signature(example, [2.0]))
    return str(path)


@pytest.fixture(scope="module")
def model(folder):
    process = ModelProcess.start(folder, ref="main.shop.noisy/1")
    try:
        yield process
    finally:
        process.close()


def test_each_payload_gets_its_answer_even_from_a_model_that_prints(model):
    answers = model.score([split([[1.0, 0.0]]), split([[2.0, 0.0], [3.0, 0.0]])])
    assert [json.loads(a) for a in answers] == [{"predictions": [2.0]}, {"predictions": [4.0, 6.0]}]


def test_a_bad_payload_gets_its_own_error_and_the_others_their_answers(model):
    answers = model.score(
        [split([[1.0, 0.0]]), split([["x", 0.0]]), {"dataframe_records": [{"b": 1.0}]}, {"rows": [[1.0, 0.0]]}]
    )
    assert json.loads(answers[0]) == {"predictions": [2.0]}
    assert all(isinstance(a, InvalidArgumentError) for a in answers[1:])
    assert "signature" in str(answers[1]) and "a" in str(answers[2])
    assert "dataframe_split" in str(answers[3])  # an unknown format names the known ones


def test_a_folder_that_is_no_model_is_an_error_naming_the_version(tmp_path):
    with pytest.raises(InvalidArgumentError, match=r"MLflow cannot load model main.shop.broken/1"):
        ModelProcess.start(str(tmp_path), ref="main.shop.broken/1")


def test_a_process_that_stopped_is_a_503_and_no_longer_alive(folder):
    process = ModelProcess.start(folder, ref="main.shop.noisy/1")
    process._proc.kill()
    process._proc.wait()
    with pytest.raises(ServiceUnavailableError, match=r"main.shop.noisy/1 stopped.*retry"):
        process.score([split([[1.0, 0.0]])])
    assert not process.alive
    process.close()


def test_closing_stops_the_process(folder):
    process = ModelProcess.start(folder, ref="main.shop.noisy/1")
    process.close()
    assert process._proc.returncode == 0 and not process.alive
