"""MLflow: tracking URI, the pyfunc wrapper, logging a training run, and the registry aliases.

One registered model, `lead-scoring`; the alias `champion` serves scoring and `challenger` points at
the latest trained version. The pyfunc model carries the whole fitted `LeadScorer` as a joblib
artifact plus this package's code, so a server or a Spark worker scores exactly as training did.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.models import ModelSignature  # noqa: E402
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema  # noqa: E402

EXPERIMENT = "lead-scoring"
MODEL_NAME = "lead-scoring"
CHAMPION = "champion"
CHALLENGER = "challenger"
DEFAULT_URI = "sqlite:///models/mlflow.db"
PACKAGE_DIR = Path(__file__).resolve().parent
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


class RegistryError(RuntimeError):
    """A model URI or alias that cannot be resolved; the message says what to do."""


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI


def artifact_root() -> str:
    """Artifacts live beside the sqlite store, under models/, unless a server decides."""
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        return (db.parent.resolve() / "artifacts").as_uri()
    return ""


def setup() -> MlflowClient:
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    if client.get_experiment_by_name(EXPERIMENT) is None:
        root = artifact_root()
        client.create_experiment(EXPERIMENT, artifact_location=root or None)
    mlflow.set_experiment(EXPERIMENT)
    return client


class LeadScoringModel(mlflow.pyfunc.PythonModel):
    """Pyfunc wrapper: leads in (the export's column names), calibrated probabilities out.

    Params: `as_of` (ISO time, default now), `explain` (also return score, stage and reasons),
    `n_reasons`. Activities can travel with each lead as an `activities` column holding a list (or
    JSON string) of {"type": ..., "occurred_at": ...}; the batch scorer passes its events table to
    the unwrapped `scorer` instead, which is the same code.
    """

    def load_context(self, context: Any) -> None:
        self.scorer = joblib.load(context.artifacts["scorer"])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        from pipeline.score import events_from_column, prepare_leads

        params = params or {}
        as_of = pd.Timestamp(params.get("as_of") or pd.Timestamp.now(tz="UTC").tz_localize(None))
        leads = prepare_leads(model_input, self.scorer)
        events = events_from_column(model_input, leads.index)
        n_reasons = int(params.get("n_reasons", 3)) if params.get("explain") else 0
        out = self.scorer.score(
            leads, events, np.full(len(leads), as_of.to_datetime64()), n_reasons
        )
        if not params.get("explain"):
            return out[["probability"]].reset_index(drop=True)
        return out.reset_index()


def signature() -> ModelSignature:
    return ModelSignature(
        inputs=None,
        outputs=Schema([ColSpec("double", "probability")]),
        params=ParamSchema(
            [
                ParamSpec("as_of", "string", ""),
                ParamSpec("explain", "boolean", False),
                ParamSpec("n_reasons", "long", 3),
            ]
        ),
    )


def pip_requirements() -> list[str]:
    """Exact versions of what the scorer imports: no environment inference, no surprise upgrades."""
    return [f"{p}=={metadata.version(p)}" for p in RUNTIME_PACKAGES]


def fingerprint(paths: list[str | Path | None]) -> str:
    """A hash of the input files, so a run says exactly which export it learned from."""
    h = hashlib.sha256()
    for p in paths:
        if p and Path(p).exists():
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()[:16]


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=PACKAGE_DIR, timeout=5
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


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


def log_dict_artifact(obj: Any, name: str) -> None:
    mlflow.log_text(json.dumps(obj, indent=2, default=str), name)


def get_alias_version(client: MlflowClient, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(MODEL_NAME, alias).version)
    except MlflowException:
        return None


def set_alias(client: MlflowClient, alias: str, version: str) -> None:
    client.set_registered_model_alias(MODEL_NAME, alias, version)


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
