"""Run logging, in one place: the training run (params, metrics, tables, figures, model card,
report), the scoring run (counts and drift) and the monitoring run (promised against realised
conversion).

The training run is opened before training starts, so its duration is the training's and a crash
leaves a FAILED run with the error, and it records its input data with `mlflow.log_input`.

A training run records what a reviewer needs to trust or reproduce it: the data fingerprint and
git commit as tags, the config and row counts as params, every metric, the quality tables as CSV
and MLflow tables, the figures and the model card. Nothing here decides anything.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mlflow.data.pandas_dataset import PandasDataset

from pipeline.config import EXPERIMENT, Config
from pipeline.evaluation import plots as qp
from pipeline.evaluation.gate import GateResult, target_definition
from pipeline.explain.fields import with_context
from pipeline.explain.plots import field_figures, importance_bar, shap_beeswarm
from pipeline.monitoring.drift import drift_metrics
from pipeline.monitoring.monitor import Monitored
from pipeline.report.card import model_card, split_sentence
from pipeline.report.fmt import field_namer
from pipeline.serving.outputs import ScoreSummary
from pipeline.tracking.recovery import process_tags
from pipeline.tracking.store import (
    SCORING_EXPERIMENT,
    experiment_id,
    fingerprint,
    git_commit,
    log_dict_artifact,
)
from pipeline.training.train import TrainResult

TRAINING_DESCRIPTION = (
    "Training run of lead-scoring: features as of each snapshot, LightGBM, calibration, MQL/SQL "
    "cutoffs, evaluation against baselines on held-out leads, promotion gate, registration. "
    "Open report.html for the plain-language summary."
)


def training_description(cfg: Config, info: dict) -> str:
    """The run's description once the split is known: it names the split it used (a random
    split is never called out-of-time)."""
    return f"{TRAINING_DESCRIPTION} Data: {cfg.data.leads}. Test split: {split_sentence(info)}."


def training_run(cfg: Config) -> mlflow.ActiveRun:
    """Open the training run (use as a context manager: an exception ends it FAILED)."""
    return mlflow.start_run(
        run_name="train",
        description=f"{TRAINING_DESCRIPTION} Data: {cfg.data.leads}.",
        tags=process_tags(),  # host and pid: a later start can tell a killed run from a live one
    )


def input_fingerprint(cfg: Config) -> str:
    return fingerprint([cfg.data.leads, cfg.data.activities, cfg.data.outcomes])


def log_training_data(cfg: Config, leads: pd.DataFrame) -> None:
    """The training leads as an MLflow dataset (schema and profile only, no rows are uploaded):
    the configured feature columns (flags included) plus outcome, never the PII columns; digest =
    the input fingerprint."""
    cols = [c for c in cfg.schema.feature_columns() if c in leads.columns]
    frame = (
        leads[cols]
        .assign(converted=leads["_label"], created_at=leads["_created_at"])
        .reset_index(drop=True)
    )
    source, name = str(Path(cfg.data.leads).resolve()), Path(cfg.data.leads).name
    mlflow.log_input(leads_dataset(frame, source, name, input_fingerprint(cfg)), context="training")


def leads_dataset(frame: pd.DataFrame, source: str, name: str, digest: str) -> PandasDataset:
    """An MLflow dataset of `frame` whose schema is read off a few rows that stand for all.

    MLflow infers a schema by visiting every cell of a text column in Python (6 s at 100k
    leads). The type of a column and whether it may be empty are decided by one filled and one
    empty cell of it, so those rows give the same schema; the profile still counts every row.
    """
    with warnings.catch_warnings():  # MLflow registers two equivalent sources for local paths
        warnings.filterwarnings("ignore", "The specified dataset source", UserWarning)
        ds = mlflow.data.from_pandas(
            frame, source=source, targets="converted", name=name, digest=digest
        )
        few = mlflow.data.from_pandas(
            frame.iloc[_schema_rows(frame)], source=source, name=name, digest=digest
        )
    ds.__dict__["schema"] = few.schema  # `schema` is a cached_property: this is its cached value
    return ds


def _schema_rows(frame: pd.DataFrame) -> list[int]:
    """Positions of the first filled and the first empty cell of every column."""
    rows: set[int] = set()
    for c in frame.columns:
        empty = frame[c].isna().to_numpy()
        for mask in (~empty, empty):
            rows.update(np.flatnonzero(mask)[:1].tolist())
    return sorted(rows)


def log_report(html: str) -> None:
    """The training report, beside the run's other artifacts."""
    mlflow.log_text(html, "report.html")


def log_training_run(
    cfg: Config,
    config_path: str | Path,
    result: TrainResult,
    gate: GateResult,
    figures: Path | None = None,
) -> None:
    """Everything about one training run, into the active MLflow run. `figures`: a folder
    `draw_figures` already filled (drawn while the backtests ran); else they are drawn here."""
    result.finish()  # the backtest table and metrics are logged below
    info = result.info
    mlflow.set_tags(
        {
            "git_commit": git_commit(),
            "data_fingerprint": input_fingerprint(cfg),
            "split": info["split"],
            "calibration": info["calibration"],
            "mlflow.note.content": training_description(cfg, info),  # the run's description
            "target": target_definition(info.get("horizon_days")),
        }
    )
    mlflow.set_tag(
        "leakage_suspects",
        ",".join(s["column"] for s in info.get("leakage_suspects") or [])[:4000] or "none",
    )
    mlflow.log_params(training_params(cfg, config_path, result))
    mlflow.log_params({"rows_leads": info["rows_leads"], "rows_events": info["rows_events"]})
    log_metrics({k: v for k, v in result.metrics.items() if pd.notna(v)})
    log_dict_artifact(cfg.to_dict(), "config.json")
    log_dict_artifact(info, "training_info.json")
    mlflow.log_table(result.importance, "explain/importance_by_field.json")
    mlflow.log_text(result.importance.to_csv(index=False), "explain/importance_by_field.csv")
    log_quality(cfg, result, gate)
    with tempfile.TemporaryDirectory() as tmp:
        folder = figures or Path(tmp)
        if figures is None:
            draw_figures(result, folder)
        if "backtest" in result.extra_tables:
            chart = qp.backtest_chart(result.extra_tables["backtest"])
            save_figure(chart, folder / "evaluation" / "backtest.png")
        mlflow.log_artifacts(str(folder))  # artifact paths = paths under the folder


def training_params(cfg: Config, config_path: str | Path, result: TrainResult) -> dict:
    info = result.info
    counts = ["leads_won", "leads_lost", "leads_open", "snapshots", "rows_fit", "rows_val"]
    return {
        "config_path": str(config_path),
        "seed": cfg.training.seed,
        "snapshot_days": ",".join(map(str, cfg.training.snapshot_days)),
        "calibration": info["calibration"],
        "candidate": info.get("candidate", "lightgbm"),  # the model that won on validation
        "candidate_logistic_fit_rows": info.get("candidate_logistic_fit_rows", 0),
        "context_in_model": info.get("context_in_model", "none"),  # schema.context: use/leave_out
        "horizon_days": info.get("horizon_days") or "none",  # label: won within N days
        # the backtests' label rule used (as_known_then, at_export; none when off) and asked for
        "backtest_outcomes": info.get("backtest_outcomes", "none"),
        "backtest_outcomes_config": cfg.training.backtest_outcomes,
        "segments_column": info.get("segments_column") or "none",
        "segments_own": ",".join(info.get("segments_own") or []) or "none",  # own model serves
        "n_features": info["n_features"],
        **{k: info[k] for k in counts},
        "rows_test_leads": info["rows_test_leads"],
        **{f"lgbm_{k}": v for k, v in cfg.training.lightgbm.model_dump().items()},
        "sql_rule": result.scorer.cutoffs.sql_rule,
        "mql_rule": result.scorer.cutoffs.mql_rule,
        "engine": info.get("engine", "local"),  # training.engine; dask: its cluster below
        **{k: v for k, v in info.items() if k.startswith("dask_")},
    }


_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def metric_key(name: str) -> str:
    """An MLflow metric key for a name made from an export's column (`psi_Annual Revenue ($)`):
    ASCII letters, digits, `_`, `.` and `-` only, at most 200 characters; the column's own name
    stays in the logged tables (drift/psi.json)."""
    key = _KEY_UNSAFE.sub("_", name).strip("_./-")[:200]
    return key or "metric"


def log_metrics(metrics: dict[str, float]) -> None:
    """`mlflow.log_metrics` with every key made safe; keys that clean to the same text get
    `_2`, `_3`... in order, so no value replaces another."""
    safe: dict[str, float] = {}
    for name, value in metrics.items():
        key = base = metric_key(name)
        n = 1
        while key in safe:
            n += 1
            key = f"{base}_{n}"
        safe[key] = value
    mlflow.log_metrics(safe)


def log_quality(cfg: Config, result: TrainResult, gate: GateResult | None) -> None:
    """The quality tables, the gate decision and the model card, into the active run."""
    for name, df in result.extra_tables.items():
        mlflow.log_text(df.to_csv(index=False), f"evaluation/{name}.csv")
        mlflow.log_table(df.replace({np.nan: None}), f"evaluation/{name}.json")
    if gate is not None:
        log_metrics({k: v for k, v in gate.metrics().items() if pd.notna(v)})
        mlflow.set_tags(
            {"gate_passed": str(gate.passed).lower(), "gate_reason": gate.reason[:4000]}
        )
    mlflow.log_text(model_card(cfg, result, gate), "model_card.md")


def draw_figures(result: TrainResult, folder: Path) -> None:
    """Every figure that needs no backtest, as PNG files under `folder` by artifact path
    (`mlflow.log_figure` would save them the same way, one by one)."""
    for name, fig in training_figures(result).items():
        save_figure(fig, folder / name)


def save_figure(fig: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def training_figures(result: TrainResult) -> dict[str, Figure]:
    """Every figure of a training run but the backtest chart, by artifact path."""
    p = result.test_predictions
    y, prob = p["label"].to_numpy(), p["probability"].to_numpy()
    cut = result.scorer.cutoffs
    schema = result.scorer.meta.get("schema") or {}
    label, ff = field_namer(schema), result.scorer.builder.feature_fields
    figs = {
        "explain/importance_by_field.png": importance_bar(result.importance, label=label),
        "evaluation/reliability.png": qp.reliability(y, prob),
    }
    if result.shap_sample is not None:
        contrib, X = result.shap_sample
        figs["explain/shap_beeswarm.png"] = shap_beeswarm(contrib, X, 20, ff, label)
        # the period's columns are one field here as in the report's drivers and the reasons
        figs.update(field_figures(contrib, X, with_context(ff, schema.get("context")), label))
    figs["evaluation/gain_lift.png"] = qp.gain_lift(y, prob, p["points"].to_numpy())
    figs["evaluation/precision_recall.png"] = qp.precision_recall(y, prob, cut.sql, cut.mql)
    figs["evaluation/score_distribution.png"] = qp.score_distribution(y, prob, cut.sql, cut.mql)
    return figs


def log_scoring_run(
    summary: ScoreSummary, model_uri: str, seconds: float, leads_path: Path, engine: str = "local"
) -> str:
    """Log a scoring run (experiment `lead-scoring-scoring`) with its PSI metrics and drift table.

    The PSI metrics follow the warnings' rule (`monitoring.drift.drift_metrics`): a feature the
    served model does not read has no `psi_<feature>`, the `schema.context` columns are one
    `psi_market_conditions` when it reads them. `features_drifted` is logged only when the run
    had enough leads for drift to mean something (`drift_checked` says which); the PSI values
    and the whole table are kept either way."""
    exp = experiment_id(SCORING_EXPERIMENT)
    with mlflow.start_run(run_name="score", experiment_id=exp, tags=process_tags()) as run:
        tags = {"model_uri": model_uri, "model_version": summary.model_version, "engine": engine}
        if summary.run_id:
            tags["scores_run_id"] = summary.run_id  # the run_id column of a database output
        mlflow.set_tags(tags)
        mlflow.log_params({"leads_file": leads_path.name, "output": str(summary.output)})
        metrics = {
            "rows_scored": float(summary.n_scored),
            "rows_rejected": float(summary.n_rejected),
            "seconds": float(seconds),
            **{f"stage_{k}": float(v) for k, v in summary.stages.items()},
        }
        drift = summary.drift
        if drift is not None and len(drift):
            # per feature only what the model reads; the market conditions as one value
            said, tags = drift_metrics(drift, summary.drift_checked)
            metrics.update(said)
            mlflow.set_tags(tags)
            mlflow.log_table(drift, "drift/psi.json")  # every feature, with used/market_condition
        log_metrics(metrics)
        return run.info.run_id


def log_monitor_run(done: Monitored, outcomes: Path, scores: str) -> str:
    """Log promised against realised conversion per stage and per grade (experiment
    `lead-scoring-scoring`): `realised_<stage>`, `promised_<stage>`, `with_outcome_<stage>`;
    with grades `grade_<G>_conversion`, `grade_<G>_expected`, `grade_<G>_with_outcome`,
    `grade_<G>_won` and `grades_out_of_order` (1 when the order warning was raised)."""
    with mlflow.start_run(
        run_name="monitor", experiment_id=experiment_id(SCORING_EXPERIMENT)
    ) as run:
        mlflow.log_params({"outcomes_file": outcomes.name, "scores_file": scores})
        metrics = {}
        for r in done.stages.itertuples():
            if pd.notna(r.realised_conversion):
                metrics[f"realised_{r.stage}"] = float(r.realised_conversion)
                metrics[f"promised_{r.stage}"] = float(r.promised_conversion)
                metrics[f"with_outcome_{r.stage}"] = float(r.with_outcome)
        if done.grades is not None:
            metrics.update(grade_metrics(done.grades))
            metrics["grades_out_of_order"] = float(bool(done.warnings))
            mlflow.log_table(done.grades, "monitor/realised_by_grade.json")
        log_metrics(metrics)
        mlflow.log_table(done.stages, "monitor/realised_vs_promised.json")
        return run.info.run_id


def grade_metrics(grades: pd.DataFrame) -> dict[str, float]:
    """Per grade with an outcome: realised and expected conversion, leads with an outcome, won."""
    out = {}
    for r in grades.itertuples():
        if pd.notna(r.realised_conversion):
            out[f"grade_{r.grade}_conversion"] = float(r.realised_conversion)
            out[f"grade_{r.grade}_expected"] = float(r.expected_conversion)
            out[f"grade_{r.grade}_with_outcome"] = float(r.with_outcome)
            out[f"grade_{r.grade}_won"] = float(r.won)
    return out


def latest_training_run(experiment: str = EXPERIMENT) -> pd.Series:
    """The most recent finished training run (scoring and monitoring runs are left out)."""
    found = mlflow.search_runs(
        experiment_names=[experiment],
        filter_string="attributes.status = 'FINISHED' and attributes.run_name = 'train'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if found.empty:
        raise LookupError(f"no finished run in experiment '{experiment}'; run 'make train'")
    return found.iloc[0]


def artifact_path(run_id: str, path: str) -> Path:
    """Local path of one artifact of a run (downloaded from the store if it is remote)."""
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path))
