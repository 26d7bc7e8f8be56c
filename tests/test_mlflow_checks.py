"""MLflow's input rules as Glashaus's own code (``glashaus.mlflow_checks``), run names, ``models:/`` URIs.

Each rule is pinned on values just inside and just outside it, with the error a user
sees: ``InvalidArgumentError``, code ``INVALID_PARAMETER_VALUE`` (MLflow's code), and a
message naming the field, the value and the limit or the allowed characters.
"""

from __future__ import annotations

import decimal
import logging
import random
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from glashaus import mlflow_checks as checks
from glashaus.errors import GlashausError, InvalidArgumentError, InvalidNameError
from glashaus.registry.refs import check_alias, logged_model_id, parse_ref
from glashaus.tracking.run_names import ADJECTIVES, NOUNS, memorable_name


def refused(call, *words: str) -> str:
    """The message of the InvalidArgumentError ``call`` raises; each of ``words`` must be in it."""
    with pytest.raises(InvalidArgumentError) as err:
        call()
    assert err.value.code == "INVALID_PARAMETER_VALUE"
    message = str(err.value)
    for word in words:
        assert word in message, (word, message)
    return message


# -- keys of params, metrics and tags -------------------------------------------------------------


@pytest.mark.parametrize("key", ["lr", "train/loss", "a b", "x:y", "a.b-c_d", "größe", "k" * 250, "a..b"])
def test_keys_with_allowed_characters_are_accepted(key):
    assert checks.check_key(key, kind="param") == key


@pytest.mark.parametrize(
    ("key", "bad"), [("bad\tkey", "\\t"), ("a!b", "!"), ("a,b;c", ",;"), ("x\\y", "\\\\"), ("a\nb", "\\n")]
)
def test_keys_with_other_characters_are_refused_naming_them(key, bad):
    refused(
        lambda: checks.check_key(key, kind="tag", path="tags[2].key"),
        "Invalid tag key",
        "tags[2].key",
        f"contains '{bad}'",
        "Names may only contain",
        "slashes (/)",
    )


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("a/../b", "would resolve to 'b'"),
        ("./a", "would resolve to 'a'"),
        ("a/", "would resolve to 'a'"),
        ("a//b", "would resolve to 'a/b'"),
        ("a/./b", "would resolve to 'a/b'"),
        ("/a", "starts with '/'"),
        (".", "to the folder itself"),
        ("..", "starts with '..'"),
        ("../x", "starts with '..'"),
        ("..x", "starts with '..'"),
    ],
)
def test_keys_that_would_name_another_file_are_refused(key, why):
    refused(
        lambda: checks.check_key(key, kind="param"),
        f"Invalid param key {key!r}",
        "must not resolve to other names",
        why,
    )


def test_missing_non_string_and_too_long_keys_are_refused():
    refused(
        lambda: checks.check_key(None, kind="metric", path="name"),
        "Missing value for required parameter 'name'",
        "metric needs a key name",
    )
    refused(lambda: checks.check_key("", kind="param"), "Missing value for required parameter 'key'")
    refused(lambda: checks.check_key(3, kind="param"), "Invalid param key 3", "a key is a string, not int")
    refused(
        lambda: checks.check_key("k" * 251, kind="param"),
        "param key 'kkk",
        "(251 characters)",
        "exceeds the maximum length of 250 characters (it has 251)",
    )


# -- params and run tags: long values are cut by default ---------------------------------------


def test_params_and_run_tags_keep_values_up_to_their_limits():
    assert checks.check_param("lr", "x" * 6000) == "x" * 6000
    assert checks.check_run_tag("note", "x" * 8000) == "x" * 8000
    assert checks.check_param("empty", "") == ""


@pytest.mark.parametrize("setting", [None, "true", "TRUE", "1"])
def test_longer_values_are_cut_with_a_warning_when_truncation_is_on(setting, monkeypatch, caplog):
    if setting is None:
        monkeypatch.delenv(checks.TRUNCATE_ENV, raising=False)
    else:
        monkeypatch.setenv(checks.TRUNCATE_ENV, setting)
    with caplog.at_level(logging.WARNING, logger="glashaus.mlflow_checks"):
        assert checks.check_param("lr", "y" * 6001) == "y" * 6000
        assert checks.check_run_tag("note", "z" * 9000) == "z" * 8000
    assert "cut to the maximum length of 6000 characters" in caplog.text
    assert "cut to the maximum length of 8000 characters" in caplog.text


@pytest.mark.parametrize("setting", ["false", "0", "False"])
def test_longer_values_are_refused_when_truncation_is_off(setting, monkeypatch):
    monkeypatch.setenv(checks.TRUNCATE_ENV, setting)
    refused(
        lambda: checks.check_param("lr", "y" * 6001, path="params[4]"),
        "the value of param 'lr'",
        "params[4].value",
        "exceeds the maximum length of 6000 characters (it has 6001)",
    )
    refused(
        lambda: checks.check_run_tag("note", "z" * 8001),
        "the value of tag 'note'",
        "exceeds the maximum length of 8000 characters",
    )


def test_a_truncation_setting_that_is_no_boolean_says_so(monkeypatch):
    monkeypatch.setenv(checks.TRUNCATE_ENV, "maybe")
    with pytest.raises(GlashausError, match="MLFLOW_TRUNCATE_LONG_VALUES='maybe' is neither true nor false"):
        checks.check_param("lr", "y" * 6001)


def test_param_and_tag_values_must_be_strings():
    refused(lambda: checks.check_param("lr", 0.1), "param 'lr' must have a string value, got float")
    refused(lambda: checks.check_run_tag("t", None), "tag 't' must have a string value, got NoneType")
    refused(lambda: checks.check_param("a/../b", "v", path="params[0]"), "params[0].key", "resolve to 'b'")


# -- metrics --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, 0.5, float("nan"), float("inf"), decimal.Decimal("1.5")])
def test_metric_values_are_any_number(value):
    checks.check_metric("loss", value, 0, 0)


def test_numpy_numbers_are_numbers():
    np = pytest.importorskip("numpy")
    checks.check_metric("loss", np.float32(0.5), np.int64(1_700_000_000_000), np.int64(3))


def test_bad_metric_values_timestamps_and_steps_are_refused():
    refused(lambda: checks.check_metric("m", None, 0, 0), "Missing value for required parameter 'value'")
    refused(lambda: checks.check_metric("m", None, 0, 0, path="metrics[2]"), "'metrics[2].value'")
    for value in (True, "0.3", [1], 1j):
        refused(
            lambda value=value: checks.check_metric("m", value, 0, 0),
            f"Invalid value {value!r}",
            "metric 'm' needs a number (a valid double",
        )
    for ts in (-1, "1", None, float("nan"), float("inf")):
        refused(lambda ts=ts: checks.check_metric("m", 1.0, ts, 0), "'timestamp'", "nonnegative long")
    for step in ("1", None, float("nan")):
        refused(lambda step=step: checks.check_metric("m", 1.0, 0, step), "'step'", "valid long")
    refused(lambda: checks.check_metric(None, 1.0, 0, 0, path="metrics[0]"), "'metrics[0].name'")
    refused(lambda: checks.check_metric("../m", 1.0, 0, 0), "Invalid metric key", "must not resolve")
    refused(lambda: checks.check_metric("m" * 251, 1.0, 0, 0), "metric key", "maximum length of 250")


# -- batches --------------------------------------------------------------------------------------


def test_batches_up_to_the_limits_pass_and_one_more_is_refused():
    checks.check_batch(metrics=1000, params=0, tags=0)
    checks.check_batch(metrics=800, params=100, tags=100)
    refused(lambda: checks.check_batch(metrics=1001, params=0, tags=0), "at most 1000 metrics. Got 1001 metrics")
    refused(lambda: checks.check_batch(metrics=0, params=101, tags=0), "at most 100 params. Got 101")
    refused(lambda: checks.check_batch(metrics=0, params=0, tags=101), "at most 100 tags. Got 101")
    refused(
        lambda: checks.check_batch(metrics=801, params=100, tags=100),
        "at most 1000 metrics, params, and tags. Got 1001",
        "split up",
    )


# -- experiments ----------------------------------------------------------------------------------


def test_experiment_names_are_non_blank_strings_of_at_most_500_characters():
    assert checks.check_experiment_name("main.shop.churn") == "main.shop.churn"
    assert checks.check_experiment_name("x" * 500) == "x" * 500
    for blank in (None, "", "   "):
        refused(
            lambda blank=blank: checks.check_experiment_name(blank),
            "Invalid experiment name",
            "needs a name, e.g. 'main.shop.churn'",
        )
    refused(lambda: checks.check_experiment_name(5), "Invalid experiment name: 5. Expects a string, not int")
    refused(
        lambda: checks.check_experiment_name("x" * 501),
        "experiment name 'xxx",
        "exceeds the maximum length of 500 characters (it has 501)",
    )


def test_experiment_tags_have_key_rules_and_a_20000_character_value_never_cut(monkeypatch):
    monkeypatch.delenv(checks.TRUNCATE_ENV, raising=False)  # truncation on: experiment tags are not cut anyway
    assert checks.check_experiment_tag("team", "v" * 20_000) == "v" * 20_000
    refused(
        lambda: checks.check_experiment_tag("team", "v" * 20_001),
        "the value of experiment tag 'team'",
        "maximum length of 20000 characters (it has 20001)",
    )
    refused(lambda: checks.check_experiment_tag("k" * 251, "v"), "experiment tag key", "maximum length of 250")
    refused(lambda: checks.check_experiment_tag("a/../b", "v"), "Invalid experiment tag key 'a/../b'")
    refused(lambda: checks.check_experiment_tag("t", 3), "experiment tag 't' must have a string value")


# -- registry tags and aliases --------------------------------------------------------------------


def test_registry_tags_allow_100000_character_values():
    assert checks.check_registered_model_tag("team", "v" * 100_000) == "v" * 100_000
    assert checks.check_registered_model_tag("team", None) is None
    assert checks.check_model_version_tag("k" * 250, "") == ""
    refused(
        lambda: checks.check_registered_model_tag("team", "v" * 100_001),
        "the value of registered model tag 'team'",
        "maximum length of 100000 characters",
    )
    refused(lambda: checks.check_model_version_tag("team", "v" * 100_001), "model version tag 'team'", "100000")
    refused(lambda: checks.check_model_version_tag("validated", None), "model version tag 'validated' needs a value")
    refused(
        lambda: checks.check_registered_model_tag("k" * 251, "v"), "registered model tag key", "maximum length of 250"
    )
    refused(
        lambda: checks.check_model_version_tag("a/../b", "v"),
        "Invalid model version tag key 'a/../b'",
        "resolve to 'b'",
    )
    refused(lambda: checks.check_registered_model_tag("bad key!", "v"), "contains '!'", "Names may only contain")


@pytest.mark.parametrize("alias", ["champion", "Champion_2-b", "v", "vx3", "v3a", "latest2", "x" * 255, "größe"])
def test_alias_names_mlflow_allows(alias):
    assert checks.check_alias_name(alias) == alias == check_alias(alias)


@pytest.mark.parametrize(
    ("alias", "words"),
    [
        ("", ["cannot be empty"]),
        (None, ["cannot be empty"]),
        (3, ["an alias is a string, not int"]),
        (
            "bad alias!",
            ["Invalid alias name: 'bad alias!' contains ' !'", "alphanumerics, underscores (_), and dashes"],
        ),
        ("a.b", ["contains '.'"]),
        ("a/b", ["contains '/'"]),
        ("x" * 256, ["alias 'xxx", "maximum length of 255 characters (it has 256)"]),
        ("latest", ["alias 'latest' is reserved", "newest version"]),
        ("LATEST", ["'LATEST' is reserved"]),
        ("Latest", ["reserved"]),
        ("v3", ["alias 'v3' is reserved", "'v<number>'"]),
        ("V12", ["'V12' is reserved"]),
    ],
)
def test_alias_names_mlflow_refuses(alias, words):
    refused(lambda: checks.check_alias_name(alias), *words)
    refused(lambda: check_alias(alias), *words)


def test_all_digit_aliases_are_refused_because_at_3_means_version_3():
    refused(lambda: check_alias("3"), "alias '3'", "may not be all digits")
    assert checks.check_alias_name("3") == "3"  # MLflow itself allows it


# -- logged models and datasets -------------------------------------------------------------------


def test_logged_model_names():
    checks.check_logged_model_name(None)  # one is made up
    checks.check_logged_model_name("reco-model_2")
    for bad in ("", "a/b", "a:b", "a.b", "a%b", 'a"b', "a'b", 5):
        refused(
            lambda bad=bad: checks.check_logged_model_name(bad),
            f"Invalid model name ({bad!r})",
            "non-empty string without any of / : . % \" '",
        )


def _dataset(**fields):
    base = {
        "name": "orders",
        "digest": "d" * 36,
        "source_type": "delta",
        "source": "main.shop.orders",
        "schema": None,
        "profile": None,
    }
    return SimpleNamespace(**{**base, **fields})


def test_dataset_inputs_up_to_the_limits_pass():
    checks.check_dataset_input(
        _dataset(name="n" * 500, source="s" * 65_535, schema="s" * 1_048_575, profile="p" * 16_777_215),
        {"k" * 255: "v" * 500},
    )


@pytest.mark.parametrize(("field", "limit"), sorted(checks.MAX_DATASET_LENGTHS.items()))
def test_dataset_fields_over_their_limits_are_refused(field, limit):
    refused(
        lambda: checks.check_dataset_input(_dataset(**{field: "x" * (limit + 1)}), {}),
        f"its {field} exceeds the maximum length of {limit} characters",
    )


def test_missing_dataset_fields_and_bad_input_tags_are_refused():
    refused(lambda: checks.check_dataset_input(None, {}), "needs a dataset")
    for field in ("name", "digest", "source_type", "source"):
        refused(
            lambda field=field: checks.check_dataset_input(_dataset(**{field: None}), {}), f"its {field} is missing"
        )
    refused(lambda: checks.check_dataset_input(_dataset(digest=5), {}), "its digest must be a string")
    refused(
        lambda: checks.check_dataset_input(_dataset(), {"k" * 256: "v"}),
        "dataset 'orders': input tag key",
        "maximum length of 255",
    )
    refused(
        lambda: checks.check_dataset_input(_dataset(), {"context": "v" * 501}),
        "the value of input tag 'context'",
        "maximum length of 500",
    )
    refused(lambda: checks.check_dataset_input(_dataset(), {"context": None}), "input tag 'context' needs a key")


def test_the_checks_do_not_import_mlflow():
    code = (
        "import sys, glashaus.mlflow_checks as c; c.check_alias_name('champion'); "
        "print(sorted(m for m in sys.modules if m == 'mlflow' or m.startswith('mlflow.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": ":".join(sys.path)}
    )
    assert out.stdout.strip() == "[]"


# -- run names ------------------------------------------------------------------------------------


def test_memorable_run_names_are_adjective_noun_number():
    names = {memorable_name() for _ in range(200)}
    assert len(names) > 150  # repeats are rare
    for name in names:
        adjective, noun, number = re.fullmatch(r"([a-z]+)-([a-z]+)-(\d{1,3})", name).groups()
        assert adjective in ADJECTIVES and noun in NOUNS and 0 <= int(number) <= 999
    assert memorable_name(rng=random.Random(1)) == memorable_name(rng=random.Random(1))


# -- models:/ URIs (registry/refs.py, the one parser) ---------------------------------------------


def test_models_uris_name_a_logged_model_or_a_registered_version():
    assert logged_model_id("models:/m-0123456789abcdef") == "m-0123456789abcdef"
    for uri in (
        "models:/main.shop.reco",
        "models:/main.shop.reco/3",
        "models:/main.shop.reco@champion",
        "models:/main.shop.reco/latest",
        "runs:/abc/model",
        "main.shop.reco",
    ):
        assert logged_model_id(uri) is None, uri
    assert parse_ref("models:/main.shop.reco/3").version == 3
    assert parse_ref("models:/main.shop.reco@champion").alias == "champion"
    latest = parse_ref("models:/main.shop.reco/latest")
    assert (latest.name.full, latest.version, latest.alias) == ("main.shop.reco", None, None)
    assert str(parse_ref("models:/main.shop.reco")) == "main.shop.reco/latest"


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("models:/main.shop.reco/Production", "a version number or 'latest'"),
        ("models://profile/main.shop.reco/1", "not a models:/ URI of this server"),
        ("models:main.shop.reco", "not a models:/ URI of this server"),
        ("models:/", "names no model"),
        ("models:/main.shop.reco@latest", "reserved"),
        ("models:/main.shop.reco@bad!", "contains '!'"),
    ],
)
def test_malformed_models_uris_are_refused(uri, words):
    with pytest.raises((InvalidNameError, InvalidArgumentError), match=re.escape(words)):
        parse_ref(uri)
