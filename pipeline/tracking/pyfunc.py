"""The pyfunc model: how the fitted `LeadScorer` travels through the registry and back.

One registered model, `lead-scoring`. The pyfunc model carries the whole fitted `LeadScorer` as a
joblib artifact plus this package's code, so a server or a Spark worker scores exactly as training
did. Loading resolves aliases with a message that says which command fixes a missing one.
"""

from __future__ import annotations

import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

from pipeline.errors import RegistryError
from pipeline.tracking import serve
from pipeline.tracking.store import MODEL_NAME, PACKAGE_DIR, tracking_uri

RUNTIME_PACKAGES = [
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "lightgbm",
    "mlflow",
    "joblib",
    "pydantic",
    "pyyaml",
    "shap",
    "matplotlib",
    "typer",
    "rich",
]


class LeadScoringModel(mlflow.pyfunc.PythonModel):
    """Pyfunc wrapper: leads in (the export's column names), calibrated probabilities out.

    Params: `as_of` (ISO time, default now), `explain` (also return score, stage and reasons),
    `n_reasons`, `on_error` ("row": a bad record gets `error`, "raise": the request fails).
    Activities can travel with each lead as an `activities` column holding a list (or JSON
    string) of {"type": ..., "occurred_at": ...}; the batch scorer passes its events table to the
    unwrapped `scorer` instead, which is the same code (pipeline.serving.rest).
    """

    def load_context(self, context: Any) -> None:
        self.scorer = joblib.load(context.artifacts["scorer"])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        return serve.predict(self.scorer, model_input, params)


def signature() -> ModelSignature:
    return ModelSignature(
        inputs=None,
        outputs=Schema([ColSpec("double", "probability")]),
        params=ParamSchema(
            [
                ParamSpec("as_of", "string", ""),
                ParamSpec("explain", "boolean", False),
                ParamSpec("n_reasons", "long", 3),
                ParamSpec("on_error", "string", "row"),
            ]
        ),
    )


def pip_requirements() -> list[str]:
    """Exact versions of what the scorer imports: no environment inference, no surprise upgrades."""
    return [f"{p}=={metadata.version(p)}" for p in RUNTIME_PACKAGES]


def log_model_version(scorer: Any, tags: dict[str, str] | None = None) -> tuple[str, str]:
    """Log the pyfunc model in the active run and register it; returns (version, model URI)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scorer.joblib"
        joblib.dump(scorer, path, compress=3)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=LeadScoringModel(),
            artifacts={"scorer": str(path)},
            code_paths=[str(PACKAGE_DIR)],
            pip_requirements=pip_requirements(),
            signature=signature(),
            registered_model_name=MODEL_NAME,
        )
    version = str(info.registered_model_version)
    if tags:
        client = MlflowClient()
        for k, v in tags.items():
            client.set_model_version_tag(MODEL_NAME, version, k, v)
    return version, info.model_uri


def resolve_model_version(uri: str) -> str:
    """The registry version behind a models:/ URI (by alias or number); else the URI itself."""
    if uri.startswith("models:/"):
        rest = uri.removeprefix("models:/")
        client = MlflowClient()
        try:
            if "@" in rest:
                name, alias = rest.split("@", 1)
                return str(client.get_model_version_by_alias(name, alias).version)
            name, _, ver = rest.partition("/")
            return str(client.get_model_version(name, ver).version)
        except MlflowException:
            raise RegistryError(_not_found_hint(client, uri)) from None
    return uri


def _not_found_hint(client: MlflowClient, uri: str) -> str:
    """Why a models:/ URI does not resolve, and the command that fixes it."""
    try:
        versions = client.search_model_versions(f"name='{MODEL_NAME}'")
    except MlflowException:
        versions = []
    if not versions:
        return f"model '{uri}' not found in {tracking_uri()}; run 'leadscore train' first"
    latest = max(versions, key=lambda v: int(v.version))
    why = latest.tags.get("gate_reason") if latest.tags else None
    why = (
        f" (latest version {latest.version}: {why})"
        if why
        else f" (latest version {latest.version})"
    )
    return (
        f"model '{uri}' not found in {tracking_uri()}: no version holds that alias{why}; "
        f"promote one with 'leadscore promote {latest.version}' or pass "
        f"--model-uri models:/{MODEL_NAME}/{latest.version}"
    )


def load_scorer(uri: str) -> tuple[Any, str]:
    """Load the pyfunc model at `uri` and return its LeadScorer and the registry version."""
    version = resolve_model_version(uri)
    try:
        model = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as e:
        raise RegistryError(f"cannot load model '{uri}': {str(e).splitlines()[0]}") from None
    return model.unwrap_python_model().scorer, version


def spark_udf(spark: Any, uri: str, result_type: Any, params: dict) -> Any:
    """The registered model as a Spark UDF in the current environment (nothing is downloaded)."""
    return mlflow.pyfunc.spark_udf(
        spark, uri, result_type=result_type, env_manager="local", params=params
    )
