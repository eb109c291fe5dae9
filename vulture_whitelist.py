"""Names vulture (`python -m vulture`, configured in pyproject.toml) cannot see used: each is
called by a framework or by the notebooks, never by name inside `pipeline/`. An entry says who
uses it; dead code is deleted, not listed here. Vulture reads this file; nothing imports it."""

from vulture.whitelist_utils import Whitelist

from pipeline import cli, config, notebook
from pipeline.modeling import booster, logistic, scorer, segmented
from pipeline.tracking import pyfunc, rest_app

parameter = Whitelist()  # vulture matches by name: a parameter is listed as an attribute of this

_ = (
    # LightGBM's classifier reads `_best_iteration` (its `best_iteration_`); the Dask engine sets
    # it on the booster brought back from the cluster (pipeline/training/distributed.py)
    parameter._best_iteration,
    # Typer commands: Click calls them from the `leadscore` command line
    cli.validate,
    cli.gate_show,
    cli.gate_set,
    cli.grades_show,
    cli.grades_set,
    # pydantic runs the validators of the model they decorate and reads `model_config`
    config.SqlTarget._one,
    config.GateConfig._off,
    config.GradeFloors._ordered,
    config.OutcomeConfig._listify,
    config.ColumnLabel._strings,
    config.SchemaConfig._context_is_features,
    config.Config.model_config,
    # scikit-learn calls `get_feature_names_out(input_features)` on the steps of a pipeline
    # (their `input_features` parameter is sklearn's signature; the names are the ones seen by fit)
    booster.CategoryEncoder.get_feature_names_out,
    logistic.FrameCleaner.get_feature_names_out,
    parameter.input_features,
    # the Scorer protocol's log-odds before calibration, which `contributions` add up to (with
    # the base value); tests/explain/test_reasons.py checks that sum
    scorer.Scorer.raw_scores,
    scorer.LeadScorer.raw_scores,
    segmented.SegmentedScorer.raw_scores,
    # read back from the pickled state by `__setstate__`, never as an attribute
    scorer.LeadScorer.format_version,
    segmented.SegmentedScorer.format_version,
    # MLflow calls `load_context` when it loads the pyfunc model
    pyfunc.LeadScoringModel.load_context,
    # FastAPI calls the middleware `@app.middleware("http")` registers
    rest_app.guard,
    # the notebooks (notebooks/*.ipynb) call these helpers
    notebook.workspace,
    notebook.Workspace.describe,
    notebook.conversion_by,
    notebook.activity_by_outcome,
    notebook.latest_run,
    notebook.run_artifact,
)
