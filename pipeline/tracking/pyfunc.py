"""The pyfunc model: how the fitted `LeadScorer` travels through the registry and back.

One registered model, `lead-scoring`. The pyfunc model is logged from code (`model_code.py`, no
pickled wrapper) and carries the whole fitted `LeadScorer` as a joblib artifact plus this
package's code, so a server or a Spark worker scores exactly as training did. Its signature lists
the export columns it reads; its input example is synthetic. Loading resolves aliases with a
message that says which command fixes a missing one.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import tempfile
import urllib.parse
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types.schema import AnyType, ColSpec, ParamSchema, ParamSpec, Schema

from pipeline.errors import ModelFormatError, RegistryError
from pipeline.tracking import grades, serve
from pipeline.tracking.store import MODEL_NAME, PACKAGE_DIR, tracking_uri

MODEL_CODE = Path(__file__).with_name("model_code.py")

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
    "numba",
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
        self.version = registered_version(Path(context.artifacts["scorer"]).parents[1])
        self.scorer = load_artifact(context.artifacts["scorer"], self.version)
        current_floors(self.scorer)
        self.scorer.warm_up()  # SHAP tables and compiled walk now, not in the first request

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        return serve.predict(self.scorer, model_input, params, self.version)


def load_artifact(path: str | Path, version: str) -> Any:
    """The pickled `LeadScorer`; one line, not a traceback, when an older leadscore pickled it in
    a layout this code does not read (the scorer checks its `format_version` as it unpickles)."""
    try:
        return joblib.load(path)
    except ModelFormatError as e:
        raise RegistryError(
            f"model v{version} was registered by an older leadscore (format {e.found}); "
            "retrain it with `leadscore train`"
        ) from None
    except (ModuleNotFoundError, AttributeError) as e:
        # a class the pickle names has moved or gone: a layout this code does not read
        missing = e.name if isinstance(e, ModuleNotFoundError) else str(e)
        if "pipeline" not in (missing or ""):
            raise
        raise RegistryError(
            f"model v{version} was registered by an older leadscore (its classes have moved); "
            "retrain it with `leadscore train`"
        ) from None


def registered_version(model_dir: Path) -> str:
    """The registry version of the model in `model_dir`, looked up once at load time.

    The version number does not exist yet when the model is logged, so it cannot be written into
    the model; the model's run id (in its MLmodel file) finds it in the registry. Without a
    reachable registry (a copied model folder, no tracking store) the answer says 'unknown'.
    """
    try:
        run_id = mlflow.models.Model.load(str(model_dir)).run_id
        uri = tracking_uri()
        db = uri.removeprefix("sqlite:///")
        if not run_id or (uri.startswith("sqlite:///") and not Path(db).exists()):
            return "unknown"
        found = MlflowClient(uri, uri).search_model_versions(
            f"name='{MODEL_NAME}' and run_id='{run_id}'"
        )
    except (MlflowException, OSError):
        return "unknown"
    return str(max(int(v.version) for v in found)) if found else "unknown"


def input_schema(scorer: Any) -> Schema:
    """The export's columns the model reads: lead id and categorical fields as strings, numeric
    fields as doubles (yes/no flags as strings), and the optional ones marked so."""
    sc = scorer.meta["schema"]
    cols = [ColSpec("string", sc["lead_id"])]
    cols += [ColSpec("string", c) for c in scorer.builder.categorical]
    flags = set(sc.get("flags") or [])
    cols += [ColSpec("string" if c in flags else "double", c) for c in scorer.builder.numeric]
    for c in (sc.get("created_at"), sc.get("email")):
        if c:
            cols.append(ColSpec("string", c, required=False))
    cols.append(ColSpec(AnyType(), "activities", required=False))
    return Schema(cols)


def input_example(scorer: Any, X: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """A few synthetic rows without PII: ids made up, categorical and numeric values taken from
    the training feature frame (never a name, email or phone), activities as a JSON list."""
    sc = scorer.meta["schema"]
    rows = X.head(n).reset_index(drop=True)
    ex = pd.DataFrame({sc["lead_id"]: [f"example-{i + 1}" for i in range(len(rows))]})
    for c in scorer.builder.categorical:
        ex[c] = rows[c].astype("string").astype(object).where(rows[c].notna(), None)
    flags = set(sc.get("flags") or [])
    for c in scorer.builder.numeric:
        ex[c] = rows[c].map({1: "yes", 0: "no"}) if c in flags else rows[c].astype(float)
    event = [
        {"type": t, "occurred_at": "2026-01-01 10:00:00"}
        for t in scorer.builder.activity_types_[:1]
    ]
    ex["activities"] = [json.dumps(event if i % 2 == 0 else []) for i in range(len(ex))]
    return ex


def signature(scorer: Any) -> ModelSignature:
    return ModelSignature(
        inputs=input_schema(scorer),
        outputs=Schema([ColSpec("double", "probability"), ColSpec("string", "model_version")]),
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


def log_model_version(
    scorer: Any, example: pd.DataFrame, tags: dict[str, str] | None = None
) -> tuple[str, str]:
    """Log the pyfunc model (from code) in the active run and register it; returns (version,
    model URI). `example` is the synthetic input example (see `input_example`); `tags` are set
    on the version as it is created (the gate's pending `gate_reason` among them)."""
    with tempfile.TemporaryDirectory() as tmp, _quiet("mlflow"):
        path = Path(tmp) / "scorer.joblib"
        joblib.dump(scorer, path, compress=3)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(MODEL_CODE),
            artifacts={"scorer": str(path)},
            code_paths=[str(PACKAGE_DIR)],
            pip_requirements=pip_requirements(),
            signature=signature(scorer),
            input_example=example,
        )
        # registered with its tags in one call (one transaction): no version without them.
        # MLflow prints "Successfully registered model ..." / "Created version ..." straight to
        # stderr; `train` says the same in its own first line.
        debug = os.environ.get("LEADSCORE_DEBUG")
        with contextlib.nullcontext() if debug else contextlib.redirect_stderr(io.StringIO()):
            mv = mlflow.register_model(info.model_uri, MODEL_NAME, tags=tags or None)
    return str(mv.version), info.model_uri


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """No INFO chatter from MLflow while a model is logged (uv detection, the input example check).
    Never lowers the level: with MLflow held at ERROR (the default, see `pipeline.tracking`), its
    "Failed to resolve installed pip version" (uv venvs have no pip) stays off the terminal too."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(max(logging.WARNING, log.getEffectiveLevel()))
    try:
        yield
    finally:
        log.setLevel(level)


def resolve_model_version(uri: str) -> str:
    """The registry version behind a models:/ URI (by alias or number); else the URI itself."""
    if uri.startswith("models:/"):
        rest = uri.removeprefix("models:/")
        client = MlflowClient()
        name = rest.split("@", 1)[0] if "@" in rest else rest.partition("/")[0]
        try:
            if "@" in rest:
                return str(client.get_model_version_by_alias(name, rest.split("@", 1)[1]).version)
            return str(client.get_model_version(name, rest.partition("/")[2]).version)
        except MlflowException:
            raise RegistryError(_not_found_hint(client, uri, name)) from None
    return uri


def _not_found_hint(client: MlflowClient, uri: str, name: str = MODEL_NAME) -> str:
    """Why a models:/ URI does not resolve, and the command that fixes it: an unknown model name
    lists the names there, never another model's versions."""
    try:
        names = sorted(m.name for m in client.search_registered_models())
        versions = client.search_model_versions(f"name='{name}'") if name in names else []
    except MlflowException:
        names, versions = [], []
    if name not in names:
        there = f"registered models: {', '.join(names[:10])}" if names else "no model is registered"
        fix = "run 'leadscore train' first" if not names else f"use models:/{MODEL_NAME}@champion"
        return f"no model named '{name[:60]}' in {tracking_uri()} ({there}); {fix}"
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
        f"--model-uri models:/{name}/{latest.version}"
    )


def load_scorer(uri: str) -> tuple[Any, str]:
    """Load the pyfunc model at `uri` and return its LeadScorer and the registry version, grading
    with the registry's current floors (`leadscore grades set` reaches every version)."""
    version = resolve_model_version(uri)
    scorer = load_model(uri).unwrap_python_model().scorer
    if uri.startswith("models:/"):
        floors, _ = grades.stored_floors(MlflowClient())
        if floors is not None:
            scorer.meta["grades"] = floors.model_dump()
    return scorer, version


def current_floors(scorer: Any) -> None:
    """A served model (REST, Spark workers) grades with the registry's floors when the registry
    answers, else with those it was registered with (a copied model folder)."""
    uri = tracking_uri()
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return
    try:
        floors, _ = grades.stored_floors(MlflowClient(uri, uri))
    except (MlflowException, RegistryError, OSError):
        return
    if floors is not None:
        scorer.meta["grades"] = floors.model_dump()


LOCAL_SCHEMES = frozenset({"", "models", "runs", "file"})  # read by MLflow with what we ship
CLIENTS = {"s3": "boto3", "gs": "google-cloud-storage", "wasbs": "azure-storage-blob"}


def load_model(uri: str) -> Any:
    """The pyfunc model at `uri`; a model that cannot be loaded is one line. A remote URI
    (s3://, http://, ...) fails in MLflow's artifact clients in many ways (a client package not
    installed, a server that does not answer or is not an artifact server): each is one line
    naming the scheme, and the URI without any user or password in it."""
    scheme = urllib.parse.urlsplit(uri).scheme.lower()
    try:
        return mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as e:
        raise RegistryError(f"cannot load model '{_shown(uri)}': {_first(e)}") from None
    except ImportError as e:
        package = CLIENTS.get(scheme, getattr(e, "name", None) or "its client")
        raise RegistryError(
            f"cannot load model '{_shown(uri)}': a {scheme}:// URI needs the '{package}' package, "
            "which is not installed; install it, or copy the model to a local folder"
        ) from None
    except Exception as e:  # noqa: BLE001 - remote artifact clients raise anything
        if scheme in LOCAL_SCHEMES:
            raise
        raise RegistryError(
            f"cannot load model '{_shown(uri)}': the {scheme}:// location cannot be read as an "
            f"MLflow model ({type(e).__name__}: {_first(e)}); check the URI and that it answers"
        ) from None


def _shown(uri: str) -> str:
    """`uri` without user and password (a remote URI may carry them)."""
    parts = urllib.parse.urlsplit(uri)
    if "@" not in parts.netloc:
        return uri[:200]
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()[:200]


def _first(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:200]


def spark_udf(spark: Any, uri: str, result_type: Any, params: dict) -> Any:
    """The registered model as a Spark UDF in the current environment (nothing is downloaded)."""
    return mlflow.pyfunc.spark_udf(
        spark, uri, result_type=result_type, env_manager="local", params=params
    )
