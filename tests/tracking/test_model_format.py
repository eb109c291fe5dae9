"""The registered artifact carries its format: a current model loads through the registry and
scores; one pickled by an older leadscore (no `format_version`, the builder's learned state
without `_`) is refused with one line naming the version and the fix, not an AttributeError."""

from __future__ import annotations

import copy

import joblib
import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.errors import RegistryError
from pipeline.modeling.scorer import FORMAT_VERSION

pytestmark = pytest.mark.slow  # trains a model and registers it

OLD_MESSAGE = (
    "model v{v} was registered by an older leadscore (format 1); retrain it with `leadscore train`"
)


def old_layout(scorer):
    """The scorer as leadscore pickled it before the format version: no `format_version`, and the
    builder's vocabulary in constructor fields without `_`."""
    old = copy.copy(scorer)
    del old.__dict__["format_version"]
    builder = copy.copy(scorer.builder)
    for name in ("activity_types", "has_time", "use_age"):
        builder.__dict__[name] = builder.__dict__.pop(f"{name}_")
    old.__dict__["builder"] = builder
    return old


def test_an_old_pickle_is_refused_in_one_line(trained, tmp_path):
    from pipeline.tracking.pyfunc import load_artifact

    result, _, _ = trained
    joblib.dump(result.scorer, tmp_path / "new.joblib")
    assert load_artifact(tmp_path / "new.joblib", "4").format_version == FORMAT_VERSION
    joblib.dump(old_layout(result.scorer), tmp_path / "old.joblib")
    with pytest.raises(RegistryError) as err:
        load_artifact(tmp_path / "old.joblib", "3")
    assert str(err.value) == OLD_MESSAGE.format(v=3)


def test_registry_loads_a_current_model_and_refuses_an_old_one(
    trained, mlflow_uri, sample_config_path, tmp_path
):
    from pipeline.tracking import pyfunc, store

    result, leads, events = trained
    store.setup()
    example = pyfunc.input_example(result.scorer, result.shap_sample[1])
    with mlflow.start_run():
        new, _ = pyfunc.log_model_version(result.scorer, example)
        old, _ = pyfunc.log_model_version(old_layout(result.scorer), example)

    scorer, version = pyfunc.load_scorer(f"models:/lead-scoring/{new}")
    assert version == new
    some = leads.head(20)
    out = scorer.score(some, events, np.full(len(some), np.datetime64("2026-06-01")))
    expected = result.scorer.score(some, events, np.full(len(some), np.datetime64("2026-06-01")))
    pd.testing.assert_frame_equal(out, expected)

    with pytest.raises(RegistryError) as err:
        pyfunc.load_scorer(f"models:/lead-scoring/{old}")
    assert str(err.value) == OLD_MESSAGE.format(v=old)

    uri = f"models:/lead-scoring/{old}"
    args = ["score", "-c", str(sample_config_path), "--model-uri", uri, "-q"]
    cli = CliRunner().invoke(app, [*args, "--output", str(tmp_path / "scores.csv")])
    assert cli.exit_code != 0
    assert "Traceback" not in cli.output and "AttributeError" not in cli.output
    assert OLD_MESSAGE.format(v=old) in cli.output
